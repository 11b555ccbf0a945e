package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/loadtest"
	"github.com/monban-dev/monban/internal/risk"
)

// benchRules is a representative rules file: a follow burst, gift cards, a
// return ratio, failures per IP in shadow mode.
const benchRules = `
version: "bench.1"
breaker: {window: 10m, baseline: 24h, multiple: 10, min_locks: 1000000}
rules:
  - id: follow-burst
    on: [follow]
    when: 'count("follow", "1h") > 400'
    action: step_up
    step_up: verify_phone
  - id: gift-card
    on: [purchase]
    when: 'sum("purchase.amount", "24h", {"instrument": "gift_card"}) >= 500000'
    action: lock
    duration: 24h
    category: payment
  - id: returns
    on: [return]
    when: 'ratio("return", "purchase", "90d") >= 0.5 && count("purchase", "90d") >= 20'
    action: lock_review
    category: payment
  - id: failures-by-ip
    on: [signin.failure]
    when: 'count("signin.failure", "10m", {"by": "ip"}) >= 500'
    action: lock
    category: sign_in
    shadow: true
`

// signalsBatch is how many signals one request carries; signalsAccounts
// how many accounts they spread over.
const (
	signalsBatch    = 500
	signalsAccounts = 10000
	signalsBodies   = 64
)

// signalsScenario: host-app signal batches through POST /api/v1/signals,
// each signal stored (raw and in its buckets) and evaluated against
// benchRules inline, next to the same batches stored without rules
// in-process (risk.Service.Ingest, no HTTP): the storage floor. Rates are
// signals per second; latency is per request of 500 signals. The p99 of
// one evaluation is printed beside. Goal: ≥ 10,000 signals/s on SQLite.
func signalsScenario() benchScenario {
	return benchScenario{
		name:        "signals",
		reference:   "Ingest without rules (in-process)",
		concurrency: []int{4},
		targets: func(db string) benchTargets {
			if db == "sqlite" {
				return benchTargets{OpsPerSec: 10000}
			}
			return benchTargets{}
		},
		prepare: prepareSignals,
	}
}

func benchSignal(i int, acc string) map[string]any {
	s := map[string]any{"account_id": acc, "device_id": fmt.Sprintf("dev-%d", i%3000),
		"ip": fmt.Sprintf("198.51.%d.%d", i%200, i%250)}
	switch i % 10 {
	case 0, 1:
		s["type"], s["amount"], s["currency"], s["instrument"] = "purchase", 3000, "JPY", []string{"card", "gift_card"}[i%2]
	case 2:
		s["type"] = "return"
	default:
		s["type"] = "follow"
	}
	return s
}

func prepareSignals(ctx context.Context, env *benchEnv) (*benchPair, error) {
	rs, err := risk.Parse([]byte(benchRules))
	if err != nil {
		return nil, err
	}
	env.node.Risk.SetRules(rs)
	// Signals about unknown accounts are ignored: the accounts exist. Their
	// ids are new on every run, so a kept schema (--schema) can be
	// benchmarked again.
	prefix := fmt.Sprintf("acc_sig%d_", time.Now().UnixNano())
	accs := make([]string, signalsAccounts)
	for i := range accs {
		accs[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	if err := env.node.DB.BenchAccounts(ctx, accs, time.Now()); err != nil {
		return nil, err
	}
	bodies := make([][]byte, signalsBodies)
	batches := make([][]monban.Signal, signalsBodies)
	for b := range bodies {
		sigs := make([]map[string]any, signalsBatch)
		for i := range sigs {
			n := b*signalsBatch + i
			sigs[i] = benchSignal(n, accs[n%signalsAccounts])
			s := monban.Signal{AccountID: sigs[i]["account_id"].(string), Type: sigs[i]["type"].(string),
				DeviceID: sigs[i]["device_id"].(string), IP: sigs[i]["ip"].(string)}
			if a, ok := sigs[i]["amount"].(int); ok {
				s.Amount, s.Currency, s.Instrument = int64(a), "JPY", sigs[i]["instrument"].(string)
			}
			batches[b] = append(batches[b], s)
		}
		bodies[b], _ = json.Marshal(map[string]any{"signals": sigs})
	}
	hdr := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + env.apiKey}}
	request := func(seq uint64) loadtest.Request {
		return loadtest.Request{Method: "POST", Path: "/api/v1/signals", Header: hdr, Body: bodies[seq%signalsBodies]}
	}
	target := loadtest.Target{Base: env.base, Request: request, Expect: http.StatusAccepted}
	bare := risk.New(risk.Deps{Store: env.node.DB})
	run := func(ctx context.Context, o loadtest.Options) (loadtest.Result, error) {
		env.node.Risk.ResetLatencies()
		res, err := runTarget(target)(ctx, o)
		fmt.Fprintf(os.Stderr, "  signals: evaluation p99 %v (one signal, every rule it triggers)\n", env.node.Risk.EvalP99())
		return perSignal(res), err
	}
	ref := func(ctx context.Context, o loadtest.Options) (loadtest.Result, error) {
		res, err := loadtest.RunFunc(ctx, o, func(ctx context.Context, _ int, seq uint64) error {
			b := batches[seq%signalsBodies]
			cp := make([]monban.Signal, len(b))
			copy(cp, b)
			_, err := bare.Ingest(ctx, cp)
			return err
		})
		return perSignal(res), err
	}
	return &benchPair{run: run, ref: ref}, nil
}

