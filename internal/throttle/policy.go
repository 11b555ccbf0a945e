package throttle

import (
	"time"

	"github.com/monban-dev/monban"
)

// Policy is the schedule of delays and the disabling threshold.
type Policy struct {
	Free      int           // failures allowed without delay
	Base      time.Duration // the first delay, after Free failures
	Max       time.Duration // delays double up to this
	DisableAt int           // consecutive failures that disable the authenticator
}

// DefaultPolicy: five free tries, then 30 s doubling up to an hour; at 100
// consecutive failures the authenticator needs recovery. Reaching 100 takes
// an attacker about four days.
var DefaultPolicy = Policy{Free: 5, Base: 30 * time.Second, Max: time.Hour, DisableAt: 100}

// State is what a counter has recorded: consecutive failures (a success
// resets them) and when the last was claimed.
type State = monban.FailureCount

// Decision is whether one more try is allowed now.
type Decision struct {
	Allowed  bool
	Disabled bool      // the authenticator needs recovery on this counter
	RetryAt  time.Time // when not allowed and not disabled: the next allowed try
}

// Delay is the wait after failures consecutive failures.
func (p Policy) Delay(failures int) time.Duration {
	n := failures - p.Free
	if n <= 0 {
		return 0
	}
	d := p.Base
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Decide says whether a try is allowed at now given the counter's state.
func (p Policy) Decide(s State, now time.Time) Decision {
	if p.DisableAt > 0 && s.Failures >= p.DisableAt {
		return Decision{Disabled: true}
	}
	next := s.LastFailure.Add(p.Delay(s.Failures))
	if s.Failures > p.Free && now.Before(next) {
		return Decision{RetryAt: next}
	}
	return Decision{Allowed: true}
}

// DecideAll combines the decisions of several counters: disabled if any is,
// else refused until the latest RetryAt among them.
func (p Policy) DecideAll(states []State, now time.Time) Decision {
	out := Decision{Allowed: true}
	for _, s := range states {
		d := p.Decide(s, now)
		switch {
		case d.Disabled:
			return d
		case !d.Allowed:
			out.Allowed = false
			if d.RetryAt.After(out.RetryAt) {
				out.RetryAt = d.RetryAt
			}
		}
	}
	return out
}
