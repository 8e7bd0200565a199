//! Sealed commit-log pages: `store::log::open` on raw bytes with the fixed
//! test key, plus a structure-aware seal/open property.
//!
//! Raw: any input must open to `Ok` or a typed error, never panic; the
//! committed seeds are sealed under the test key at the test file id and
//! page number, so the success path is reached and checked too.
//!
//! Structure-aware: the same input, read through `arbitrary`, gives a
//! header (seq, prev_tag, next_page, flags), a nonce, a page number and up
//! to a page's capacity of stream bytes. `log::seal` at page size 4096 then
//! `log::open` must return the same header, data and tag; flipping any one
//! byte of the page, or opening it at another page number or file id, must
//! make `open` fail as `Unauthentic`.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use reddb::crypto::seal::{AeadKey, NONCE_LEN, TAG_LEN};
use reddb::store::log::{self, LogPageError, LogPageHeader, HEADER_LEN};
use reddb_fuzz::{test_key, PAGE_SIZE, TEST_FILE_ID, TEST_LOG_PAGE_NO, TEST_SESSION};

#[derive(Arbitrary, Debug)]
struct SealInput {
    seq: u64,
    prev_tag: [u8; 16],
    next_page: u64,
    flags: u8,
    epoch: u32,
    counter: u64,
    page_no: u64,
    flip_at: u16,
    flip_bit: u8,
    data: Vec<u8>,
}

fn raw(key: &AeadKey, data: &[u8]) {
    let result = log::open(key, &TEST_FILE_ID, TEST_LOG_PAGE_NO, data);
    if data.len() < log::SESSION_LEN + NONCE_LEN + HEADER_LEN + TAG_LEN {
        assert_eq!(result, Err(LogPageError::Unauthentic));
        return;
    }
    let Ok((header, stream, tag)) = result else { return };
    assert!(stream.len() <= log::stream_capacity(data.len()));
    assert_eq!(&tag[..], &data[data.len() - TAG_LEN..]);
    // Re-sealing what was opened, with the page's own nonce, opens again
    // to the same header and data.
    let session = log::session_of(data).expect("an opened page has a session prefix");
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&data[log::SESSION_LEN..log::SESSION_LEN + NONCE_LEN]);
    let (page, _) = log::seal(key, &session, &TEST_FILE_ID, TEST_LOG_PAGE_NO, nonce, &header, &stream, data.len())
        .expect("re-seal of an opened page");
    let (h2, s2, _) = log::open(key, &TEST_FILE_ID, TEST_LOG_PAGE_NO, &page).expect("re-sealed page opens");
    assert_eq!((h2, s2), (header, stream));
    // The page is bound to its page number.
    assert_eq!(
        log::open(key, &TEST_FILE_ID, TEST_LOG_PAGE_NO + 1, data),
        Err(LogPageError::Unauthentic)
    );
}

fn structured(key: &AeadKey, data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(mut input) = SealInput::arbitrary(&mut u) else { return };
    input.data.truncate(log::stream_capacity(PAGE_SIZE));
    let header = LogPageHeader {
        seq: input.seq,
        prev_tag: input.prev_tag,
        next_page: input.next_page,
        flags: input.flags,
    };
    let nonce = log::nonce(input.epoch, input.counter);
    let (page, tag) = log::seal(key, &TEST_SESSION, &TEST_FILE_ID, input.page_no, nonce, &header, &input.data, PAGE_SIZE)
        .expect("seal of data within capacity");
    assert_eq!(page.len(), PAGE_SIZE);
    assert_eq!(&page[..log::SESSION_LEN], &TEST_SESSION[..]);
    assert_eq!(&page[log::SESSION_LEN..log::SESSION_LEN + NONCE_LEN], &nonce[..]);
    assert_eq!(&page[PAGE_SIZE - TAG_LEN..], &tag[..]);

    let opened = log::open(key, &TEST_FILE_ID, input.page_no, &page);
    assert_eq!(opened, Ok((header, input.data.clone(), tag)));

    let mut flipped = page.clone();
    let at = usize::from(input.flip_at) % PAGE_SIZE;
    flipped[at] ^= 1 << (input.flip_bit % 8);
    assert_eq!(
        log::open(key, &TEST_FILE_ID, input.page_no, &flipped),
        Err(LogPageError::Unauthentic),
        "flipped bit {} of byte {at} was accepted",
        input.flip_bit % 8
    );
    assert_eq!(
        log::open(key, &TEST_FILE_ID, input.page_no.wrapping_add(1), &page),
        Err(LogPageError::Unauthentic),
        "page opened at another page number"
    );
    let mut other_file = TEST_FILE_ID;
    other_file[0] ^= 0x80;
    assert_eq!(
        log::open(key, &other_file, input.page_no, &page),
        Err(LogPageError::Unauthentic),
        "page opened under another file id"
    );
    // One byte more or less of data cannot happen: the page has a fixed size.
    assert_eq!(log::open(key, &TEST_FILE_ID, input.page_no, &page[..PAGE_SIZE - 1]), Err(LogPageError::Unauthentic));
}

fuzz_target!(|data: &[u8]| {
    // Built per input and dropped before returning: see `reddb_fuzz::test_key`.
    let key = test_key();
    raw(&key, data);
    structured(&key, data);
});
