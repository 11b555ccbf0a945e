package risk

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/monban-dev/monban"
)

func itoa(n int) string { return strconv.Itoa(n) }

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var signalType = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,47}$`)

// Signal limits: how far ahead of the clock a signal's time may be, and
// how long its free-form attributes.
const (
	maxFuture = 5 * time.Minute
	maxAttrs  = 16
	maxText   = 128
)

// validate checks and completes one signal; i names it in a batch.
func validate(s *monban.Signal, now time.Time, i int, batch bool) error {
	field := func(f string) string {
		if batch {
			return fmt.Sprintf("signals[%d].%s", i, f)
		}
		return f
	}
	bad := func(key, f string) error {
		return monban.Errorf(monban.EInvalid, key).WithField(field(f)).WithParams(map[string]any{"field": field(f)})
	}
	switch {
	case s.AccountID == "" || len(s.AccountID) > 64:
		return bad("signal.account", "account_id")
	case !signalType.MatchString(s.Type):
		return bad("signal.type", "type")
	case s.Amount < 0:
		return bad("signal.amount", "amount")
	case len(s.IP) > 64 || len(s.DeviceID) > maxText || len(s.Phone) > 20 || len(s.Currency) > 8 || len(s.Instrument) > 32:
		return bad("signal.too_long", "ip")
	case len(s.Attrs) > maxAttrs:
		return bad("signal.attrs", "attrs")
	}
	for k, v := range s.Attrs {
		if len(k) > 32 || len(v) > maxText {
			return bad("signal.attrs", "attrs")
		}
	}
	if s.At.IsZero() {
		s.At = now
	}
	if s.At.After(now.Add(maxFuture)) || s.At.Before(now.Add(-MaxWindow)) {
		return bad("signal.time", "at")
	}
	s.At = s.At.UTC()
	return nil
}

// latencies keeps a ring of recent durations for a percentile.
type latencies struct {
	mu   sync.Mutex
	ring []time.Duration
	next int
	full bool
}

func newLatencies(n int) *latencies { return &latencies{ring: make([]time.Duration, n)} }

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.ring[l.next] = d
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
	l.mu.Unlock()
}

func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	n := l.next
	if l.full {
		n = len(l.ring)
	}
	xs := slices.Clone(l.ring[:n])
	l.mu.Unlock()
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[min(len(xs)-1, int(q*float64(len(xs))))]
}

func (l *latencies) reset() {
	l.mu.Lock()
	l.next, l.full = 0, false
	l.mu.Unlock()
}
