package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/monban-dev/monban/internal/loadtest"
)

// benchRow is one scenario at one concurrency: medians over the rounds.
type benchRow struct {
	Scenario    string  `json:"scenario"`
	Database    string  `json:"database"`
	Concurrency int     `json:"concurrency"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	P50         float64 `json:"p50_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	Max         float64 `json:"max_ms"`
	Errors      int     `json:"errors"` // over all rounds

	Reference string  `json:"reference"`
	RefOps    float64 `json:"reference_ops_per_sec"`
	RefP50    float64 `json:"reference_p50_ms"`
	RefP99    float64 `json:"reference_p99_ms"`
	RefErrors int     `json:"reference_errors"`

	Ratio       float64   `json:"ratio"`        // median of the rounds' ratios
	RoundRatios []float64 `json:"round_ratios"` // each round's scenario ÷ reference

	HalfRate       float64 `json:"half_rate_ops_per_sec,omitempty"` // open-loop rate: half the closed-loop median
	HalfRateP50    float64 `json:"half_rate_p50_ms,omitempty"`
	HalfRateP99    float64 `json:"half_rate_p99_ms,omitempty"`
	HalfRateErrors int     `json:"half_rate_errors,omitempty"`
	// The reference at the same open-loop rate, by the same client: the
	// latency the machine and the client add on their own.
	RefHalfRateP50 float64 `json:"reference_half_rate_p50_ms,omitempty"`
	RefHalfRateP99 float64 `json:"reference_half_rate_p99_ms,omitempty"`

	Server map[string]string `json:"server,omitempty"` // PostgreSQL settings of the run

	Targets    benchTargets   `json:"targets"`
	Pass       bool           `json:"pass"`
	Rounds     int            `json:"rounds"`
	DurationS  float64        `json:"duration_s"`
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	Samples    []string       `json:"error_samples,omitempty"`
}

// measure runs rounds of scenario and reference at concurrency c, in
// counterbalanced order (A B, B A, A B, …: drift of the machine within a
// round then favours neither side over the rounds), then, when asked, the
// half-rate latency rounds.
func measure(ctx context.Context, env *benchEnv, sc benchScenario, p *benchPair, c int, o benchOptions, log io.Writer) (benchRow, error) {
	row := benchRow{Scenario: sc.name, Database: env.database, Concurrency: c, Reference: sc.reference,
		Targets: sc.targets(env.database), Rounds: o.rounds, DurationS: o.duration.Seconds(), ErrorKinds: map[string]int{},
		Server: env.server}
	opts := loadtest.Options{Concurrency: c, Duration: o.duration}
	var runs, refs []loadtest.Result
	for r := range o.rounds {
		a, b, err := pairRun(ctx, p, opts, r%2 == 1)
		if err != nil {
			return row, err
		}
		runs, refs = append(runs, a), append(refs, b)
		row.RoundRatios = append(row.RoundRatios, round3(safeDiv(a.OpsPerSec, b.OpsPerSec)))
		row.addErrors(a)
		row.RefErrors += b.Errors
		fmt.Fprintf(log, "  %s %s c=%d round %d/%d: %.0f/s vs %s %.0f/s (%.3f)\n", sc.name, env.database, c, r+1, o.rounds,
			a.OpsPerSec, sc.reference, b.OpsPerSec, safeDiv(a.OpsPerSec, b.OpsPerSec))
	}
	row.OpsPerSec, row.RefOps = medianOf(runs, opsOf), medianOf(refs, opsOf)
	row.P50, row.P90, row.P99, row.Max = medianMS(runs, p50Of), medianMS(runs, p90Of), medianMS(runs, p99Of), medianMS(runs, maxOf)
	row.RefP50, row.RefP99 = medianMS(refs, p50Of), medianMS(refs, p99Of)
	row.Ratio = median(row.RoundRatios)
	if p.halfRate {
		if err := row.measureHalfRate(ctx, p, c, o, log); err != nil {
			return row, err
		}
	}
	row.Pass = row.passes()
	return row, nil
}

// pairRun runs the scenario and the reference once each, the reference
// first when refFirst.
func pairRun(ctx context.Context, p *benchPair, opts loadtest.Options, refFirst bool) (a, b loadtest.Result, err error) {
	if refFirst {
		if b, err = p.ref(ctx, opts); err != nil {
			return a, b, err
		}
		a, err = p.run(ctx, opts)
		return a, b, err
	}
	if a, err = p.run(ctx, opts); err != nil {
		return a, b, err
	}
	b, err = p.ref(ctx, opts)
	return a, b, err
}

