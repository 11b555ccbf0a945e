package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/delivery"
	"github.com/monban-dev/monban/internal/loadtest"
	"github.com/monban-dev/monban/internal/node"
)

// outboxMessages is how many emails each outbox round queues and drains.
const outboxMessages = 5000

// outboxDrainLimit bounds one drain: a stuck worker is an error, not a hang.
const outboxDrainLimit = 2 * time.Minute

// outboxScenario: a burst of queued code emails drained by the node's own
// outbox worker (n.Run: claim, open the sealed payload, render ja/en MIME,
// send over SMTP, record "sent") into an in-process SMTP sink on loopback,
// next to the same SMTP sender (same configuration, no TLS, no AUTH) called
// directly from as many goroutines with messages rendered beforehand. The
// concurrency is the node's outbox_workers; each level gets a fresh node
// (fresh data directory or schema) configured for the sink. The goal in the
// issue is ≥ 1,000 emails/s.
//
// Each round queues outboxMessages messages (not timed), starts the worker
// and stops the clock when the last one is recorded sent. Latency here is
// the time from the start of the drain until a message was recorded sent
// (for the reference: until its send returned), so p99 is close to the
// length of the drain; the figure that matters is the rate.
func outboxScenario() benchScenario {
	return benchScenario{
		name:        "outbox",
		reference:   "SMTP.Send direct",
		concurrency: []int{8, 32},
		targets:     func(string) benchTargets { return benchTargets{OpsPerSec: 1000} },
		prepare:     prepareOutbox,
	}
}

// smtpSink is an SMTP server on loopback that accepts every message and
// counts it; it keeps nothing.
type smtpSink struct {
	srv      *smtp.Server
	port     int
	received atomic.Int64
}

func startSMTPSink() (*smtpSink, error) {
	s := &smtpSink{}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return sinkSession{s}, nil }))
	s.srv.Domain = "sink.monban-bench.localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.ErrorLog = quietSMTPLog{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go s.srv.Serve(ln)
	s.port = ln.Addr().(*net.TCPAddr).Port
	return s, nil
}

type sinkSession struct{ s *smtpSink }

func (sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss sinkSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	ss.s.received.Add(1)
	return nil
}
func (sinkSession) Reset()        {}
func (sinkSession) Logout() error { return nil }

type quietSMTPLog struct{}

func (quietSMTPLog) Printf(string, ...any) {}
func (quietSMTPLog) Println(...any)        {}

// outboxBench holds the sink and one node per worker count.
type outboxBench struct {
	env   *benchEnv
	sink  *smtpSink
	nodes map[int]*benchEnv
	ref   *delivery.SMTP
	outs  []*delivery.Outgoing // rendered messages for the reference
}

func prepareOutbox(ctx context.Context, env *benchEnv) (*benchPair, error) {
	sink, err := startSMTPSink()
	if err != nil {
		return nil, err
	}
	env.cleanup = append(env.cleanup, func() { sink.srv.Close() })
	b := &outboxBench{env: env, sink: sink, nodes: map[int]*benchEnv{}}
	// The reference sender is configured as the node configures its own
	// (node.channels) from the same settings.
	cfg := env.node.Config
	if b.ref, err = delivery.NewSMTP(delivery.SMTPConfig{Host: "127.0.0.1", Port: sink.port, From: cfg.MailFrom,
		FromName: cfg.MailFromName, TLS: delivery.SMTPNoTLS, Clock: monban.SystemClock{}}); err != nil {
		return nil, err
	}
	renderer, err := delivery.NewRenderer(cfg.MailFromName, cfg.MailFrom)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for i := range outboxMessages {
		m := outboxMessage(i, now, nil)
		out, err := renderer.Render(m, map[string]any{"code": "482913", "minutes": 10})
		if err != nil {
			return nil, err
		}
		b.outs = append(b.outs, out)
	}
	return &benchPair{run: b.run, ref: b.runRef}, nil
}

// outboxMessage is the i-th bench email, alternately Japanese and English,
// as codes.Service queues a sign-in code.
func outboxMessage(i int, now time.Time, payload []byte) *monban.Message {
	lang := "ja"
	if i%2 == 1 {
		lang = "en"
	}
	return &monban.Message{ID: monban.NewID("msg"), AccountID: "acc_outbox_bench", Channel: monban.ChannelEmail,
		Destination: "ob" + strconv.Itoa(i) + "@example.jp", Template: "code." + string(monban.PurposeSignIn), Lang: lang,
		Payload: payload, Status: monban.MessageQueued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		ExpiresAt: now.Add(10 * time.Minute)}
}

// node returns the node for c outbox workers, started on first use.
func (b *outboxBench) node(ctx context.Context, c int) (*benchEnv, error) {
	if n := b.nodes[c]; n != nil {
		return n, nil
	}
	n, err := startBenchNode(ctx, b.env.pgDSN, func(cfg *node.Config) {
		cfg.SMTPHost, cfg.SMTPPort, cfg.SMTPTLS = "127.0.0.1", b.sink.port, delivery.SMTPNoTLS
		cfg.OutboxWorkers = c
	})
	if err != nil {
		return nil, fmt.Errorf("outbox node: %w", err)
	}
	b.env.cleanup = append(b.env.cleanup, n.close)
	b.nodes[c] = n
	return n, nil
}

