// Package pacing evens out how long answers take where their duration must
// not tell whether an account exists: a wrong password for a real account
// costs more (a risk signal, bucket updates) than one for a name nobody
// has, and login help for a real account issues a code. Equalising the work
// itself is not always possible, so answers on both paths are padded to a
// little above the running median of the costlier path, as Authelia does
// for failed sign-ins.
package pacing

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// maxWait bounds the padding, so a slow moment on the costly path cannot
// stall every answer after it.
const maxWait = 2 * time.Second

// Pacer pads the answers of two paths to a little above the running median
// of the costlier one's work. The zero value is ready; it is safe for
// concurrent use.
type Pacer struct {
	mu  sync.Mutex
	avg time.Duration // running median of the costly path
	n   int
}

// Done is called as an answer is about to be given, with when its work
// started and whether it took the costly path. It records costly durations
// and waits until the answer has taken at least their median, or ctx ends.
// Time here is the wall clock: it is what a client measures.
func (p *Pacer) Done(ctx context.Context, start time.Time, costly bool) {
	elapsed := time.Since(start)
	p.mu.Lock()
	if costly {
		p.n++
		if p.n <= 8 {
			// A plain average to start from…
			p.avg += (elapsed - p.avg) / time.Duration(p.n)
		} else {
			// …then a running median: each answer moves the estimate a
			// small step towards itself, so a rare slow answer (a cold
			// cache, a pause) cannot drag every padded answer with it,
			// and the medians of both paths meet.
			step := max(p.avg/32, time.Microsecond)
			if elapsed > p.avg {
				p.avg += step
			} else {
				p.avg -= step
			}
		}
	}
	// The target sits an eighth above the median, so that most answers
	// on both paths end by the same wait rather than by their own work:
	// an answer that ends by its wait also carries the timer's lateness,
	// and were only the cheaper path's answers padded (the costlier
	// path's half below the median), that lateness alone would tell the
	// paths apart (unknown names answered 3–9 % slower, as measured).
	target := p.avg + p.avg/8
	p.mu.Unlock()
	wait := min(target-elapsed, maxWait)
	if wait <= 0 {
		return
	}
	deadline := time.Now().Add(wait)
	// Timers wake up to a millisecond late, as much as a whole sub-ms
	// answer takes: sleep to within a millisecond, then yield until the
	// deadline.
	if wait > spinFor {
		t := time.NewTimer(wait - spinFor)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		runtime.Gosched()
	}
}

// spinFor is the tail of a wait spent yielding instead of sleeping.
const spinFor = time.Millisecond

// Average returns the current estimate of the costly path's median.
func (p *Pacer) Average() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.avg
}
