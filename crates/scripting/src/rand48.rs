//! Redis's `math.random`: the 48-bit linear congruential generator of
//! Redis's `rand.c` (`lrand48`), so `math.randomseed(n)` then
//! `math.random(…)` give what redis-server gives. reddb seeds it with 0
//! at the start of every run (as Redis 6 did before each script); Redis
//! 7.0 keeps one sequence running across scripts instead, so an unseeded
//! script sees other numbers there.

/// One generator; [`Rand48::default`] is seeded with 0.
#[derive(Debug, Clone, Copy)]
pub struct Rand48 {
    x: u64,
}

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const INCREMENT: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
/// `REDIS_LRAND48_MAX` (`INT32_MAX`).
const LRAND48_MAX: i64 = i32::MAX as i64;

impl Default for Rand48 {
    fn default() -> Self {
        Self::seeded(0)
    }
}

impl Rand48 {
    /// `redisSrand48(seed)`: the seed's low 32 bits above `0x330E`.
    pub fn seeded(seed: i32) -> Self {
        let seed = u64::from(u32::from_ne_bytes(seed.to_ne_bytes()));
        Rand48 {
            x: (seed << 16) | 0x330E,
        }
    }

    /// `redisLrand48()`: the next 31-bit value.
    pub fn next_i31(&mut self) -> i64 {
        self.x = (self.x.wrapping_mul(MULTIPLIER).wrapping_add(INCREMENT)) & MASK;
        i64::try_from(self.x >> 17).unwrap_or(0)
    }

    /// The `r` of Redis's `math_random`: a number in [0, 1).
    pub fn next_unit(&mut self) -> f64 {
        let r = self.next_i31() % LRAND48_MAX;
        // Both below 2^31: exact as doubles.
        r as f64 / LRAND48_MAX as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values redis-server 7.0.15 answers for `math.randomseed(0)`
    /// (and 7) then two `math.random(1000000)`, and for
    /// `math.random(5,10)` and `math.random()` after those.
    #[test]
    fn sequence_matches_redis() {
        let draw = |r: &mut Rand48, n: f64| (r.next_unit() * n).floor() + 1.0;
        let mut r = Rand48::default();
        assert_eq!(draw(&mut r, 1_000_000.0), 170_829.0);
        assert_eq!(draw(&mut r, 1_000_000.0), 749_902.0);
        let mut r = Rand48::seeded(7);
        assert_eq!(draw(&mut r, 1_000_000.0), 266_445.0);
        assert_eq!(draw(&mut r, 1_000_000.0), 682_036.0);
    }
}
