//! The choice among the hosts that passed the filters (not ejected, not
//! already tried by this call). Pure: the caller gathers each candidate's
//! load, prefix match and rendezvous weight; randomness and the
//! round-robin turn are passed in, so every rule is unit-tested.
//!
//! With the `prefix` policy (SGLang's cache-aware router has this shape):
//! the candidate holding the longest prefix of the prompt wins, unless its
//! load exceeds the least loaded candidate's by more than the imbalance
//! threshold; with no match, the conversation's home (the host picked for
//! its first block before, whose cache may still hold what the index
//! forgot); with neither, rendezvous hashing on the prompt's first
//! block, so router replicas send a new prefix to the same host without
//! sharing state (again unless the load gap is too wide), with bounded
//! loads: a host already home to more than its even share of the
//! conversations (distinct first blocks) is passed over for the next in
//! rendezvous order, so new conversations spread evenly over the hosts'
//! caches, as SGLang's router does by sending them to its smallest tree
//! (plain rendezvous leaves some hosts with more conversations than their
//! slots hold while others idle); a prompt shorter
//! than one block, or an overloaded favourite, goes to the cheaper of
//! two random candidates (power of two choices; or the cheapest of all).
//!
//! Power of two choices compares costs (`least_loaded`, and the fallback of
//! `prefix`): each candidate's peak-EWMA latency times its load plus one
//! (Finagle's and linkerd2-proxy's score, see [`super::latency`]), so a host
//! that is slow, not only busy, is drawn less; a host with no answer yet is
//! costed at the mean latency of the others. Once a host's slots are known
//! the cost is its expected wait instead (see [`cost`]). `pick_choices =
//! "all"` compares every candidate rather than two random ones.
//! Two draws skip the hosts whose slots are known to be all busy while two
//! others have a free one (see [`two_draws`]).
//! `least_in_flight` compares the load alone. Prefix affinity's imbalance
//! threshold stays on the load (a count of requests, which the setting is
//! written in).

use rand::Rng;

use crate::config::{PickChoices, PickPolicy};

/// What the picker knows of one candidate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Candidate {
    /// Requests in flight to it from this router (plus its own queue or
    /// other clients' requests, when read; see `queue_depth.rs`).
    pub load: u32,
    /// Leading prompt blocks its index holds.
    pub matched: usize,
    /// Its rendezvous weight for the prompt's first block (None without a
    /// full block).
    pub rendezvous: Option<u64>,
    /// Its peak-EWMA latency in seconds (None before its first answer).
    pub latency: Option<f64>,
    /// Conversations it is home to (distinct prompt first blocks).
    pub heads: usize,
    /// It is home to this prompt's conversation: it was picked for its
    /// first block before.
    pub home: bool,
    /// Its slots, when read from its `/slots` (`learn_slots`, `queue_slots`).
    pub slots: Option<u32>,
}

/// Why a host was picked (recorded on the `upstream_call` span).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It was the only candidate.
    Only,
    /// It holds the longest prefix of the prompt.
    Prefix,
    /// No host's index holds the prefix, but the conversation was sent to
    /// it before (its index forgot the blocks; its cache may not have).
    Home,
    /// No host holds the prefix: rendezvous hashing on the first block.
    Rendezvous,
    /// The favourite was too busy: the cheapest of two random candidates
    /// (or of all, `pick_choices`).
    LoadImbalance,
    /// The cheapest (latency × load, or expected wait) of two random
    /// candidates (or of all).
    LeastLoaded,
    /// Fewest requests in flight of two random candidates (or of all).
    LeastInFlight,
    /// The next in turn.
    RoundRobin,
}

