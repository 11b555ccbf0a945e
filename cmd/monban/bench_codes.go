package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/loadtest"
	"github.com/monban-dev/monban/internal/seal"
)

// codeVerifyScenario: one-time code verifications through
// POST /api/v1/flows/{id}/verify with the owner's session bearer token,
// each on a fresh flow with a known code, next to the node's own
// codes.Service.Verify called directly on such flows from as many
// goroutines. The reference is the verification itself — the flow read,
// the HMAC and the CheckCode write transaction — with nothing of HTTP
// around it; the gap is the session check, JSON, and the flow status the
// endpoint answers with. The issue's goal is absolute: ≥ 3,000/s on SQLite.
func codeVerifyScenario() benchScenario {
	return benchScenario{
		name:        "code-verify",
		reference:   "codes.Service.Verify",
		concurrency: []int{4, 16},
		targets: func(db string) benchTargets {
			if db == "sqlite" {
				return benchTargets{OpsPerSec: 3000}
			}
			return benchTargets{} // reported, not held to a target
		},
		prepare: prepareCodeVerify,
	}
}

// benchFlow is an open flow whose code is known.
type benchFlow struct {
	id      string
	account int // index into the bench accounts
	code    string
}

// flowPool issues flows ahead of a measurement, outside its timing, and
// hands each out once. Flows are issued by a codes.Service of the bench's
// own on the node's store, with the node's HMAC key and seal box, but with
// the send limits and the resend cooldown off: the node's per-destination,
// per-account and per-IP limits would otherwise stop the tens of thousands
// of flows a few seconds at 3,000/s need. Verification, which is what is
// measured, goes through the node's own service and its rules untouched.
type flowPool struct {
	env    *benchEnv
	issuer *codes.Service
	box    *seal.Box
	ids    []string
	flows  []benchFlow
	serial int
	// rate is the fastest each consumer has gone, to size the next pool.
	rate map[string]float64
}

// flowPoolMax bounds one pool (memory and preparation time).
const flowPoolMax = 200_000

func newFlowPool(ctx context.Context, env *benchEnv) (*flowPool, error) {
	ids, err := env.accountIDs(ctx)
	if err != nil {
		return nil, err
	}
	box, err := env.box()
	if err != nil {
		return nil, err
	}
	secret, err := env.node.Config.SecretBytes()
	if err != nil {
		return nil, err
	}
	cfg := env.node.Codes.Config()
	cfg.PerDestinationHour, cfg.PerDestinationDay, cfg.PerAccountHour, cfg.PerIPHour = -1, -1, -1, -1
	cfg.PerPrefixHour, cfg.SMSGlobalPerHour, cfg.SMSPrefixPerHour = -1, -1, -1
	cfg.Cooldowns = []time.Duration{time.Nanosecond}
	cfg.Lifetime, cfg.FlowLifetime = time.Hour, time.Hour
	issuer, err := codes.New(env.node.DB, box, monban.SystemClock{}, rand.Reader, secret, cfg, nil, env.node.Throttle)
	if err != nil {
		return nil, err
	}
	return &flowPool{env: env, issuer: issuer, box: box, ids: ids, rate: map[string]float64{}}, nil
}

// fill issues flows until the pool holds n (at most flowPoolMax).
func (p *flowPool) fill(ctx context.Context, n int) error {
	n = min(n, flowPoolMax)
	need := n - len(p.flows)
	if need <= 0 {
		return nil
	}
	out := make([]benchFlow, need)
	errs := make([]error, 8)
	var next atomic.Int64
	var wg sync.WaitGroup
	base := p.serial
	for w := range errs {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= need || ctx.Err() != nil {
					return
				}
				acct := (base + i) % len(p.ids)
				f, code, err := p.issue(ctx, acct, base+i)
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = benchFlow{id: f, account: acct, code: code}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("issue flows: %w", err)
	}
	p.serial += need
	p.flows = append(p.flows, out...)
	return ctx.Err()
}

