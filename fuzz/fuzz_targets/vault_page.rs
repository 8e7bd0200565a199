//! Vault pages (pages 2 and 3): `vault::codec::decode`, a re-encode
//! round trip, and opening the decoded ciphertext with a fixed test key.
//!
//! Opening must fail cleanly (an `Err`, never a panic) for anything not
//! sealed under the test key; the committed seeds *are* sealed under it, so
//! the success path runs too, and there re-sealing the plaintext with the
//! same nonce must give back the same ciphertext and tag.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reddb::vault::codec::{self, VaultPageError, AAD, OVERHEAD};
use reddb_fuzz::test_key;

fuzz_target!(|data: &[u8]| {
    let page = match codec::decode(data) {
        Ok(page) => page,
        Err(VaultPageError::Empty) => {
            assert!(data.iter().all(|b| *b == 0));
            return;
        }
        Err(_) => return,
    };
    let used = OVERHEAD + page.ciphertext.len();
    assert!(used <= data.len(), "decoded more bytes than were present");

    // Round trip: encoding the decoded page at this size reproduces the
    // bytes it was decoded from, then zeros.
    let again = codec::encode(&page, data.len()).expect("a decoded page fits its own size");
    assert_eq!(&again[..used], &data[..used]);
    assert!(again[used..].iter().all(|b| *b == 0));
    assert_eq!(codec::decode(&again).as_ref(), Ok(&page));

    let key = &test_key();
    let mut buf = page.ciphertext.to_vec();
    if key.open(&page.nonce, AAD, &mut buf, &page.tag).is_ok() {
        let mut resealed = buf.clone();
        let tag = key.seal(&page.nonce, AAD, &mut resealed).expect("seal");
        assert_eq!(tag, page.tag);
        assert_eq!(&resealed[..], page.ciphertext);
        // A different associated data must not open it.
        let mut b = page.ciphertext.to_vec();
        assert!(key.open(&page.nonce, b"reddb-vaulT", &mut b, &page.tag).is_err());
    }
});