impl Reason {
    /// Its span value.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Only => "only",
            Reason::Prefix => "prefix",
            Reason::Home => "home",
            Reason::Rendezvous => "rendezvous",
            Reason::LoadImbalance => "load_imbalance",
            Reason::LeastLoaded => "least_loaded",
            Reason::LeastInFlight => "least_in_flight",
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
    choices: PickChoices,
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
        PickPolicy::LeastLoaded => cheapest(candidates, choices, rng, Reason::LeastLoaded),
        PickPolicy::LeastInFlight => cheapest(candidates, choices, rng, Reason::LeastInFlight),
        PickPolicy::Prefix => {
            let Some((favourite, reason)) = favourite(candidates) else {
                return cheapest(candidates, choices, rng, Reason::LeastLoaded);
            };
            let least = candidates.iter().map(|c| c.load).min().unwrap_or(0);
            if candidates[favourite].load > least.saturating_add(max_imbalance) {
                cheapest(candidates, choices, rng, Reason::LoadImbalance)
            } else {
                Pick {
                    index: favourite,
                    reason,
                }
            }
        }
    }
}

/// The prefix holder (longest match, then least loaded); else the
/// conversation's home (least loaded, if several); else the rendezvous
/// winner among the hosts within their share of conversations.
fn favourite(candidates: &[Candidate]) -> Option<(usize, Reason)> {
    let best = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.matched > 0)
        .max_by(|(_, a), (_, b)| a.matched.cmp(&b.matched).then(b.load.cmp(&a.load)));
    if let Some((i, _)) = best {
        return Some((i, Reason::Prefix));
    }
    // The conversation's home, if any: bounded loads count it there
    // already, so it must not be passed over as over its share (which
    // sent a conversation whose blocks the index had forgotten to a host
    // that never held it).
    let home = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.home)
        .min_by_key(|(_, c)| c.load);
    if let Some((i, _)) = home {
        return Some((i, Reason::Home));
    }
    // Bounded loads with a balance factor of 1: counting this new
    // conversation, no host may pass the even share, rounded up (so at
    // least one host is always within it).
    let total: usize = candidates.iter().map(|c| c.heads).sum();
    let share = (total + 1).div_ceil(candidates.len());
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.heads < share)
        .filter_map(|(i, c)| c.rendezvous.map(|w| (w, i)))
        .max()
        .map(|(_, i)| (i, Reason::Rendezvous))
}

/// The cheapest candidate by load alone for `LeastInFlight`, else by cost,
/// among two distinct random ones or all of them (a tie goes to the first
/// drawn, or for all, the first from a random start).
fn cheapest(
    candidates: &[Candidate],
    choices: PickChoices,
    rng: &mut impl Rng,
    reason: Reason,
) -> Pick {
    let n = candidates.len();
    let unknown = mean_latency(candidates);
    let price = |c: &Candidate| {
        if reason == Reason::LeastInFlight {
            f64::from(c.load)
        } else {
            cost(c, unknown)
        }
    };
    let index = match choices {
        PickChoices::Two => {
            let (a, b) = two_draws(candidates, rng);
            if price(&candidates[b]) < price(&candidates[a]) {
                b
            } else {
                a
            }
        }
        PickChoices::All => {
            let start = rng.random_range(0..n);
            let mut best = start;
            let mut best_price = price(&candidates[start]);
            for step in 1..n {
                let i = (start + step) % n;
                let p = price(&candidates[i]);
                if p < best_price {
                    best = i;
                    best_price = p;
                }
            }
            best
        }
    };
    Pick { index, reason }
}

/// Two distinct random candidates for power of two choices, drawn among
/// those not known to be full (every slot busy, per its `/slots`) while at
/// least two are not; with one, that one against a random full one (the
/// cost still decides: a fast host with a short queue can beat an idle slow
/// one). Without the filter, two draws out of four hosts at 0.95 × capacity
/// found both full often enough that 42-49% of requests waited for a slot
/// (the `hosts` bench) while another host had one free. Without known
/// slots, every candidate counts as not full: plain power of two choices.
fn two_draws(candidates: &[Candidate], rng: &mut impl Rng) -> (usize, usize) {
    let n = candidates.len();
    let full = |c: &Candidate| c.slots.is_some_and(|slots| c.load >= slots);
    let open = candidates.iter().filter(|c| !full(c)).count();
    // The `k`th candidate (in order) that is full or not, as asked.
    let nth = |want_full: bool, k: usize| {
        candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| full(c) == want_full)
            .nth(k)
            .map_or(0, |(i, _)| i)
    };
    if open >= 2 && open < n {
        let (a, b) = distinct_pair(open, rng);
        return (nth(false, a), nth(false, b));
    }
    if open == 1 {
        return (nth(false, 0), nth(true, rng.random_range(0..n - 1)));
    }
    distinct_pair(n, rng)
}

