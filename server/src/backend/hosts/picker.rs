//! The choice among the hosts that passed the filters (not ejected, not
//! already tried by this call). Pure: the caller gathers each candidate's
//! load, prefix match and rendezvous weight; randomness and the
//! round-robin turn are passed in, so every rule is unit-tested.
//!
//! With the `prefix` policy (SGLang's cache-aware router has this shape):
//! the candidate holding the longest prefix of the prompt wins, unless its
//! load exceeds the least loaded candidate's by more than the imbalance
//! threshold; with no match, rendezvous hashing on the prompt's first
//! block, so router replicas send a new prefix to the same host without
//! sharing state (again unless the load gap is too wide); a prompt shorter
//! than one block, or an overloaded favourite, goes to the less loaded of
//! two random candidates (power of two choices).

use rand::Rng;

use crate::config::PickPolicy;

/// What the picker knows of one candidate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Candidate {
    /// Requests in flight to it from this router (plus its own queue, when
    /// known).
    pub load: u32,
    /// Leading prompt blocks its index holds.
    pub matched: usize,
    /// Its rendezvous weight for the prompt's first block (None without a
    /// full block).
    pub rendezvous: Option<u64>,
}

/// Why a host was picked (recorded on the `upstream_call` span).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It was the only candidate.
    Only,
    /// It holds the longest prefix of the prompt.
    Prefix,
    /// No host holds the prefix: rendezvous hashing on the first block.
    Rendezvous,
    /// The favourite was too busy: least loaded of two random candidates.
    LoadImbalance,
    /// Least loaded of two random candidates.
    LeastLoaded,
    /// The next in turn.
    RoundRobin,
}

impl Reason {
    /// Its span value.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Only => "only",
            Reason::Prefix => "prefix",
            Reason::Rendezvous => "rendezvous",
            Reason::LoadImbalance => "load_imbalance",
            Reason::LeastLoaded => "least_loaded",
            Reason::RoundRobin => "round_robin",
        }
    }
}

/// The chosen candidate's index and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    /// Index into the candidates.
    pub index: usize,
    /// Why.
    pub reason: Reason,
}

/// Picks one of `candidates` (which must not be empty; an empty slice
/// yields index 0, which the caller never passes).
pub fn pick(
    policy: PickPolicy,
    candidates: &[Candidate],
    max_imbalance: u32,
    turn: usize,
    rng: &mut impl Rng,
) -> Pick {
    if candidates.len() <= 1 {
        return Pick {
            index: 0,
            reason: Reason::Only,
        };
    }
    match policy {
        PickPolicy::RoundRobin => Pick {
            index: turn % candidates.len(),
            reason: Reason::RoundRobin,
        },
        PickPolicy::LeastLoaded => two_choices(candidates, rng, Reason::LeastLoaded),
        PickPolicy::Prefix => {
            let Some((favourite, reason)) = favourite(candidates) else {
                return two_choices(candidates, rng, Reason::LeastLoaded);
            };
            let least = candidates.iter().map(|c| c.load).min().unwrap_or(0);
            if candidates[favourite].load > least.saturating_add(max_imbalance) {
                two_choices(candidates, rng, Reason::LoadImbalance)
            } else {
                Pick {
                    index: favourite,
                    reason,
                }
            }
        }
    }
}

/// The prefix holder (longest match, then least loaded), or the
/// rendezvous winner when nobody holds the first block.
fn favourite(candidates: &[Candidate]) -> Option<(usize, Reason)> {
    let best = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.matched > 0)
        .max_by(|(_, a), (_, b)| a.matched.cmp(&b.matched).then(b.load.cmp(&a.load)));
    if let Some((i, _)) = best {
        return Some((i, Reason::Prefix));
    }
    candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.rendezvous.map(|w| (w, i)))
        .max()
        .map(|(_, i)| (i, Reason::Rendezvous))
}

/// The less loaded of two distinct random candidates (a tie goes to the
/// first drawn, itself random).
fn two_choices(candidates: &[Candidate], rng: &mut impl Rng, reason: Reason) -> Pick {
    let n = candidates.len();
    let a = rng.random_range(0..n);
    let b = (a + rng.random_range(1..n)) % n;
    let index = if candidates[b].load < candidates[a].load {
        b
    } else {
        a
    };
    Pick { index, reason }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn loads(loads: &[u32]) -> Vec<Candidate> {
        loads
            .iter()
            .map(|&load| Candidate {
                load,
                ..Candidate::default()
            })
            .collect()
    }

    #[test]
    fn two_choices_never_picks_the_most_loaded_of_three_or_more() {
        let mut rng = StdRng::seed_from_u64(7);
        let c = loads(&[0, 9, 1, 3]);
        let mut counts = [0; 4];
        for _ in 0..1000 {
            let p = pick(PickPolicy::LeastLoaded, &c, 8, 0, &mut rng);
            assert_eq!(p.reason, Reason::LeastLoaded);
            counts[p.index] += 1;
        }
        assert_eq!(counts[1], 0, "the busiest loses every draw it is in");
        assert!(counts[0] > counts[2] && counts[2] > counts[3], "{counts:?}");
    }

    #[test]
    fn round_robin_takes_turns_and_a_lone_candidate_is_taken() {
        let mut rng = StdRng::seed_from_u64(1);
        let c = loads(&[5, 0, 0]);
        let order: Vec<usize> = (0..6)
            .map(|t| pick(PickPolicy::RoundRobin, &c, 8, t, &mut rng).index)
            .collect();
        assert_eq!(order, [0, 1, 2, 0, 1, 2]);
        let one = pick(PickPolicy::Prefix, &loads(&[3]), 0, 0, &mut rng);
        assert_eq!(
            one,
            Pick {
                index: 0,
                reason: Reason::Only
            }
        );
    }

    #[test]
    fn the_longest_prefix_wins_until_the_load_gap_passes_the_threshold() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut c = loads(&[2, 0, 1]);
        c[0].matched = 10;
        c[2].matched = 4;
        let p = pick(PickPolicy::Prefix, &c, 2, 0, &mut rng);
        assert_eq!(
            p,
            Pick {
                index: 0,
                reason: Reason::Prefix
            }
        );
        c[0].load = 3; // 3 > 0 + 2: load wins
        let p = pick(PickPolicy::Prefix, &c, 2, 0, &mut rng);
        assert_eq!(p.reason, Reason::LoadImbalance);
        // Equal matches: the less loaded holder.
        c[0].load = 1;
        c[2].matched = 10;
        c[2].load = 0;
        assert_eq!(pick(PickPolicy::Prefix, &c, 2, 0, &mut rng).index, 2);
    }

    #[test]
    fn without_a_match_rendezvous_decides_and_agrees_across_orders() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut c = loads(&[0, 0, 0]);
        c[0].rendezvous = Some(10);
        c[1].rendezvous = Some(30);
        c[2].rendezvous = Some(20);
        let p = pick(PickPolicy::Prefix, &c, 4, 0, &mut rng);
        assert_eq!(
            p,
            Pick {
                index: 1,
                reason: Reason::Rendezvous
            }
        );
        // Another replica listing the hosts in another order agrees.
        let reversed: Vec<Candidate> = c.iter().rev().copied().collect();
        assert_eq!(pick(PickPolicy::Prefix, &reversed, 4, 0, &mut rng).index, 1);
        // No full block: load alone.
        let p = pick(PickPolicy::Prefix, &loads(&[1, 0]), 4, 0, &mut rng);
        assert_eq!(
            p,
            Pick {
                index: 1,
                reason: Reason::LeastLoaded
            }
        );
    }
}
