package loadtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// MaxDuration caps every run, whatever it is asked for.
const MaxDuration = 5 * time.Minute

// keptBodies is how many error descriptions a run keeps for diagnosis.
const keptBodies = 5

// Options say how long a run lasts and how hard it pushes.
type Options struct {
	// Concurrency is the number of workers (at least 1).
	Concurrency int
	// Duration ends the run; a request already sent is allowed to finish.
	Duration time.Duration
	// Count, when positive, ends the run after that many requests (or at
	// Duration, whichever comes first). With Count and no Duration the run
	// still stops at MaxDuration.
	Count int
	// Rate, when positive, sends that many requests per second in total
	// (open loop) instead of as fast as the workers can (closed loop).
	// Latency is then measured from when each request was due, so a
	// server that falls behind is charged for the queue it causes.
	Rate float64
}

func (o Options) validate() error {
	if o.Concurrency < 1 {
		return errors.New("loadtest: concurrency must be at least 1")
	}
	if o.Duration <= 0 && o.Count <= 0 {
		return errors.New("loadtest: a duration or a count is needed")
	}
	if o.Rate < 0 {
		return errors.New("loadtest: negative rate")
	}
	return nil
}

func (o Options) limit() time.Duration {
	if o.Duration <= 0 || o.Duration > MaxDuration {
		return MaxDuration
	}
	return o.Duration
}

// Failure is why one operation did not succeed: Kind groups failures in the
// result ("status 503", "transport", "check"); Detail (a body, an error
// message) is kept for the first few.
type Failure struct {
	Kind   string
	Detail string
}

func (f *Failure) Error() string { return f.Kind + ": " + f.Detail }

// Result is what a run measured. Latencies are of successful operations.
type Result struct {
	Ops       int           // successful operations
	Errors    int           // failed operations
	Elapsed   time.Duration // from the first send to the last answer
	OpsPerSec float64       // Ops / Elapsed
	P50       time.Duration
	P90       time.Duration
	P99       time.Duration
	Max       time.Duration
	// ErrorKinds counts failures by kind.
	ErrorKinds map[string]int
	// Samples are the first few failures, for diagnosis.
	Samples []string
}

// Func is one operation. worker is the worker's index and seq counts the
// operations of the whole run, so callers can spread requests over
// accounts or tokens. A *Failure error is counted under its kind; any other
// error under "error".
type Func func(ctx context.Context, worker int, seq uint64) error

// worker is one worker's record; merged once at the end, so recording a
// latency takes no lock.
type worker struct {
	lat      []time.Duration
	errors   int
	kinds    map[string]int
	samples  []string
	deadline time.Time
}

func (w *worker) fail(err error) {
	w.errors++
	kind, detail := "error", err.Error()
	var f *Failure
	if errors.As(err, &f) {
		kind, detail = f.Kind, f.Detail
	}
	if w.kinds == nil {
		w.kinds = map[string]int{}
	}
	w.kinds[kind]++
	if len(w.samples) < keptBodies {
		w.samples = append(w.samples, kind+": "+detail)
	}
}

// RunFunc calls fn from o.Concurrency goroutines until o.Duration passes or
// o.Count operations have run, and measures each call.
func RunFunc(ctx context.Context, o Options, fn Func) (Result, error) {
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.limit()+time.Minute) // a stuck call cannot outlive the cap by much
	defer cancel()
	var (
		seq     counter
		workers = make([]*worker, o.Concurrency)
		wg      sync.WaitGroup
		start   = time.Now()
		stop    = start.Add(o.limit())
	)
	var ticks <-chan time.Time
	if o.Rate > 0 {
		ticks = schedule(ctx, start, stop, o.Rate, o.Count, o.Concurrency)
	}
	for i := range workers {
		w := &worker{lat: make([]time.Duration, 0, 1024), deadline: stop}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ticks != nil {
				w.paced(ctx, i, ticks, &seq, fn)
			} else {
				w.closed(ctx, i, o.Count, &seq, fn)
			}
		}()
	}
	wg.Wait()
	return merge(workers, time.Since(start)), ctx.Err()
}

