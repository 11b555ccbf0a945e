// Package pacing evens out how long answers take where their duration must
// not tell whether an account (or a case, a notice) exists: a wrong
// password for a real account costs more than one for a name nobody has,
// login help for a real account issues a code, a support request about a
// real account writes a webhook event. Equalising the work itself is not
// always possible, so every answer of a paced use case ends at the same
// target: a little above a high quantile of the costly path's work, so
// that nearly every answer on both paths ends by the same wait rather than
// by its own work (and carries the same timer lateness).
//
// One Pacer serves one use case (a route). The web layer opens a Pace per
// request (Begin) and waits on it just before the answer goes out;
// capabilities only say what they know, through the request's context:
// Costly (this answer took the path that costs more), Skip (this answer
// proved a secret and tells nothing a stranger could use) and After (work
// that differs between the paths and must not run before the answer).
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

// quantile is the share of answers whose own work ends before the estimate;
// answers end a quarter above it. Both are high because a loaded machine
// widens the work's spread: with the 90th percentile and an eighth, on two
// busy cores, a tenth of a support request's known-account answers still
// ended by their own work and the medians differed by 2.5–6 %; with these,
// under 1 %.
const (
	quantile   = 0.95
	marginDiv  = 4
	warmUp     = 8 // answers averaged before the estimate starts stepping
	stepDivide = 16
)

// Pacer holds the running estimates of one use case. The zero value is
// ready; it is safe for concurrent use.
type Pacer struct {
	// Floor is the least time an answer takes. It sets the target while
	// the work's own spread is under it: on a busy machine a few
	// milliseconds of scheduling delay come and go between any two
	// answers, and an answer that ends by this wait is late by the same
	// amount whichever path it took.
	Floor time.Duration

	mu     sync.Mutex
	all    estimate // every answer's work
	costly estimate // the answers marked Costly
}

// estimate follows a high quantile of durations: each one moves it a step
// up (if longer) or a nineteenth of a step down, so a rare slow answer (a
// cold cache, a pause) cannot drag every padded answer with it.
type estimate struct {
	v time.Duration
	n int
}

func (e *estimate) add(d time.Duration) {
	e.n++
	if e.n <= warmUp {
		e.v += (d - e.v) / time.Duration(e.n) // a plain average to start from
		return
	}
	step := max(e.v/stepDivide, time.Microsecond)
	if d > e.v {
		e.v += step
	} else {
		e.v -= time.Duration(float64(step) * (1 - quantile) / quantile)
	}
}

// Target is when, after its start, an answer may go out: a quarter above
// the higher of the two estimates, and not before the floor.
func (p *Pacer) Target() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target()
}

func (p *Pacer) target() time.Duration {
	t := max(p.all.v, p.costly.v)
	return min(max(t+t/marginDiv, p.Floor), maxWait)
}

// Pace is one request's answer under a Pacer.
type Pace struct {
	p      *Pacer
	start  time.Time
	mu     sync.Mutex
	costly bool
	skip   bool
	done   bool // waited (or skipped)
	out    bool // the answer is out: After runs at once
	after  []func()
}

type paceKey struct{}

// Begin opens a pace for a request that started at start (wall clock:
// pacing is about what a client measures) and returns the context that
// carries it to the capabilities.
func Begin(ctx context.Context, p *Pacer, start time.Time) (context.Context, *Pace) {
	pc := &Pace{p: p, start: start}
	return context.WithValue(ctx, paceKey{}, pc), pc
}

func from(ctx context.Context) *Pace {
	pc, _ := ctx.Value(paceKey{}).(*Pace)
	return pc
}

// Costly marks the request's answer as one of the costlier path (a real
// account): its work sets the target. Without a pace it does nothing.
func Costly(ctx context.Context) {
	if pc := from(ctx); pc != nil {
		pc.mu.Lock()
		pc.costly = true
		pc.mu.Unlock()
	}
}

// Skip lets the answer out without waiting: it proved a secret (the right
// password), so it tells nothing about which identifiers exist.
func Skip(ctx context.Context) {
	if pc := from(ctx); pc != nil {
		pc.mu.Lock()
		pc.skip = true
		pc.mu.Unlock()
	}
}

// After runs fn once the answer is out (Finish), or at once when the
// request is not paced: work that happens on one path only (waking the
// outbox worker, which then competes for the CPU and the database) must
// not lengthen that path's answers.
func After(ctx context.Context, fn func()) {
	pc := from(ctx)
	if pc == nil {
		fn()
		return
	}
	pc.mu.Lock()
	if pc.out {
		pc.mu.Unlock()
		fn()
		return
	}
	pc.after = append(pc.after, fn)
	pc.mu.Unlock()
}

// Wait records the answer's work and waits until the target, or until ctx
// ends. It is called just before the answer is written; only the first
// call counts.
func (pc *Pace) Wait(ctx context.Context) {
	elapsed := time.Since(pc.start)
	pc.mu.Lock()
	if pc.done {
		pc.mu.Unlock()
		return
	}
	pc.done = true
	costly, skip := pc.costly, pc.skip
	pc.mu.Unlock()
	if skip {
		return
	}
	p := pc.p
	p.mu.Lock()
	p.all.add(elapsed)
	if costly {
		p.costly.add(elapsed)
	}
	target := p.target()
	p.mu.Unlock()
	sleepUntil(ctx, pc.start.Add(target))
}

// Finish runs the work After deferred; call it once the answer is out.
func (pc *Pace) Finish() {
	pc.mu.Lock()
	pc.done, pc.out = true, true
	fns := pc.after
	pc.after = nil
	pc.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// sleepUntil waits until deadline or ctx's end. Timers wake up to a
// millisecond late, as much as a whole sub-ms answer takes: it sleeps to
// within spinFor of the deadline, then yields until it.
func sleepUntil(ctx context.Context, deadline time.Time) {
	wait := time.Until(deadline)
	if wait <= 0 {
		return
	}
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