// issue starts a sign-in code flow to a destination of its own and reads
// the code back from the sealed payload of the message it queued.
func (p *flowPool) issue(ctx context.Context, acct, serial int) (string, string, error) {
	f, err := p.issuer.Start(ctx, codes.StartInput{AccountID: p.ids[acct], Purpose: monban.PurposeSignIn,
		Channel: monban.ChannelEmail, Destination: fmt.Sprintf("cv%07d@example.jp", serial), Lang: "en"})
	if err != nil {
		return "", "", err
	}
	msgs, err := p.env.node.DB.MessagesByFlow(ctx, f.ID)
	if err != nil || len(msgs) != 1 {
		return "", "", fmt.Errorf("flow %s: %d messages: %v", f.ID, len(msgs), err)
	}
	plain, err := p.box.Open(msgs[0].Payload)
	if err != nil {
		return "", "", err
	}
	var body struct{ Code string }
	if err := json.Unmarshal(plain, &body); err != nil || body.Code == "" {
		return "", "", fmt.Errorf("flow %s: no code in the payload: %v", f.ID, err)
	}
	return f.ID, body.Code, nil
}

// take fills the pool for one measurement by consumer and returns its flows
// and a function that drops the ones used (successfully or not) once the
// measurement is over. The pool is sized from the consumer's fastest rate
// so far, so a run ends by its duration, not by running out; if it does run
// out, the run stops early and its rate is still right.
func (p *flowPool) take(ctx context.Context, consumer string, o loadtest.Options) ([]benchFlow, []atomic.Bool, func(loadtest.Result), error) {
	rate := p.rate[consumer]
	if rate == 0 {
		rate = 4000 // a first guess above the goal
	}
	want := int(math.Ceil(rate*1.4*o.Duration.Seconds())) + 64*o.Concurrency
	if err := p.fill(ctx, want); err != nil {
		return nil, nil, nil, err
	}
	flows := p.flows
	used := make([]atomic.Bool, len(flows))
	done := func(r loadtest.Result) {
		p.rate[consumer] = max(p.rate[consumer], r.OpsPerSec)
		kept := p.flows[:0]
		for i := range flows {
			if !used[i].Load() {
				kept = append(kept, flows[i])
			}
		}
		p.flows = kept
	}
	return flows, used, done, nil
}

func prepareCodeVerify(ctx context.Context, env *benchEnv) (*benchPair, error) {
	pool, err := newFlowPool(ctx, env)
	if err != nil {
		return nil, err
	}
	// One session per bench account: token i is account i's.
	tokens, err := env.sessionTokens(ctx, len(pool.ids))
	if err != nil {
		return nil, err
	}
	headers := make([]http.Header, len(tokens))
	for i, t := range tokens {
		headers[i] = http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + t},
			"User-Agent": {"monban-bench"}}
	}
	completed := []byte(`"completed":true`)
	run := func(ctx context.Context, o loadtest.Options) (loadtest.Result, error) {
		flows, used, done, err := pool.take(ctx, "http", o)
		if err != nil {
			return loadtest.Result{}, err
		}
		o.Count = len(flows)
		t := loadtest.Target{
			Base:   env.base,
			Expect: http.StatusOK,
			Check:  func(b []byte) bool { return bytes.Contains(b, completed) },
			Request: func(seq uint64) loadtest.Request {
				f := flows[seq]
				used[seq].Store(true)
				body, _ := json.Marshal(map[string]string{"code": f.code})
				return loadtest.Request{Method: "POST", Path: "/api/v1/flows/" + f.id + "/verify",
					Header: headers[f.account], Body: body}
			},
		}
		r, err := runTarget(t)(ctx, o)
		done(r)
		return r, err
	}
	ref := func(ctx context.Context, o loadtest.Options) (loadtest.Result, error) {
		flows, used, done, err := pool.take(ctx, "direct", o)
		if err != nil {
			return loadtest.Result{}, err
		}
		o.Count = len(flows)
		r, err := loadtest.RunFunc(ctx, o, func(ctx context.Context, _ int, seq uint64) error {
			f := flows[seq]
			used[seq].Store(true)
			fl, err := env.node.Codes.Verify(ctx, f.id, pool.ids[f.account], f.code)
			if err == nil && fl.CompletedAt.IsZero() {
				return &loadtest.Failure{Kind: "verify", Detail: "flow not completed"}
			}
			return err
		})
		done(r)
		return r, err
	}
	return &benchPair{run: run, ref: ref}, nil
}
