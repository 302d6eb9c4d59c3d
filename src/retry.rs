//! Retrying with exponential back-off and jitter: the one policy behind
//! every retry loop in jobctl (a worker claiming work or reporting a job's
//! end, a follower polling through an api outage).
//!
//! Each delay doubles up to a cap, and is drawn at random from its upper
//! half ("equal jitter"). Without the jitter, every worker and follower that
//! lost the api at the same moment would retry in lock-step and hit it
//! together the instant it comes back; with it they spread out, while no
//! delay ever exceeds the cap — which is what the api's reaper counts on
//! after a restart (see [`REPORT`]).

use std::time::Duration;

/// A back-off policy: the first delay and the longest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    first: Duration,
    max: Duration,
}

impl Policy {
    /// Delays from about `first` up to `max`.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Policy { first, max }
    }

    /// The longest delay this policy ever waits.
    pub const fn max_delay(&self) -> Duration {
        self.max
    }

    /// A fresh back-off following this policy.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            policy: *self,
            ceiling: self.first.min(self.max),
        }
    }
}

/// Workers asking the api for work, or waiting for it at start.
pub const API: Policy = Policy::new(Duration::from_secs(1), Duration::from_secs(30));

/// Workers delivering a job's final status (or handing a job back). The
/// api's reaper waits at least twice this cap after it starts, so a report
/// held back by an outage lands before the job could be counted lost.
pub const REPORT: Policy = Policy::new(Duration::from_millis(500), Duration::from_secs(10));

/// A worker that cannot run jobs (its logs dir is read-only, say) checking
/// whether the fault has cleared.
pub const PROBE: Policy = Policy::new(Duration::from_secs(1), Duration::from_secs(15));

/// The delays of one run of retries.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: Policy,
    /// The upper bound of the next delay.
    ceiling: Duration,
}

impl Backoff {
    /// The next delay: between half the current ceiling and the ceiling,
    /// which then doubles (up to the policy's cap).
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling;
        self.ceiling = (self.ceiling * 2).min(self.policy.max);
        let half = ceiling / 2;
        let spread = (ceiling - half).as_micros() as u64;
        half + Duration::from_micros(rand::random_range(0..=spread))
    }

    /// After a success: start again from the first delay.
    pub fn reset(&mut self) {
        self.ceiling = self.policy.first.min(self.policy.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_stay_in_the_upper_half() {
        let policy = Policy::new(Duration::from_millis(100), Duration::from_millis(1000));
        let mut backoff = policy.backoff();
        let ceilings = [100, 200, 400, 800, 1000, 1000, 1000];
        for ceiling in ceilings {
            let delay = backoff.next_delay();
            let ceiling = Duration::from_millis(ceiling);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{delay:?} outside [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn delays_are_spread_not_in_lock_step() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            seen.insert(REPORT.backoff().next_delay());
        }
        assert!(seen.len() > 1, "twenty workers would retry together");
        assert!(seen.iter().all(|d| *d <= REPORT.max_delay()));
    }
}
