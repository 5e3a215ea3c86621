//! Outlier ejection per host (Envoy's shape): a host that fails
//! `failures` times in a row is left out of picking for the ejection time,
//! which grows while the host stays broken (1×, 2×, … up to
//! [`MAX_MULTIPLE`]× the base). A host whose ejection has ended is on
//! probation: its first answer decides, like a breaker's probe. A failure
//! ejects it again at once, for one multiple longer; a success readmits it
//! fully, and a later run of failures starts again at one multiple.
//!
//! The "at most half, never all" rule needs every host's state at once, so
//! it lives in the picker ([`capped`]). Every method takes `now`, so the
//! timing is unit-tested without sleeping.

use std::time::{Duration, Instant};

/// The longest ejection, in multiples of the base time.
pub const MAX_MULTIPLE: u32 = 10;

/// When to eject and for how long.
#[derive(Debug, Clone, Copy)]
pub struct EjectionPolicy {
    /// Consecutive failures that eject.
    pub failures: u32,
    /// The first ejection's length.
    pub base: Duration,
}

/// One host's health.
#[derive(Debug, Default)]
pub struct Health {
    consecutive_failures: u32,
    /// Set while ejected and during the probation after it.
    ejected_until: Option<Instant>,
    /// Ejections in the current run (sets the next ejection's length).
    ejections: u32,
}

impl Health {
    /// Whether the host is out of picking now.
    pub fn is_ejected(&self, now: Instant) -> bool {
        self.ejected_until.is_some_and(|until| now < until)
    }

    /// When the current ejection ends (None when not ejected).
    pub fn ejected_until(&self, now: Instant) -> Option<Instant> {
        self.ejected_until.filter(|until| now < *until)
    }

    /// An answer arrived: the run of failures ends, probation too.
    pub fn on_success(&mut self, now: Instant) {
        // A straggler that was sent before the ejection does not readmit.
        if self.is_ejected(now) {
            return;
        }
        self.consecutive_failures = 0;
        self.ejected_until = None;
    }

    /// A failure counted against the host; true when it ejected the host.
    pub fn on_failure(&mut self, policy: EjectionPolicy, now: Instant) -> bool {
        match self.ejected_until {
            // Stragglers sent before the ejection change nothing.
            Some(until) if now < until => false,
            // On probation: the first failure ejects again, for longer.
            Some(_) => self.eject(policy, now),
            None => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.consecutive_failures >= policy.failures.max(1) && self.eject(policy, now)
            }
        }
    }

    fn eject(&mut self, policy: EjectionPolicy, now: Instant) -> bool {
        // Not on probation (`ejected_until` is None after a successful
        // one): a fresh run, which starts again at one multiple.
        if self.ejected_until.is_none() {
            self.ejections = 0;
        }
        self.ejections = (self.ejections + 1).min(MAX_MULTIPLE);
        self.ejected_until = Some(now + policy.base * self.ejections);
        self.consecutive_failures = 0;
        true
    }
}

/// Which of `hosts` (ejection end times, None = in) stay out: at most half
/// of them (rounded down), so with one host nothing is capped here (the
/// caller fails the call instead) and with two, one may be out. The hosts
/// readmitted first are those whose ejection ends soonest. Returns a flag
/// per host: true = left out.
pub fn capped(ejected_until: &[Option<Instant>]) -> Vec<bool> {
    let mut out: Vec<bool> = ejected_until.iter().map(Option::is_some).collect();
    let allowed = if ejected_until.len() == 1 {
        1
    } else {
        ejected_until.len() / 2
    };
    let mut ejected: Vec<(Instant, usize)> = ejected_until
        .iter()
        .enumerate()
        .filter_map(|(i, until)| until.map(|u| (u, i)))
        .collect();
    if ejected.len() > allowed {
        ejected.sort();
        for (_, i) in &ejected[..ejected.len() - allowed] {
            out[*i] = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(10);
    const POLICY: EjectionPolicy = EjectionPolicy {
        failures: 3,
        base: BASE,
    };

    #[test]
    fn consecutive_failures_eject_and_a_success_resets_the_run() {
        let mut h = Health::default();
        let t = Instant::now();
        assert!(!h.on_failure(POLICY, t));
        assert!(!h.on_failure(POLICY, t));
        h.on_success(t);
        assert!(!h.on_failure(POLICY, t));
        assert!(!h.on_failure(POLICY, t));
        assert!(h.on_failure(POLICY, t), "the third in a row ejects");
        assert!(h.is_ejected(t + BASE - Duration::from_millis(1)));
        assert!(!h.is_ejected(t + BASE));
    }

    #[test]
    fn ejection_time_grows_on_probation_failures_and_is_capped() {
        let mut h = Health::default();
        let mut t = Instant::now();
        for _ in 0..3 {
            h.on_failure(POLICY, t);
        }
        for n in 2..=MAX_MULTIPLE + 2 {
            let until = h.ejected_until(t).unwrap();
            t = until; // probation starts
            assert!(!h.is_ejected(t));
            assert!(h.on_failure(POLICY, t), "one failure on probation ejects");
            let expected = BASE * n.min(MAX_MULTIPLE);
            assert_eq!(h.ejected_until(t), Some(t + expected), "ejection {n}");
        }
    }

    #[test]
    fn stragglers_neither_readmit_nor_extend_an_ejection() {
        let mut h = Health::default();
        let t = Instant::now();
        for _ in 0..3 {
            h.on_failure(POLICY, t);
        }
        let until = h.ejected_until(t).unwrap();
        h.on_success(t + Duration::from_secs(1));
        assert!(h.is_ejected(t + Duration::from_secs(1)));
        assert!(!h.on_failure(POLICY, t + Duration::from_secs(2)));
        assert_eq!(h.ejected_until(t), Some(until));
    }

    #[test]
    fn a_success_on_probation_readmits_and_a_later_run_starts_at_one_multiple() {
        let mut h = Health::default();
        let t = Instant::now();
        for _ in 0..3 {
            h.on_failure(POLICY, t);
        }
        let t = h.ejected_until(t).unwrap();
        h.on_failure(POLICY, t); // second ejection: 2×
        let t = h.ejected_until(t).unwrap();
        h.on_success(t);
        assert!(!h.is_ejected(t));
        assert!(
            !h.on_failure(POLICY, t),
            "readmitted: one failure is not enough"
        );
        h.on_failure(POLICY, t);
        assert!(h.on_failure(POLICY, t));
        assert_eq!(h.ejected_until(t), Some(t + BASE), "forgiven: back to 1×");
    }

    #[test]
    fn at_most_half_stay_out_and_the_soonest_back_are_readmitted() {
        let t = Instant::now();
        let s = |n: u64| Some(t + Duration::from_secs(n));
        assert_eq!(capped(&[None, None]), vec![false, false]);
        assert_eq!(capped(&[s(5), None]), vec![true, false]);
        assert_eq!(capped(&[s(5), s(9)]), vec![false, true], "never all");
        assert_eq!(
            capped(&[s(3), s(9), s(1), None, s(7)]),
            vec![false, true, false, false, true]
        );
        // A lone host may be out: the pool then fails the call at once.
        assert_eq!(capped(&[s(5)]), vec![true]);
    }
}