// closed sends back to back until the deadline or the count.
func (w *worker) closed(ctx context.Context, id, count int, seq *counter, fn Func) {
	for ctx.Err() == nil {
		n, ok := seq.next(count)
		if !ok {
			return
		}
		t0 := time.Now()
		if !t0.Before(w.deadline) {
			return
		}
		if err := fn(ctx, id, n); err != nil {
			w.fail(err)
			continue
		}
		w.lat = append(w.lat, time.Since(t0))
	}
}

// paced sends one request per tick, timed from when it was due.
func (w *worker) paced(ctx context.Context, id int, ticks <-chan time.Time, seq *counter, fn Func) {
	for due := range ticks {
		if ctx.Err() != nil {
			return
		}
		n, _ := seq.next(0)
		if err := fn(ctx, id, n); err != nil {
			w.fail(err)
			continue
		}
		w.lat = append(w.lat, time.Since(due))
	}
}

// schedulerTick is the shortest sleep of the open-loop scheduler. Shorter
// sleeps release requests closer to when they are due; a request released
// late is still timed from when it was due, so the tick shows up in the
// measured latency (up to one tick), never hides it.
const schedulerTick = 200 * time.Microsecond

// schedule emits the due time of each request at rate per second until stop
// (or count requests), then closes the channel. It wakes at most every
// schedulerTick and releases every request that has come due.
func schedule(ctx context.Context, start, stop time.Time, rate float64, count, buffer int) <-chan time.Time {
	ch := make(chan time.Time, buffer)
	interval := time.Duration(float64(time.Second) / rate)
	go func() {
		defer close(ch)
		timer := time.NewTimer(0)
		defer timer.Stop()
		for i := 0; count <= 0 || i < count; i++ {
			due := start.Add(time.Duration(i) * interval)
			if !due.Before(stop) {
				return
			}
			if wait := time.Until(due); wait > 0 {
				timer.Reset(max(wait, schedulerTick))
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
			select {
			case ch <- due:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// counter hands out sequence numbers, up to a count when one is set.
type counter struct{ n atomic.Uint64 }

func (c *counter) next(count int) (uint64, bool) {
	n := c.n.Add(1) - 1
	return n, count <= 0 || n < uint64(count)
}

func merge(workers []*worker, elapsed time.Duration) Result {
	r := Result{Elapsed: elapsed, ErrorKinds: map[string]int{}}
	var lat []time.Duration
	for _, w := range workers {
		lat = append(lat, w.lat...)
		r.Errors += w.errors
		for k, n := range w.kinds {
			r.ErrorKinds[k] += n
		}
		for _, s := range w.samples {
			if len(r.Samples) < keptBodies {
				r.Samples = append(r.Samples, s)
			}
		}
	}
	r.Ops = len(lat)
	if elapsed > 0 {
		r.OpsPerSec = float64(r.Ops) / elapsed.Seconds()
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50, r.P90, r.P99 = quantile(lat, 0.50), quantile(lat, 0.90), quantile(lat, 0.99)
		r.Max = lat[len(lat)-1]
	}
	return r
}

// quantile is the nearest-rank quantile of sorted.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// String is a one-line summary.
func (r Result) String() string {
	s := fmt.Sprintf("%d ops in %v (%.0f/s), p50 %v p90 %v p99 %v max %v, %d errors",
		r.Ops, r.Elapsed.Round(time.Millisecond), r.OpsPerSec, r.P50, r.P90, r.P99, r.Max, r.Errors)
	if len(r.ErrorKinds) > 0 {
		kinds := make([]string, 0, len(r.ErrorKinds))
		for k := range r.ErrorKinds {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			s += fmt.Sprintf(" [%s ×%d]", k, r.ErrorKinds[k])
		}
	}
	return s
}

// Summarize makes a Result of latencies and failures measured elsewhere,
// e.g. a burst of queued work whose completion times are observed by a
// callback rather than by a worker of this package. Errors are counted as
// by RunFunc: a *Failure under its kind, anything else under "error".
func Summarize(lat []time.Duration, errs []error, elapsed time.Duration) Result {
	w := &worker{lat: slices.Clone(lat)}
	for _, err := range errs {
		w.fail(err)
	}
	return merge([]*worker{w}, elapsed)
}