// enqueue queues outboxMessages sealed code emails on n's store.
func (b *outboxBench) enqueue(ctx context.Context, n *benchEnv) ([]string, error) {
	box, err := n.box()
	if err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(map[string]any{"code": "482913", "minutes": 10})
	now := time.Now()
	ids := make([]string, outboxMessages)
	errs := make([]error, 8)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) || errs[w] != nil {
					return
				}
				m := outboxMessage(i, now, box.Seal(payload))
				ids[i] = m.ID
				errs[w] = n.node.DB.EnqueueMessage(ctx, m)
			}
		})
	}
	wg.Wait()
	return ids, errors.Join(errs...)
}

// run queues a burst, runs the node until every message is recorded sent
// (or failed), and checks the store and the sink agree.
func (b *outboxBench) run(ctx context.Context, o loadtest.Options) (loadtest.Result, error) {
	n, err := b.node(ctx, o.Concurrency)
	if err != nil {
		return loadtest.Result{}, err
	}
	ids, err := b.enqueue(ctx, n)
	if err != nil {
		return loadtest.Result{}, fmt.Errorf("enqueue: %w", err)
	}
	var (
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, len(ids))
		failures []error
		finals   int // messages with a final outcome
		finished = make(chan struct{})
		elapsed  time.Duration
		start    time.Time
	)
	// The hook sees every recorded attempt, after its outcome is written.
	// It replaces the node's outbox metrics counter for the bench.
	n.node.Worker.OnResult(func(_, _, outcome string) {
		mu.Lock()
		defer mu.Unlock()
		at := time.Since(start)
		switch outcome {
		case delivery.OutcomeSent:
			lat = append(lat, at)
		case delivery.OutcomeRetry:
			failures = append(failures, &loadtest.Failure{Kind: "retry", Detail: "a send will be retried"})
			return // its outcome is still to come
		default:
			failures = append(failures, &loadtest.Failure{Kind: outcome, Detail: "message not sent"})
		}
		if finals++; finals == len(ids) {
			elapsed = at
			close(finished)
		}
	})
	before := b.sink.received.Load()
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	start = time.Now()
	go func() { stopped <- n.node.Run(runCtx) }()
	timeout := time.NewTimer(outboxDrainLimit)
	defer timeout.Stop()
	select {
	case <-finished:
	case <-timeout.C:
	case <-ctx.Done():
	}
	stop()
	runErr := <-stopped
	mu.Lock()
	res := loadtest.Summarize(lat, failures, cmpDuration(elapsed, time.Since(start)))
	mu.Unlock()
	if runErr != nil {
		return res, runErr
	}
	if elapsed == 0 {
		return res, fmt.Errorf("outbox: %d of %d sent within %v", res.Ops, len(ids), outboxDrainLimit)
	}
	return res, b.check(ctx, n, ids, before)
}

func cmpDuration(d, fallback time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return fallback
}

// check confirms, outside the timing, that the store holds every message
// as sent and that the sink received each exactly once.
func (b *outboxBench) check(ctx context.Context, n *benchEnv, ids []string, before int64) error {
	for _, id := range ids {
		m, err := n.node.DB.MessageByID(ctx, id)
		if err != nil {
			return fmt.Errorf("outbox check %s: %w", id, err)
		}
		if m.Status != monban.MessageSent {
			return fmt.Errorf("outbox check: message %s is %s (%s)", id, m.Status, m.Reason)
		}
	}
	if got := b.sink.received.Load() - before; got != int64(len(ids)) {
		return fmt.Errorf("outbox check: the sink received %d messages for %d sent", got, len(ids))
	}
	return nil
}

// runRef sends the pre-rendered messages with the same SMTP sender directly,
// from as many goroutines as the node has outbox workers, timed as run is.
func (b *outboxBench) runRef(ctx context.Context, o loadtest.Options) (loadtest.Result, error) {
	before := b.sink.received.Load()
	lat := make([]time.Duration, len(b.outs))
	errs := make([]error, len(b.outs))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range o.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(b.outs) || ctx.Err() != nil {
					return
				}
				sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, errs[i] = b.ref.Send(sctx, b.outs[i])
				cancel()
				lat[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var ok []time.Duration
	var failed []error
	for i, err := range errs {
		if err != nil {
			failed = append(failed, &loadtest.Failure{Kind: "send", Detail: err.Error()})
			continue
		}
		ok = append(ok, lat[i])
	}
	res := loadtest.Summarize(ok, failed, elapsed)
	if got := b.sink.received.Load() - before; got != int64(res.Ops) {
		return res, fmt.Errorf("outbox reference: the sink received %d messages for %d sent", got, res.Ops)
	}
	return res, ctx.Err()
}