// perSignal turns a result counted in batches into one counted in signals.
func perSignal(r loadtest.Result) loadtest.Result {
	r.Ops *= signalsBatch
	r.OpsPerSec *= signalsBatch
	return r
}

// rollbackLocks is how many locks each rollback round lifts
// (MONBAN_BENCH_ROLLBACK_LOCKS overrides it, e.g. 1000000).
var rollbackLocks = func() int {
	if n, err := strconv.Atoi(os.Getenv("MONBAN_BENCH_ROLLBACK_LOCKS")); err == nil && n > 0 {
		return n
	}
	return 20000
}()

// rollbackEnv reads a positive integer override of the rollback bench
// (MONBAN_BENCH_ROLLBACK_BATCH, MONBAN_BENCH_ROLLBACK_WORKERS), or 0.
func rollbackEnv(name string) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return 0
}

// rollbackScenario: risk.Service.Rollback lifting rollbackLocks locks of one
// rule (each with a notice to a verified email and an audit entry, in
// batches of 5,000 per transaction), next to lifting the same locks with a
// bare UPDATE per batch and nothing else. The concurrency is ignored (a
// rollback is one sequential command). Rates are locks per second; the
// latency is of the whole rollback. Goal: 1,000,000 locks in ≤ 60 s on
// PostgreSQL, i.e. ≥ 16,667 locks/s.
func rollbackScenario() benchScenario {
	return benchScenario{
		name:        "rollback",
		reference:   "bare UPDATE in batches",
		concurrency: []int{1},
		targets: func(db string) benchTargets {
			if db == "postgres" {
				return benchTargets{OpsPerSec: 1000000.0 / 60}
			}
			return benchTargets{}
		},
		prepare: prepareRollback,
	}
}

func prepareRollback(ctx context.Context, env *benchEnv) (*benchPair, error) {
	now := time.Now()
	ids := make([]string, rollbackLocks)
	locks := make([]monban.Lock, rollbackLocks)
	for i := range ids {
		ids[i] = monban.NewID("acc")
		locks[i] = monban.Lock{ID: monban.NewID("lck"), AccountID: ids[i], Kind: monban.LockTemp, Category: monban.CategoryPayment,
			RuleID: "bench-faulty", RuleVersion: "2021-07-08.1", Evidence: "{}",
			WaysOut: []monban.WayOut{monban.WayCode, monban.WaySupport}, CreatedAt: now}
	}
	if err := env.node.DB.BenchAccounts(ctx, ids, now); err != nil {
		return nil, err
	}
	if err := env.node.DB.BenchLocks(ctx, locks); err != nil {
		return nil, err
	}
	lockIDs := make([]string, len(locks))
	for i := range locks {
		lockIDs[i] = locks[i].ID
	}
	filter := monban.LockFilter{RuleID: "bench-faulty"}
	timed := func(ctx context.Context, f func(ctx context.Context) (int, error)) (loadtest.Result, error) {
		if err := env.node.DB.BenchRelock(ctx, "bench-faulty"); err != nil {
			return loadtest.Result{}, err
		}
		start := time.Now()
		n, err := f(ctx)
		d := time.Since(start)
		if err != nil {
			return loadtest.Result{}, err
		}
		res := loadtest.Summarize([]time.Duration{d}, nil, d)
		res.Ops, res.OpsPerSec = n, float64(n)/d.Seconds()
		if n != rollbackLocks {
			res.Errors, res.ErrorKinds = 1, map[string]int{"not every lock lifted": 1}
		}
		return res, nil
	}
	run := func(ctx context.Context, _ loadtest.Options) (loadtest.Result, error) {
		return timed(ctx, func(ctx context.Context) (int, error) {
			p, err := env.node.Risk.Rollback(ctx, risk.RollbackOptions{Filter: filter, By: "operator:bench",
				Batch: rollbackEnv("MONBAN_BENCH_ROLLBACK_BATCH"), Workers: rollbackEnv("MONBAN_BENCH_ROLLBACK_WORKERS")})
			return p.Lifted, err
		})
	}
	ref := func(ctx context.Context, _ loadtest.Options) (loadtest.Result, error) {
		return timed(ctx, func(ctx context.Context) (int, error) {
			for i := 0; i < len(lockIDs); i += 1000 {
				if err := env.node.DB.BenchLiftBare(ctx, lockIDs[i:min(i+1000, len(lockIDs))], time.Now()); err != nil {
					return 0, err
				}
			}
			return len(lockIDs), nil
		})
	}
	return &benchPair{run: run, ref: ref}, nil
}
