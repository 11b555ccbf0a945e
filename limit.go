package monban

import (
	"net/netip"
	"strings"
	"time"
)

// Limit is one fixed-window rate limit: at most Max events per Window for
// Key, with windows aligned to unix time so every node counts in the same
// window. Key names what is counted (e.g. "code:dest:h:+819012345678");
// Err is the i18n key of the refusal (e.g. "limit.destination"). A Max of
// zero or less means no limit.
type Limit struct {
	Key    string
	Window time.Duration
	Max    int
	Err    string
	// Step, when set, makes the window roll: the tries of the last Window
	// are counted, kept in Step-long buckets, so "per day" means the last
	// 24 hours and never resets at a wall-clock hour. Zero: a fixed window
	// aligned to Window (UTC), as counters of short windows use.
	Step time.Duration
}

// Bucket returns the start of the Step-long bucket (or, for a fixed
// window, the window) that holds now.
func (l Limit) Bucket(now time.Time) time.Time {
	if l.Step > 0 {
		return Limit{Window: l.Step}.WindowStart(now)
	}
	return l.WindowStart(now)
}

// WindowStart returns the start of the window that holds now.
func (l Limit) WindowStart(now time.Time) time.Time {
	w := l.Window.Microseconds()
	us := now.UnixMicro()
	if w <= 0 {
		return time.UnixMicro(us).UTC()
	}
	start := us - us%w
	if us < 0 && us%w != 0 {
		start -= w
	}
	return time.UnixMicro(start).UTC()
}

// LimitExceeded is the internal cause of a RateLimited error that came from
// Limits: every limit that refused, so that callers can tell budgets (which
// raise an alarm) from ordinary limits. It is never shown to clients.
type LimitExceeded struct {
	Limits []Limit
}

func (e *LimitExceeded) Error() string {
	keys := make([]string, len(e.Limits))
	for i, l := range e.Limits {
		keys[i] = l.Key
	}
	return "limit exceeded: " + strings.Join(keys, ", ")
}

// IPScope is what per-IP limits count: the address, or its /64 for IPv6,
// where one subscriber commonly holds a whole /64. Anything that is not an
// address counts as itself.
func IPScope(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
