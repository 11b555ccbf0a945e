package risk

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// Bucket resolutions. A window reads the coarsest that still fits it
// whole: minutes up to two hours, hours up to two days, days beyond, so a
// count over any window is at most 120 buckets.
var resolutions = []time.Duration{time.Minute, time.Hour, 24 * time.Hour}

// MaxWindow is the longest window a rule may read; signals are kept as
// long by default.
const MaxWindow = 90 * 24 * time.Hour

// resFor returns the bucket size a window of w reads.
func resFor(w time.Duration) time.Duration {
	switch {
	case w <= 2*time.Hour:
		return time.Minute
	case w <= 48*time.Hour:
		return time.Hour
	}
	return 24 * time.Hour
}

// align returns the start of the bucket of size res that holds t.
func align(t time.Time, res time.Duration) time.Time {
	us, r := t.UnixMicro(), res.Microseconds()
	start := us - us%r
	if us < 0 && us%r != 0 {
		start -= r
	}
	return time.UnixMicro(start).UTC()
}

// parseWindow reads "30m", "24h", "7d", "90d".
func parseWindow(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("window %q: want e.g. 10m, 24h or 90d", s)
		}
		d = time.Duration(v) * 24 * time.Hour
	} else {
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("window %q: want e.g. 10m, 24h or 90d", s)
		}
		d = v
	}
	if d < time.Minute || d > MaxWindow {
		return 0, fmt.Errorf("window %q: must be between 1m and 90d", s)
	}
	return d, nil
}

// Subject prefixes: what a bucket counts for.
const (
	byAccount = "account"
	byDevice  = "device"
	byIP      = "ip"
	byPhone   = "phone"
)

func subjectOf(by string, s *monban.Signal) string {
	switch by {
	case byAccount:
		return "a:" + s.AccountID
	case byDevice:
		if s.DeviceID != "" {
			return "d:" + s.DeviceID
		}
	case byIP:
		if s.IP != "" {
			return "i:" + s.IP
		}
	case byPhone:
		if s.Phone != "" {
			return "p:" + s.Phone
		}
	}
	return ""
}

// bucketKey identifies one bucket in memory.
type bucketKey struct {
	subject string
	res     time.Duration
	start   int64 // unix micros
	typ     string
	filter  string
}

type bucketVal struct{ n, total int64 }

// deltas merges what signals add to their buckets: per account (all, and
// by instrument and currency), per device, IP and phone (all), at each
// resolution.
func deltas(sigs []monban.Signal) map[bucketKey]bucketVal {
	out := make(map[bucketKey]bucketVal, len(sigs)*6)
	for i := range sigs {
		s := &sigs[i]
		add := func(subject, filter string) {
			for _, res := range resolutions {
				k := bucketKey{subject, res, align(s.At, res).UnixMicro(), s.Type, filter}
				v := out[k]
				v.n++
				v.total += s.Amount
				out[k] = v
			}
		}
		acc := "a:" + s.AccountID
		add(acc, "")
		if s.Instrument != "" {
			add(acc, "instrument="+s.Instrument)
		}
		if s.Currency != "" {
			add(acc, "currency="+s.Currency)
		}
		for _, by := range []string{byDevice, byIP, byPhone} {
			if sub := subjectOf(by, s); sub != "" {
				add(sub, "")
			}
		}
	}
	return out
}

func deltaRows(m map[bucketKey]bucketVal) []monban.RiskBucket {
	out := make([]monban.RiskBucket, 0, len(m))
	for k, v := range m {
		out = append(out, monban.RiskBucket{Subject: k.subject, Res: k.res, Start: time.UnixMicro(k.start).UTC(),
			Type: k.typ, Filter: k.filter, N: v.n, Total: v.total})
	}
	// A fixed order keeps concurrent upserts from deadlocking on PostgreSQL.
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		if a.Res != b.Res {
			return a.Res < b.Res
		}
		if a.Start != b.Start {
			return a.Start.Before(b.Start)
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Filter < b.Filter
	})
	return out
}

// view is the buckets one evaluation reads, in memory.
type view struct {
	b map[bucketKey]bucketVal
}

func newView() *view { return &view{b: map[bucketKey]bucketVal{}} }

func (v *view) addRows(rows []monban.RiskBucket) {
	for _, r := range rows {
		k := bucketKey{r.Subject, r.Res, r.Start.UnixMicro(), r.Type, r.Filter}
		x := v.b[k]
		x.n += r.N
		x.total += r.Total
		v.b[k] = x
	}
}

func (v *view) addDeltas(m map[bucketKey]bucketVal) {
	for k, d := range m {
		x := v.b[k]
		x.n += d.n
		x.total += d.total
		v.b[k] = x
	}
}

// sum returns the count and amount total of typ/filter for subject over the
// window w ending at now (rounded out to whole buckets).
func (v *view) sum(subject, typ, filter string, w time.Duration, now time.Time) (n, total int64) {
	if subject == "" {
		return 0, 0
	}
	res := resFor(w)
	end := align(now, res).UnixMicro()
	step := res.Microseconds()
	for t := align(now.Add(-w), res).UnixMicro(); t <= end; t += step {
		x := v.b[bucketKey{subject, res, t, typ, filter}]
		n += x.n
		total += x.total
	}
	return n, total
}
