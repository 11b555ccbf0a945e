package pacing

import (
	"context"
	"testing"
	"time"
)

// The cheap path is padded to at least the costly path's average; the
// costly path is not slowed beyond its own average. The checks use lower
// bounds only (padding never undershoots), so a busy machine cannot make
// the test flaky.
func TestPacerPadsToTheCostlyAverage(t *testing.T) {
	var p Pacer
	ctx := context.Background()
	cheap := time.Now()
	p.Done(ctx, cheap, false)
	if d := time.Since(cheap); d > 50*time.Millisecond {
		t.Fatalf("with no costly answer seen yet, a cheap one waited %v", d)
	}
	// Three costly answers that "took" 30 ms: their start lies 30 ms back.
	for range 3 {
		p.Done(ctx, time.Now().Add(-30*time.Millisecond), true)
	}
	if avg := p.Average(); avg < 30*time.Millisecond {
		t.Fatalf("average %v, want ≥ 30ms", avg)
	}
	start := time.Now()
	p.Done(ctx, start, false)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("cheap answer took %v, want padded to ≥ 30ms", d)
	}
}

func TestPacerStopsWithContext(t *testing.T) {
	var p Pacer
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An hour-long costly answer sets the average (a capped wait); it is
	// recorded with the cancelled context too, so it returns at once.
	p.Done(ctx, time.Now().Add(-time.Hour), true)
	if p.Average() < time.Hour {
		t.Fatalf("average %v, want an hour", p.Average())
	}
	start := time.Now()
	p.Done(ctx, start, false)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a cancelled request still waited %v", d)
	}
}

// TestPacerTargetsAboveTheMedian: an answer of exactly the median's length,
// on either path, is still padded, so that both paths mostly end by the
// same wait (and carry the same timer lateness).
func TestPacerTargetsAboveTheMedian(t *testing.T) {
	var p Pacer
	ctx := context.Background()
	for range 3 {
		p.Done(ctx, time.Now().Add(-32*time.Millisecond), true)
	}
	for _, costly := range []bool{true, false} {
		start := time.Now().Add(-p.Average())
		p.Done(ctx, start, costly)
		if d, want := time.Since(start), 32*time.Millisecond+32*time.Millisecond/8; d < want {
			t.Errorf("costly=%v: an answer of the median's length took %v in all, want ≥ %v", costly, d, want)
		}
	}
}