/// Two distinct random positions in `0..m` (`m` ≥ 2).
fn distinct_pair(m: usize, rng: &mut impl Rng) -> (usize, usize) {
    let a = rng.random_range(0..m);
    (a, (a + rng.random_range(1..m)) % m)
}

/// A candidate's cost: its latency (`unknown` before its first answer)
/// times its load plus one. When its slots are known, the expected wait
/// instead: a host with a free slot starts a request at once, so it costs
/// its latency alone, and each request beyond its slots adds a slot's
/// share of it (`s` slots free one every latency / `s` on average). A slow
/// host with a free slot then loses to a fast one with a free slot, where
/// latency × (load + 1) sent work to the idle slow host as soon as the fast
/// ones held two requests, and every such request took the slow host's
/// time. Each busy slot then adds a little more (see [`busy_factor`]), so
/// hosts with free slots fill evenly rather than the lowest estimate first.
fn cost(c: &Candidate, unknown: f64) -> f64 {
    let latency = c.latency.unwrap_or(unknown);
    match c.slots {
        Some(slots) => latency * wait_factor(c.load, slots) * busy_factor(c.load, slots),
        None => latency * (f64::from(c.load) + 1.0),
    }
}

/// How much a host's slot-aware cost grows when all its slots are busy;
/// each busy slot adds its share. Two reasons: a llama-server's slots share
/// its compute, so a request beside three others runs slower than alone
/// (the latency estimate learns that only on average); and with the wait
/// alone, every host with a free slot cost the same, so picks packed the
/// host with the lowest estimate until it was full, and two random draws
/// then often found both full (the `hosts` bench: 42-48% of requests
/// waited for a slot at 0.95 × capacity, against 12% for latency ×
/// (load + 1)). A quarter keeps a fast host with three of four slots busy
/// (× 1.19) ahead of an idle host twice as slow.
const BUSY_SLOTS_WEIGHT: f64 = 0.25;

/// 1 + [`BUSY_SLOTS_WEIGHT`] × the share of the host's slots that are busy.
fn busy_factor(load: u32, slots: u32) -> f64 {
    let slots = slots.max(1);
    1.0 + BUSY_SLOTS_WEIGHT * f64::from(load.min(slots)) / f64::from(slots)
}

/// How many latencies a request sent to a host with `load` requests and
/// `slots` slots is expected to take: 1 with a free slot, plus a slot's
/// share for each request ahead of it beyond the slots.
pub fn wait_factor(load: u32, slots: u32) -> f64 {
    let slots = f64::from(slots.max(1));
    1.0 + (f64::from(load) + 1.0 - slots).max(0.0) / slots
}

