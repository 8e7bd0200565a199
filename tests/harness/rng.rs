//! The one random generator of the tests: SplitMix64, seeded, so a
//! failing case replays from the seed it printed. [`OnPanic`] prints that
//! seed (or anything else that reproduces the case) when the test fails.

/// SplitMix64: a tiny deterministic PRNG.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        self.next_u64() % n
    }

    /// Uniform in `lo..hi` (`lo < hi`).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo) as u64) as usize
    }

    /// Uniform in `lo..=hi` (`lo <= hi`).
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.fill(&mut v);
        v
    }

    /// Random bytes of a random length in `lo..hi`.
    pub fn blob(&mut self, lo: usize, hi: usize) -> Vec<u8> {
        let len = self.range(lo, hi);
        self.bytes(len)
    }

    /// `len` characters drawn from `alphabet`.
    pub fn text(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len() as u64) as usize]))
            .collect()
    }

    /// `len` lowercase hex digits.
    pub fn hex(&mut self, len: usize) -> String {
        self.text(b"0123456789abcdef", len)
    }
}

/// A seed written as decimal or `0x` hex.
pub fn parse_seed(v: &str) -> Option<u64> {
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

/// The seed in environment variable `var`; panics when it is set but not a
/// number.
pub fn seed_from_env(var: &str) -> Option<u64> {
    let v = std::env::var(var).ok()?;
    Some(parse_seed(&v).unwrap_or_else(|| panic!("{var}={v:?} is not a seed")))
}

/// `REDDB_SEED=<n>` (decimal or 0x-hex) restricts a seeded test to one case.
pub fn seed_override() -> Option<u64> {
    seed_from_env("REDDB_SEED")
}

/// The seed of case `n` of a test whose base seed is `base`.
pub fn case_seed(base: u64, n: u64) -> u64 {
    Rng::new(base ^ n.wrapping_mul(0xA076_1D64_78BD_642F)).next_u64()
}

/// A seed that differs between runs (clock and pid), for tests that vary
/// on purpose; print it ([`OnPanic`]) so a failure replays.
pub fn fresh_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    t ^ (u64::from(std::process::id()) << 32)
}

/// Prints `what` if the thread panics while this guard is alive: the way a
/// failing case reports the seed that reproduces it.
pub struct OnPanic(pub String);

impl Drop for OnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("\n*** failing case: {} ***\n", self.0);
        }
    }
}
