//! CRC-64 as Redis computes it over an RDB file: the Jones polynomial
//! (`0xad93d23594c935a9`), reflected input and output, initial value 0, no
//! final xor. Table driven, one byte at a time, so it can be fed as the
//! file streams past.

/// The Jones polynomial, bit-reversed for the reflected (LSB-first) form.
const REFLECTED_POLY: u64 = 0x95ac_9329_ac4b_c9b5;

const TABLE: [u64; 256] = build_table();

const fn build_table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ REFLECTED_POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        // `i < 256` is the loop's bound (a const fn cannot use `get_mut`).
        #[allow(clippy::indexing_slicing)]
        {
            table[i] = crc;
        }
        i += 1;
    }
    table
}

/// A running CRC-64 (Jones) value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Crc64(u64);

impl Crc64 {
    pub fn new() -> Self {
        Self(0)
    }

    /// Feeds `bytes` into the checksum.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut crc = self.0;
        for &b in bytes {
            // `& 0xff` keeps the index within the 256-entry table.
            #[allow(clippy::indexing_slicing)]
            let entry = TABLE[((crc ^ u64::from(b)) & 0xff) as usize];
            crc = entry ^ (crc >> 8);
        }
        self.0 = crc;
    }

    pub fn value(self) -> u64 {
        self.0
    }

    /// The checksum of `bytes` in one go.
    pub fn of(bytes: &[u8]) -> u64 {
        let mut c = Self::new();
        c.update(bytes);
        c.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_value_of_the_jones_crc() {
        // The check value Redis's crc64.c tests against.
        assert_eq!(Crc64::of(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn fed_in_pieces_equals_fed_at_once() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut c = Crc64::new();
        for chunk in data.chunks(37) {
            c.update(chunk);
        }
        assert_eq!(c.value(), Crc64::of(&data));
        assert_ne!(Crc64::of(&data[1..]), Crc64::of(&data));
    }

    #[test]
    fn empty_input_is_zero() {
        assert_eq!(Crc64::of(b""), 0);
    }
}
