//! A seeded SplitMix64 generator and a Zipf sampler, so a benchmark's
//! request sequence is the same in every run without a `rand` dependency.

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for
/// choosing request sequences.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator with a fixed seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Samples ranks 0..n with probability proportional to 1 / (rank + 1)^s.
#[derive(Debug, Clone)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// A Zipf distribution over `n` items with exponent `s`.
    pub fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let mut cumulative = Vec::with_capacity(n);
        for k in 1..=n {
            total += 1.0 / (k as f64).powf(s);
            cumulative.push(total);
        }
        for c in &mut cumulative {
            *c /= total;
        }
        Zipf { cumulative }
    }

    /// One rank.
    pub fn sample(&self, rng: &mut SplitMix64) -> usize {
        let u = rng.next_f64();
        self.cumulative
            .iter()
            .position(|c| u < *c)
            .unwrap_or(self.cumulative.len().saturating_sub(1))
    }
}

/// Hits of an LRU cache of `capacity` over `sequence` (the policy the pool
/// implements), for comparison with the pool's own counters.
pub fn lru_hits(sequence: &[usize], capacity: usize) -> (usize, usize) {
    let mut cache: Vec<usize> = Vec::new(); // most recent last
    let (mut hits, mut evictions) = (0, 0);
    for &item in sequence {
        if let Some(pos) = cache.iter().position(|c| *c == item) {
            hits += 1;
            cache.remove(pos);
        } else if cache.len() == capacity {
            cache.remove(0);
            evictions += 1;
        }
        cache.push(item);
    }
    (hits, evictions)
}

/// Hits of Belady's optimal (clairvoyant) policy over `sequence`: the upper
/// bound for any eviction policy.
pub fn optimal_hits(sequence: &[usize], capacity: usize) -> usize {
    let mut cache: Vec<usize> = Vec::new();
    let mut hits = 0;
    for (i, &item) in sequence.iter().enumerate() {
        if cache.contains(&item) {
            hits += 1;
            continue;
        }
        if cache.len() == capacity {
            let next_use = |m: usize| {
                sequence[i + 1..]
                    .iter()
                    .position(|x| *x == m)
                    .unwrap_or(usize::MAX)
            };
            if let Some((pos, _)) = cache.iter().enumerate().max_by_key(|(_, m)| next_use(**m)) {
                cache.remove(pos);
            }
        }
        cache.push(item);
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_and_optimal_on_a_known_sequence() {
        let seq = [0, 1, 2, 0, 3, 0, 4, 2, 3, 0];
        assert_eq!(lru_hits(&seq, 3), (2, 5));
        assert_eq!(optimal_hits(&seq, 3), 4);
    }

    #[test]
    fn zipf_prefers_low_ranks() {
        let z = Zipf::new(6, 1.0);
        let mut rng = SplitMix64::new(7);
        let mut counts = [0usize; 6];
        for _ in 0..6000 {
            counts[z.sample(&mut rng)] += 1;
        }
        assert!(counts[0] > counts[5] * 3);
    }
}
