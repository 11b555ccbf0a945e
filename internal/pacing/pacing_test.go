package pacing

import (
	"context"
	"testing"
	"time"
)

// answer runs one paced answer whose own work "took" work (its start lies
// that far back) and returns how long it took in all.
func answer(p *Pacer, work time.Duration, mark func(context.Context)) time.Duration {
	start := time.Now().Add(-work)
	ctx, pc := Begin(context.Background(), p, start)
	if mark != nil {
		mark(ctx)
	}
	pc.Wait(ctx)
	pc.Finish()
	return time.Since(start)
}

// The cheap path is padded to at least the costly path's estimate plus the
// margin. The checks use lower bounds only (padding never undershoots), so
// a busy machine cannot make the test flaky.
func TestPacerPadsToTheCostlyEstimate(t *testing.T) {
	var p Pacer
	if d := answer(&p, 0, nil); d > 50*time.Millisecond {
		t.Fatalf("with no answer seen yet, one waited %v", d)
	}
	for range 3 {
		answer(&p, 30*time.Millisecond, Costly)
	}
	if tg := p.Target(); tg < 30*time.Millisecond+30*time.Millisecond/marginDiv {
		t.Fatalf("target %v, want ≥ 30ms and the margin", tg)
	}
	if d := answer(&p, 0, nil); d < 30*time.Millisecond {
		t.Fatalf("cheap answer took %v, want padded to ≥ 30ms", d)
	}
}

// TestPacerFollowsAHighQuantile: one slow answer in fifty does not set
// the target, and three fast ones in four do not pull it under the slow
// quarter.
func TestPacerFollowsAHighQuantile(t *testing.T) {
	var e estimate
	for i := range 2000 {
		d := 10 * time.Millisecond
		if i%50 == 0 {
			d = 100 * time.Millisecond // a rare pause
		}
		e.add(d)
	}
	if e.v < 9*time.Millisecond || e.v > 20*time.Millisecond {
		t.Fatalf("estimate %v with 2 %% at 100ms, want near 10ms", e.v)
	}
	var f estimate
	for i := range 2000 {
		d := 10 * time.Millisecond
		if i%4 == 0 {
			d = 12 * time.Millisecond // a quarter on the costlier path
		}
		f.add(d)
	}
	if f.v < 11*time.Millisecond {
		t.Fatalf("estimate %v with a quarter at 12ms, want ≥ 11ms (above the 75th percentile)", f.v)
	}
}

// Skip lets an answer that proved a secret out at once, and it does not
// move the target.
func TestPacerSkip(t *testing.T) {
	var p Pacer
	for range 3 {
		answer(&p, 40*time.Millisecond, Costly)
	}
	before := p.Target()
	if d := answer(&p, 0, Skip); d > 20*time.Millisecond {
		t.Fatalf("a skipped answer waited %v", d)
	}
	if p.Target() != before {
		t.Fatalf("a skipped answer moved the target from %v to %v", before, p.Target())
	}
}

// After runs put-off work once the answer is out, and at once outside a
// pace.
func TestPacerAfter(t *testing.T) {
	ran := 0
	After(context.Background(), func() { ran++ })
	if ran != 1 {
		t.Fatal("outside a pace, After did not run at once")
	}
	var p Pacer
	ctx, pc := Begin(context.Background(), &p, time.Now())
	After(ctx, func() { ran++ })
	pc.Wait(ctx)
	if ran != 1 {
		t.Fatal("After ran before the answer was out")
	}
	pc.Finish()
	if ran != 2 {
		t.Fatal("After did not run once the answer was out")
	}
	After(ctx, func() { ran++ })
	if ran != 3 {
		t.Fatal("After, once the answer is out, did not run at once")
	}
}

func TestPacerStopsWithContext(t *testing.T) {
	var p Pacer
	for range 3 {
		answer(&p, time.Hour, Costly) // the wait is capped, and the answer is already late
	}
	if p.Target() != maxWait {
		t.Fatalf("target %v, want capped at %v", p.Target(), maxWait)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, pc := Begin(ctx, &p, start)
	pc.Wait(ctx)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a cancelled request still waited %v", d)
	}
}
