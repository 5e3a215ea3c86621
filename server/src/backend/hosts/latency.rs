//! A host's latency as the picker sees it: a peak EWMA, the load score of
//! Finagle's and linkerd2-proxy's balancers. Each answer's latency (to its
//! first token, or the whole answer when there is no such moment) moves a
//! time-decayed average, except that a latency above the average replaces
//! it at once (the "peak"): a host that turns slow is avoided from its first
//! slow answer, and forgiven only gradually. Reading the estimate decays it
//! towards zero by the time since the last answer, so a host that got no
//! traffic because it looked slow is tried again, and its next answer says
//! whether it still is. The picker multiplies it by the host's load plus
//! one, so a fast host with requests queued can lose to an idle slower one.
//!
//! Pure: "now" is a parameter, so the tests need no clock.

use std::time::{Duration, Instant};

/// One host's latency estimate.
#[derive(Debug, Clone, Copy, Default)]
pub struct PeakEwma {
    /// Seconds, as of `updated`.
    seconds: f64,
    /// When it last moved; None before the first observation.
    updated: Option<Instant>,
}

impl PeakEwma {
    /// Takes in one answer's latency, observed at `now`; `decay` is the
    /// time constant (after `decay` without answers, ~37% of the old
    /// estimate is left).
    pub fn observe(&mut self, latency: Duration, now: Instant, decay: Duration) {
        let observed = latency.as_secs_f64();
        self.seconds = match self.updated {
            // A slower answer than the estimate: take it whole.
            Some(_) if observed > self.seconds => observed,
            Some(at) => {
                let kept = kept(now.saturating_duration_since(at), decay);
                self.seconds * kept + observed * (1.0 - kept)
            }
            None => observed,
        };
        self.updated = Some(now);
    }

    /// The estimate in seconds at `now` (decayed towards zero since the
    /// last answer), or None before any answer.
    pub fn seconds(&self, now: Instant, decay: Duration) -> Option<f64> {
        let at = self.updated?;
        Some(self.seconds * kept(now.saturating_duration_since(at), decay))
    }
}

/// The share of an estimate left after `elapsed` with time constant `decay`.
fn kept(elapsed: Duration, decay: Duration) -> f64 {
    let tau = decay.as_secs_f64();
    if tau <= 0.0 {
        return 0.0;
    }
    (-elapsed.as_secs_f64() / tau).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAU: Duration = Duration::from_secs(10);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn nothing_is_known_before_the_first_answer_which_is_then_taken_whole() {
        let t0 = Instant::now();
        let mut e = PeakEwma::default();
        assert_eq!(e.seconds(t0, TAU), None);
        e.observe(ms(80), t0, TAU);
        assert!(close(e.seconds(t0, TAU).unwrap(), 0.080));
    }

    #[test]
    fn a_slower_answer_replaces_the_estimate_at_once() {
        let t0 = Instant::now();
        let mut e = PeakEwma::default();
        e.observe(ms(50), t0, TAU);
        e.observe(ms(400), t0 + ms(1), TAU);
        assert!(close(e.seconds(t0 + ms(1), TAU).unwrap(), 0.400));
    }

    #[test]
    fn a_faster_answer_moves_it_by_the_time_elapsed() {
        let t0 = Instant::now();
        let mut e = PeakEwma::default();
        e.observe(ms(400), t0, TAU);
        // One time constant later: e^-1 of the old, the rest the new.
        let t1 = t0 + TAU;
        e.observe(ms(50), t1, TAU);
        let kept = (-1.0f64).exp();
        let want = 0.400 * kept + 0.050 * (1.0 - kept);
        assert!(close(e.seconds(t1, TAU).unwrap(), want));
        // Answers close together barely move it: a burst of fast answers
        // does not erase a slow one at once.
        let mut e = PeakEwma::default();
        e.observe(ms(400), t0, TAU);
        for i in 1..=10 {
            e.observe(ms(50), t0 + ms(i), TAU);
        }
        let now = e.seconds(t0 + ms(10), TAU).unwrap();
        assert!(now > 0.399 && now < 0.400, "{now}");
    }

    #[test]
    fn without_answers_it_decays_towards_zero() {
        let t0 = Instant::now();
        let mut e = PeakEwma::default();
        e.observe(ms(400), t0, TAU);
        let later = e.seconds(t0 + TAU * 2, TAU).unwrap();
        assert!(close(later, 0.400 * (-2.0f64).exp()));
        // Reading does not change it.
        assert!(close(e.seconds(t0 + TAU * 2, TAU).unwrap(), later));
        // A zero time constant forgets at once.
        assert!(close(e.seconds(t0 + ms(1), Duration::ZERO).unwrap(), 0.0));
    }
}