/// The mean latency of the candidates that have one; 1 when none has, so
/// that costs compare loads alone.
fn mean_latency(candidates: &[Candidate]) -> f64 {
    let (sum, n) = candidates
        .iter()
        .filter_map(|c| c.latency)
        .fold((0.0, 0u32), |(s, n), l| (s + l, n + 1));
    if n == 0 { 1.0 } else { sum / f64::from(n) }
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
        // Without latencies the cost compares loads, as in-flight does.
        for (policy, reason) in [
            (PickPolicy::LeastInFlight, Reason::LeastInFlight),
            (PickPolicy::LeastLoaded, Reason::LeastLoaded),
        ] {
            let mut counts = [0; 4];
            for _ in 0..1000 {
                let p = pick(policy, &c, 8, PickChoices::Two, 0, &mut rng);
                assert_eq!(p.reason, reason);
                counts[p.index] += 1;
            }
            assert_eq!(counts[1], 0, "the busiest loses every draw it is in");
            assert!(counts[0] > counts[2] && counts[2] > counts[3], "{counts:?}");
        }
    }

    /// Which of two candidates each policy picks (with two, both are
    /// always drawn, so the answer does not depend on the draw).
    fn between(a: Candidate, b: Candidate, policy: PickPolicy) -> usize {
        let mut rng = StdRng::seed_from_u64(11);
        pick(policy, &[a, b], 8, PickChoices::Two, 0, &mut rng).index
    }

    /// The prefix policy's pick (imbalance threshold 4) as (index, reason).
    fn by_prefix(c: &[Candidate], rng: &mut StdRng) -> (usize, Reason) {
        let p = pick(PickPolicy::Prefix, c, 4, PickChoices::Two, 0, rng);
        (p.index, p.reason)
    }

    fn host(load: u32, latency: Option<f64>) -> Candidate {
        Candidate {
            load,
            latency,
            ..Candidate::default()
        }
    }

    #[test]
    fn cost_weighs_latency_against_load() {
        let slow_idle = host(0, Some(0.100));
        let fast_idle = host(0, Some(0.050));
        let fast_busy = host(2, Some(0.050));
        // Equal loads: the faster host.
        assert_eq!(between(slow_idle, fast_idle, PickPolicy::LeastLoaded), 1);
        assert_eq!(between(fast_idle, slow_idle, PickPolicy::LeastLoaded), 0);
        // 100 ms × 1 < 50 ms × 3: the idle slow host beats the busy fast one.
        assert_eq!(between(slow_idle, fast_busy, PickPolicy::LeastLoaded), 0);
        // One in flight each: 100 ms × 2 > 50 ms × 2.
        let slow_one = host(1, Some(0.100));
        let fast_one = host(1, Some(0.050));
        assert_eq!(between(slow_one, fast_one, PickPolicy::LeastLoaded), 1);
        // Counting in-flight requests alone cannot tell them apart: a tie
        // goes to the first drawn, so either may win.
        let mut rng = StdRng::seed_from_u64(2);
        let mut won = [0; 2];
        for _ in 0..200 {
            won[pick(
                PickPolicy::LeastInFlight,
                &[slow_one, fast_one],
                8,
                PickChoices::Two,
                0,
                &mut rng,
            )
            .index] += 1;
        }
        assert!(won[0] > 0 && won[1] > 0, "{won:?}");
    }

    #[test]
    fn both_choices_find_the_one_free_slot_when_slots_are_known() {
        let full = Candidate {
            slots: Some(4),
            ..host(4, Some(0.05))
        };
        let free = Candidate { load: 3, ..full };
        let c = [full, full, free, full];
        // The same loads with the slots unknown: nothing is known full.
        let blind = c.map(|c| Candidate { slots: None, ..c });
        let mut rng = StdRng::seed_from_u64(5);
        for policy in [PickPolicy::LeastLoaded, PickPolicy::LeastInFlight] {
            let mut missed = 0;
            for _ in 0..400 {
                for choices in [PickChoices::All, PickChoices::Two] {
                    assert_eq!(pick(policy, &c, 8, choices, 0, &mut rng).index, 2);
                }
                assert_eq!(
                    pick(policy, &blind, 8, PickChoices::All, 0, &mut rng).index,
                    2
                );
                if pick(policy, &blind, 8, PickChoices::Two, 0, &mut rng).index != 2 {
                    missed += 1;
                }
            }
            // Blind, two draws include the free host in 3 of the 6 pairs.
            assert!((120..280).contains(&missed), "{missed}");
        }
        // Two draws stay among the hosts with a free slot while two have
        // one: the full hosts are never drawn, so the less loaded of the
        // two open ones wins every pick.
        let c = [full, free, full, Candidate { load: 2, ..free }];
        let mut won = [0; 4];
        for _ in 0..400 {
            won[pick(
                PickPolicy::LeastInFlight,
                &c,
                8,
                PickChoices::Two,
                0,
                &mut rng,
            )
            .index] += 1;
        }
        assert_eq!((won[0], won[2], won[3]), (0, 0, 400), "{won:?}");
        // One open host is drawn against a random full one and the cost
        // still decides: an idle host at 4× the latency (0.2 s) loses to
        // a full fast one (0.05 × 1.25 × 1.25 = 0.078 s).
        let slow_idle = Candidate {
            load: 0,
            latency: Some(0.2),
            ..full
        };
        let c = [full, slow_idle, full];
        for _ in 0..100 {
            let p = pick(
                PickPolicy::LeastLoaded,
                &c,
                8,
                PickChoices::Two,
                0,
                &mut rng,
            );
            assert_ne!(p.index, 1);
        }
        // Ties among all go to a random one of the tied, not the first.
        let idle = [host(0, Some(0.05)); 3];
        let mut won = [0; 3];
        for _ in 0..300 {
            won[pick(
                PickPolicy::LeastLoaded,
                &idle,
                8,
                PickChoices::All,
                0,
                &mut rng,
            )
            .index] += 1;
        }
        assert!(won.iter().all(|&w| w > 50), "{won:?}");
    }

    #[test]
    fn known_slots_price_the_wait_beyond_them_and_each_busy_one() {
        let slots = |load, latency| Candidate {
            slots: Some(4),
            ..host(load, Some(latency))
        };
        let slow_idle = slots(0, 0.100);
        // Three of four slots busy: the fourth is free, so 50 ms × 1.19
        // beats the idle slow host's 100 ms (latency × (load + 1) said
        // 200 ms).
        assert_eq!(
            between(slow_idle, slots(3, 0.050), PickPolicy::LeastLoaded),
            1
        );
        // Each request beyond the slots waits a quarter of the latency,
        // and all four busy slots add a quarter: 5 in flight,
        // 50 ms × (1 + 2/4) × 1.25 = 93.75 ms, still under 100 ms; 6 in
        // flight, 50 ms × (1 + 3/4) × 1.25 = 109.4 ms, loses.
        assert_eq!(
            between(slow_idle, slots(5, 0.050), PickPolicy::LeastLoaded),
            1
        );
        assert_eq!(
            between(slow_idle, slots(6, 0.050), PickPolicy::LeastLoaded),
            0
        );
        // Among hosts with free slots at equal latency the one with fewer
        // busy, by a sixteenth of the latency per request; a full host
        // loses to one with a free slot.
        assert!((cost(&slots(0, 0.05), 1.0) - 0.05).abs() < 1e-12);
        assert!((cost(&slots(1, 0.05), 1.0) - 0.053125).abs() < 1e-12);
        assert!((cost(&slots(3, 0.05), 1.0) - 0.059375).abs() < 1e-12);
        assert_eq!(
            between(slots(1, 0.050), slots(0, 0.050), PickPolicy::LeastLoaded),
            1
        );
        assert_eq!(
            between(slots(2, 0.050), slots(3, 0.050), PickPolicy::LeastLoaded),
            0
        );
        assert_eq!(
            between(slots(4, 0.050), slots(3, 0.050), PickPolicy::LeastLoaded),
            1
        );
        // Unknown slots keep latency × (load + 1).
        assert!((cost(&host(3, Some(0.05)), 1.0) - 0.2).abs() < 1e-12);
    }

    #[test]
    fn a_host_without_answers_costs_the_mean_latency_of_the_others() {
        // Mean of the known: (0.1 + 0.3) / 2 = 0.2, so the newcomer with
        // one in flight costs 0.4, more than 0.1 × 2 and less than 0.3 × 2.
        let c = [host(1, None), host(1, Some(0.100)), host(1, Some(0.300))];
        assert!((mean_latency(&c) - 0.2).abs() < 1e-12);
        assert!(cost(&c[0], 0.2) > cost(&c[1], 0.2));
        assert!(cost(&c[0], 0.2) < cost(&c[2], 0.2));
        // Beside one known host it costs that host's latency, so load
        // decides: idle newcomer 0.1 × 1 against 0.1 × 2.
        assert_eq!(between(host(0, None), c[1], PickPolicy::LeastLoaded), 0);
        assert_eq!(between(host(2, None), c[1], PickPolicy::LeastLoaded), 1);
        // Nobody known: loads alone.
        assert_eq!(mean_latency(&loads(&[1, 2])), 1.0);
    }

    #[test]
    fn prefix_affinity_ignores_latency_until_load_passes_the_threshold() {
        // The prefix holder is the slow host: within the threshold it
        // still wins (its cache saves the prefill).
        let mut holder = host(2, Some(0.100));
        holder.matched = 5;
        let fast = host(0, Some(0.050));
        let pick_for = |holder| {
            let mut rng = StdRng::seed_from_u64(1);
            pick(
                PickPolicy::Prefix,
                &[holder, fast],
                2,
                PickChoices::Two,
                0,
                &mut rng,
            )
        };
        let reason = Reason::Prefix;
        assert_eq!(pick_for(holder), Pick { index: 0, reason });
        // Past it, the fallback compares costs: 100 ms × 4 vs 50 ms × 1.
        holder.load = 3;
        let reason = Reason::LoadImbalance;
        assert_eq!(pick_for(holder), Pick { index: 1, reason });
    }

    #[test]
    fn round_robin_takes_turns_and_a_lone_candidate_is_taken() {
        let mut rng = StdRng::seed_from_u64(1);
        let c = loads(&[5, 0, 0]);
        let order: Vec<usize> = (0..6)
            .map(|t| pick(PickPolicy::RoundRobin, &c, 8, PickChoices::Two, t, &mut rng).index)
            .collect();
        assert_eq!(order, [0, 1, 2, 0, 1, 2]);
        let one = pick(
            PickPolicy::Prefix,
            &loads(&[3]),
            0,
            PickChoices::Two,
            0,
            &mut rng,
        );
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
        let p = pick(PickPolicy::Prefix, &c, 2, PickChoices::Two, 0, &mut rng);
        assert_eq!(
            p,
            Pick {
                index: 0,
                reason: Reason::Prefix
            }
        );
        c[0].load = 3; // 3 > 0 + 2: load wins
        let p = pick(PickPolicy::Prefix, &c, 2, PickChoices::Two, 0, &mut rng);
        assert_eq!(p.reason, Reason::LoadImbalance);
        // Equal matches: the less loaded holder.
        c[0].load = 1;
        c[2].matched = 10;
        c[2].load = 0;
        assert_eq!(
            pick(PickPolicy::Prefix, &c, 2, PickChoices::Two, 0, &mut rng).index,
            2
        );
    }

    #[test]
    fn without_a_match_rendezvous_decides_and_agrees_across_orders() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut c = loads(&[0, 0, 0]);
        c[0].rendezvous = Some(10);
        c[1].rendezvous = Some(30);
        c[2].rendezvous = Some(20);
        let p = pick(PickPolicy::Prefix, &c, 4, PickChoices::Two, 0, &mut rng);
        assert_eq!(
            p,
            Pick {
                index: 1,
                reason: Reason::Rendezvous
            }
        );
        // Another replica listing the hosts in another order agrees.
        let reversed: Vec<Candidate> = c.iter().rev().copied().collect();
        assert_eq!(
            pick(
                PickPolicy::Prefix,
                &reversed,
                4,
                PickChoices::Two,
                0,
                &mut rng
            )
            .index,
            1
        );
        // The favourite already home to more than its share of the
        // conversations: the next in rendezvous order.
        c[1].heads = 3;
        c[0].heads = 1;
        assert_eq!(by_prefix(&c, &mut rng), (2, Reason::Rendezvous));
        // Home to 1 + 1 + 3 and the new one: a share of 2 each, which
        // host 1 (home to 1) is within.
        c[1].heads = 1;
        c[2].heads = 3;
        assert_eq!(
            pick(PickPolicy::Prefix, &c, 4, PickChoices::Two, 0, &mut rng).index,
            1
        );
        // The conversation's home, over its share now, still takes it
        // when no index holds the prompt; a host whose index does wins.
        c[2].home = true;
        assert_eq!(by_prefix(&c, &mut rng), (2, Reason::Home));
        c[0].matched = 3;
        assert_eq!(by_prefix(&c, &mut rng), (0, Reason::Prefix));
        // No full block: load alone.
        let p = pick(
            PickPolicy::Prefix,
            &loads(&[1, 0]),
            4,
            PickChoices::Two,
            0,
            &mut rng,
        );
        assert_eq!(
            p,
            Pick {
                index: 1,
                reason: Reason::LeastLoaded
            }
        );
    }
}
