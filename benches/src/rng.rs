//! The skewed request sequences benchmarks replay: a seeded Zipf sequence
//! (`rand`'s `StdRng`, fixed by Cargo.lock, and `rand_distr`'s Zipf), and
//! the hit counts an LRU and an optimal cache would get on it, to compare
//! the pool's own counters with.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Zipf};

/// `len` ranks in 0..n, rank r drawn with probability proportional to
/// 1 / (r + 1)^s; the same sequence for the same seed.
pub fn zipf_sequence(n: usize, s: f64, len: usize, seed: u64) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    match Zipf::new(n as f64, s) {
        // Zipf samples 1..=n as floats; ranks are 0-based.
        Ok(zipf) => (0..len)
            .map(|_| (zipf.sample(&mut rng) as usize).clamp(1, n) - 1)
            .collect(),
        // Only for n = 0 or a negative exponent: nothing to draw.
        Err(_) => Vec::new(),
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
    fn zipf_prefers_low_ranks_and_repeats_per_seed() {
        let seq = zipf_sequence(6, 1.0, 6000, 7);
        assert_eq!(seq.len(), 6000);
        let mut counts = [0usize; 6];
        for r in &seq {
            counts[*r] += 1;
        }
        assert!(counts[0] > counts[5] * 3, "{counts:?}");
        assert_eq!(seq, zipf_sequence(6, 1.0, 6000, 7));
    }
}
