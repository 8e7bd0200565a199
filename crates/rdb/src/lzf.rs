//! LZF decompression, the format Redis uses for compressed strings in an
//! RDB file (`rdbcompression yes`). Total: every back reference and literal
//! run is checked against the input and the declared output length, and the
//! output must come out exactly that long.
//!
//! ```text
//! ctrl < 32        literal run: ctrl + 1 bytes follow, copied as they are
//! ctrl >= 32       back reference: len = ctrl >> 5 (7 means: add the next byte),
//!                  distance = ((ctrl & 31) << 8 | next byte) + 1,
//!                  copy len + 2 bytes from distance back (may overlap)
//! ```

/// Why compressed data did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LzfError {
    /// The input ended inside a literal run or a back reference.
    Truncated,
    /// A back reference points before the start of the output.
    BadReference,
    /// The output would exceed, or did not reach, the declared length.
    WrongLength,
}

/// Decompresses `input` into exactly `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0usize;
    while let Some(&ctrl) = input.get(ip) {
        ip += 1;
        if ctrl < 32 {
            let run = usize::from(ctrl) + 1;
            let literal = input.get(ip..ip + run).ok_or(LzfError::Truncated)?;
            if out.len() + run > out_len {
                return Err(LzfError::WrongLength);
            }
            out.extend_from_slice(literal);
            ip += run;
            continue;
        }
        let mut len = usize::from(ctrl >> 5);
        if len == 7 {
            len += usize::from(*input.get(ip).ok_or(LzfError::Truncated)?);
            ip += 1;
        }
        let low = usize::from(*input.get(ip).ok_or(LzfError::Truncated)?);
        ip += 1;
        let distance = ((usize::from(ctrl & 0x1f) << 8) | low) + 1;
        let len = len + 2;
        let start = out
            .len()
            .checked_sub(distance)
            .ok_or(LzfError::BadReference)?;
        if out.len() + len > out_len {
            return Err(LzfError::WrongLength);
        }
        // Byte by byte: the source may overlap what is being written.
        for i in 0..len {
            let b = *out.get(start + i).ok_or(LzfError::BadReference)?;
            out.push(b);
        }
    }
    if out.len() != out_len {
        return Err(LzfError::WrongLength);
    }
    Ok(out)
}

/// A simple LZF compressor (greedy, one hash slot per 3-byte prefix): the
/// tests' and the fuzz seeds' way to make compressed strings. Its output
/// is valid LZF that [`decompress`] and Redis both read.
pub fn compress(input: &[u8]) -> Vec<u8> {
    const MAX_LITERAL: usize = 32;
    const MAX_DISTANCE: usize = 8192;
    const MAX_MATCH: usize = 264; // 7 + 255 + 2
    let mut out = Vec::with_capacity(input.len() + input.len() / 32 + 1);
    let mut table = vec![usize::MAX; 1 << 14];
    let mut literal_start = 0usize;
    let mut ip = 0usize;
    let flush_literals = |out: &mut Vec<u8>, lit: &[u8]| {
        for chunk in lit.chunks(MAX_LITERAL) {
            out.push((chunk.len() - 1) as u8);
            out.extend_from_slice(chunk);
        }
    };
    while let Some(&[a, b, c]) = input.get(ip..ip + 3) {
        let h = ((usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c))
            .wrapping_mul(2_654_435_761)
            >> 18
            & ((1 << 14) - 1);
        let candidate = table.get(h).copied().unwrap_or(usize::MAX);
        if let Some(slot) = table.get_mut(h) {
            *slot = ip;
        }
        if candidate != usize::MAX
            && ip - candidate <= MAX_DISTANCE
            && input.get(candidate..candidate + 3) == input.get(ip..ip + 3)
        {
            let mut len = 3;
            while len < MAX_MATCH
                && ip + len < input.len()
                && input.get(candidate + len) == input.get(ip + len)
            {
                len += 1;
            }
            flush_literals(&mut out, input.get(literal_start..ip).unwrap_or(&[]));
            let distance = ip - candidate - 1;
            let l = len - 2;
            if l < 7 {
                out.push(((l << 5) | (distance >> 8)) as u8);
            } else {
                out.push(((7 << 5) | (distance >> 8)) as u8);
                out.push((l - 7) as u8);
            }
            out.push((distance & 0xff) as u8);
            ip += len;
            literal_start = ip;
        } else {
            ip += 1;
        }
    }
    flush_literals(&mut out, input.get(literal_start..).unwrap_or(&[]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_literal_run_and_an_overlapping_reference() {
        // "abc" literal, then copy 6 bytes from distance 3: "abcabcabc".
        let data = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&data, 9).unwrap(), b"abcabcabc");
    }

    #[test]
    fn the_long_form_of_a_reference_length() {
        // "a", then a reference of 7 + 3 + 2 = 12 bytes at distance 1.
        let data = [0, b'a', (7 << 5), 3, 0];
        assert_eq!(decompress(&data, 13).unwrap(), vec![b'a'; 13]);
    }

    #[test]
    fn damaged_data_is_a_typed_error() {
        assert_eq!(decompress(&[5, b'a'], 6), Err(LzfError::Truncated));
        assert_eq!(decompress(&[(1 << 5), 0], 3), Err(LzfError::BadReference));
        assert_eq!(
            decompress(&[0, b'a', (1 << 5)], 4),
            Err(LzfError::Truncated)
        );
        assert_eq!(decompress(&[1, b'a', b'b'], 3), Err(LzfError::WrongLength));
        assert_eq!(decompress(&[1, b'a', b'b'], 1), Err(LzfError::WrongLength));
        assert_eq!(
            decompress(&[0, b'a', (7 << 5), 255, 0], 20),
            Err(LzfError::WrongLength)
        );
    }

    #[test]
    fn a_repetitive_string_compresses() {
        let text = b"client_id=abc;scope=read write;".repeat(40);
        let packed = compress(&text);
        assert!(packed.len() < text.len() / 4, "{} bytes", packed.len());
        assert_eq!(decompress(&packed, text.len()).unwrap(), text);
    }

    proptest! {
        #[test]
        fn compress_then_decompress_is_the_identity(
            data in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..3000)
        ) {
            let packed = compress(&data);
            prop_assert_eq!(decompress(&packed, data.len()).unwrap(), data);
        }

        #[test]
        fn decompress_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200), len in 0usize..500) {
            let _ = decompress(&data, len);
        }
    }
}
