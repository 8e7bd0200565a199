//! Meta pages (pages 0 and 1): `peek_page_size`, `decode` for both slots,
//! and `MetaState::decode`.
//!
//! A random mutation almost never keeps the SHA-256 digest valid, so beside
//! decoding the raw input the target also "fixes up" the input: it keeps the
//! fuzzed prefix (bytes 0..64), sealed length and sealed bytes, recomputes
//! the digest with `meta::encode`, and decodes that. This reaches the checks
//! that run after the digest (reserved bytes, state, sealed length).
#![no_main]

use libfuzzer_sys::fuzz_target;
use reddb::pager::meta::{self, MetaError, MetaState, META_STATE_LEN, SEALED_META_LEN};

const SEALED_LEN_OFFSET: usize = 96;
const SEALED_OFFSET: usize = 98;

fn check_copy(page_no: u64, page: &[u8]) {
    let peek = meta::peek_page_size(page);
    let Ok(copy) = meta::decode(page_no, page) else { return };
    let size = copy.header.page_size;
    assert_eq!(peek, Ok(size), "decode accepted what peek_page_size refused");
    assert!(meta::valid_page_size(size));
    assert!(page.len() >= size as usize, "accepted a page shorter than its page size");
    assert_eq!(&copy.prefix[..], &page[..64]);
    match &copy.sealed {
        Some(s) => assert!(copy.header.bootstrapped && s.len() == SEALED_META_LEN),
        None => assert!(!copy.header.bootstrapped),
    }
    // The prefix is canonical: re-encoding the header gives the same bytes.
    assert_eq!(meta::encode_prefix(&copy.header, copy.generation), copy.prefix);
    // Re-encoding the copy decodes to the same copy, in its own slot only.
    let again = meta::encode(page_no, &copy.prefix, copy.sealed.as_deref(), size);
    assert_eq!(meta::decode(page_no, &again).as_ref(), Ok(&copy));
    assert_eq!(meta::decode(page_no ^ 1, &again), Err(MetaError::BadDigest));
}

fn fix_up_digest(page_no: u64, data: &[u8]) {
    if data.len() < SEALED_OFFSET {
        return;
    }
    let mut prefix = [0u8; 64];
    prefix.copy_from_slice(&data[..64]);
    let size = meta::peek_page_size(data).unwrap_or(meta::DEFAULT_PAGE_SIZE);
    let wanted = usize::from(u16::from_be_bytes([data[SEALED_LEN_OFFSET], data[SEALED_LEN_OFFSET + 1]]));
    let len = wanted
        .min(data.len() - SEALED_OFFSET)
        .min(size as usize - SEALED_OFFSET);
    let sealed = &data[SEALED_OFFSET..SEALED_OFFSET + len];
    let page = meta::encode(page_no, &prefix, (len > 0).then_some(sealed), size);
    let result = meta::decode(page_no, &page);
    if meta::peek_page_size(&page).is_ok() {
        // The digest was just computed for this slot: only the checks after
        // it may refuse the page.
        assert!(
            matches!(result, Ok(_) | Err(MetaError::Invalid(_))),
            "freshly encoded page refused with {result:?}"
        );
        assert_eq!(meta::decode(page_no ^ 1, &page), Err(MetaError::BadDigest));
    }
    check_copy(page_no, &page);
}

fuzz_target!(|data: &[u8]| {
    for page_no in [0u64, 1] {
        check_copy(page_no, data);
        fix_up_digest(page_no, data);
    }
    if let Some(state) = MetaState::decode(data) {
        assert_eq!(data.len(), META_STATE_LEN);
        assert_eq!(&state.encode()[..], data);
    }
    if let Some(head) = data.get(..META_STATE_LEN.min(data.len())) {
        if let Some(state) = MetaState::decode(head) {
            assert_eq!(MetaState::decode(&state.encode()), Some(state));
        }
    }
});