// measureHalfRate sends open-loop at half the closed-loop rate, with spare
// workers so that the client never holds requests back, to the scenario
// and, in the same counterbalanced order, to the reference at the same
// rate.
func (row *benchRow) measureHalfRate(ctx context.Context, p *benchPair, c int, o benchOptions, log io.Writer) error {
	row.HalfRate = round3(row.OpsPerSec / 2)
	opts := loadtest.Options{Concurrency: 4 * c, Duration: o.duration, Rate: row.HalfRate}
	var runs, refs []loadtest.Result
	for r := range o.rounds {
		res, ref, err := pairRun(ctx, p, opts, r%2 == 1)
		if err != nil {
			return err
		}
		runs, refs = append(runs, res), append(refs, ref)
		row.HalfRateErrors += res.Errors
		row.addErrors(res)
		row.RefErrors += ref.Errors
		fmt.Fprintf(log, "  %s %s at %.0f/s round %d/%d: p50 %v p99 %v (reference at the same rate: p50 %v p99 %v)\n",
			row.Scenario, row.Database, row.HalfRate, r+1, o.rounds, res.P50, res.P99, ref.P50, ref.P99)
	}
	row.HalfRateP50, row.HalfRateP99 = medianMS(runs, p50Of), medianMS(runs, p99Of)
	row.RefHalfRateP50, row.RefHalfRateP99 = medianMS(refs, p50Of), medianMS(refs, p99Of)
	return nil
}

func (row *benchRow) addErrors(res loadtest.Result) {
	row.Errors += res.Errors
	for k, n := range res.ErrorKinds {
		row.ErrorKinds[k] += n
	}
	for _, s := range res.Samples {
		if len(row.Samples) < 5 {
			row.Samples = append(row.Samples, s)
		}
	}
}

func (row *benchRow) passes() bool {
	t := row.Targets
	return row.Errors == 0 && row.RefErrors == 0 &&
		(t.OpsPerSec == 0 || row.OpsPerSec >= t.OpsPerSec) &&
		(t.Ratio == 0 || row.Ratio >= t.Ratio) &&
		(t.HalfRateMS == 0 || (row.HalfRateP99 > 0 && row.HalfRateP99 <= t.HalfRateMS))
}

func opsOf(r loadtest.Result) float64       { return r.OpsPerSec }
func p50Of(r loadtest.Result) time.Duration { return r.P50 }
func p90Of(r loadtest.Result) time.Duration { return r.P90 }
func p99Of(r loadtest.Result) time.Duration { return r.P99 }
func maxOf(r loadtest.Result) time.Duration { return r.Max }
func round3(v float64) float64              { return float64(int64(v*1000+0.5)) / 1000 }
func ms(d time.Duration) float64            { return round3(float64(d) / float64(time.Millisecond)) }
func medianOf(rs []loadtest.Result, f func(loadtest.Result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return round3(median(v))
}

func medianMS(rs []loadtest.Result, f func(loadtest.Result) time.Duration) float64 {
	return medianOf(rs, func(r loadtest.Result) float64 { return ms(f(r)) })
}

func safeDiv(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// median of v; the mean of the middle two for an even count.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return round3((s[len(s)/2-1] + s[len(s)/2]) / 2)
}

// benchOutput prints rows as a table or as JSON lines, as they complete.
type benchOutput struct {
	w      io.Writer
	json   bool
	header bool
}

func (o *benchOutput) write(row benchRow) {
	if o.json {
		b, _ := json.Marshal(row)
		fmt.Fprintf(o.w, "%s\n", b)
		return
	}
	if !o.header {
		fmt.Fprintf(o.w, "%-11s %-8s %4s │ %10s %8s %8s %6s │ %-22s %10s %8s %8s │ %6s %7s │ %-36s │ %s\n",
			"SCEN", "DB", "CONC", "ops/s", "p50 ms", "p99 ms", "errors", "REFERENCE", "ops/s", "p50 ms", "p99 ms",
			"RATIO", "target", "at 50% rate: p50/p99 (reference)", "PASS")
		o.header = true
	}
	half := "—"
	if row.HalfRate > 0 {
		half = fmt.Sprintf("%.0f/s: %.2f/%.2f ms (ref %.2f/%.2f)", row.HalfRate, row.HalfRateP50, row.HalfRateP99,
			row.RefHalfRateP50, row.RefHalfRateP99)
	}
	target := "—"
	if row.Targets.Ratio > 0 {
		target = fmt.Sprintf("≥%.2f", row.Targets.Ratio)
	}
	if row.Targets.OpsPerSec > 0 {
		target = fmt.Sprintf("≥%.0f/s", row.Targets.OpsPerSec)
	}
	pass := map[bool]string{true: "ok", false: "MISS"}[row.Pass]
	fmt.Fprintf(o.w, "%-11s %-8s %4d │ %10.1f %8.2f %8.2f %6d │ %-22s %10.1f %8.2f %8.2f │ %6.3f %7s │ %-36s │ %s\n",
		row.Scenario, row.Database, row.Concurrency, row.OpsPerSec, row.P50, row.P99, row.Errors,
		row.Reference, row.RefOps, row.RefP50, row.RefP99, row.Ratio, target, half, pass)
	if len(row.Samples) > 0 {
		fmt.Fprintf(o.w, "        errors %v, e.g. %q\n", row.ErrorKinds, row.Samples[0])
	}
}
