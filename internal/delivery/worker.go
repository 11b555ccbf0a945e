package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/seal"
)

// Store is the outbox as the worker needs it. Each mark is conditional on
// the message still being "sending"; applied is false when another worker
// or a receipt got there first.
type Store interface {
	ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]monban.Message, error)
	MarkSent(ctx context.Context, id, provider, providerID string, now time.Time) (applied bool, err error)
	MarkRetry(ctx context.Context, id string, next time.Time, reason string, now time.Time) (applied bool, err error)
	MarkFailed(ctx context.Context, id, reason string, now time.Time) (applied bool, err error)
	MarkAbandoned(ctx context.Context, id, reason string, now time.Time) (applied bool, err error)
}

// Config tunes the worker; zero fields take the defaults.
type Config struct {
	Concurrency int           // sends in flight at once (8)
	Lease       time.Duration // how long a claim holds a message (1m); longer than SendTimeout
	MaxAttempts int           // then abandoned (8)
	BackoffBase time.Duration // first retry delay ceiling (2s)
	BackoffCap  time.Duration // largest retry delay (10m)
	Poll        time.Duration // how often Run looks for due messages unwoken (1s)
	Batch       int           // most messages claimed at once (Concurrency)
	SendTimeout time.Duration // one send's limit (30s)
	// Rand returns a uniform int64 in [0, n), for the backoff jitter
	// (math/rand/v2's Int64N).
	Rand func(n int64) int64
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.Batch <= 0 {
		c.Batch = c.Concurrency
	}
	def(&c.Lease, time.Minute)
	def(&c.BackoffBase, 2*time.Second)
	def(&c.BackoffCap, 10*time.Minute)
	def(&c.Poll, time.Second)
	def(&c.SendTimeout, 30*time.Second)
	if c.Rand == nil {
		c.Rand = rand.Int64N
	}
	return c
}

// Worker sends outbox messages: claim what is due, send each on its
// channel, record the outcome. Several workers (on several nodes) share one
// outbox; the claim's lease keeps them off each other's messages.
type Worker struct {
	store    Store
	senders  map[monban.Channel]Sender
	box      *seal.Box
	render   *Renderer
	clock    monban.Clock
	log      *slog.Logger
	cfg      Config
	wake     chan struct{}
	busy     atomic.Int64 // sends in flight
	more     atomic.Bool  // the last claim was cut short: claim again when a slot frees
	onResult func(channel, provider, outcome string)
}

// Outcomes passed to OnResult.
const (
	OutcomeSent      = "sent"
	OutcomeRetry     = "retry"
	OutcomeFailed    = "failed"
	OutcomeAbandoned = "abandoned"
)

// New returns a worker; Run starts it.
func New(store Store, senders map[monban.Channel]Sender, box *seal.Box, renderer *Renderer,
	clock monban.Clock, log *slog.Logger, cfg Config) *Worker {
	return &Worker{store: store, senders: senders, box: box, render: renderer, clock: clock, log: log,
		cfg: cfg.withDefaults(), wake: make(chan struct{}, 1)}
}

// OnResult registers fn to be called after each attempt (e.g. to count
// outcomes per channel and provider in metrics). Call before Run.
func (w *Worker) OnResult(fn func(channel, provider, outcome string)) { w.onResult = fn }

// Notify wakes the worker early, e.g. right after a message is queued on
// this node. It never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends messages until ctx ends, then waits for the sends in flight
// (which are not cut short by ctx: each has its own timeout) and returns.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-poll.C:
		}
		for w.claim(ctx, &wg) {
		}
		poll.Reset(w.cfg.Poll)
	}
}

// claim takes as many due messages as there are free slots and starts
// sending them; it reports whether more may be waiting right now.
func (w *Worker) claim(ctx context.Context, wg *sync.WaitGroup) bool {
	w.more.Store(true) // before counting, so a send finishing meanwhile wakes us
	free := w.cfg.Concurrency - int(w.busy.Load())
	if free <= 0 {
		return false // a finishing send wakes us
	}
	w.more.Store(false)
	limit := min(free, w.cfg.Batch)
	msgs, err := w.store.ClaimMessages(ctx, w.clock.Now(), w.cfg.Lease, limit)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("outbox: claim", "err", err)
		}
		return false
	}
	for i := range msgs {
		w.busy.Add(1)
		wg.Go(func() {
			w.deliver(ctx, &msgs[i])
			w.busy.Add(-1)
			if w.more.Load() {
				w.Notify()
			}
		})
	}
	return len(msgs) == limit
}

// RunOnce claims one batch, sends it (at most Concurrency at once) and
// returns how many messages it handled. For tests and one-shot commands.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	msgs, err := w.store.ClaimMessages(ctx, w.clock.Now(), w.cfg.Lease, w.cfg.Batch)
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range msgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			w.deliver(ctx, &msgs[i])
		})
	}
	wg.Wait()
	return len(msgs), nil
}

// deliver makes one attempt at m and records its outcome. Neither the
// payload nor the rendered text is ever logged: they hold the code.
func (w *Worker) deliver(ctx context.Context, m *monban.Message) {
	// Shutting down does not cut a send short, so its outcome is recorded.
	ctx = context.WithoutCancel(ctx)
	sender := w.senders[m.Channel]
	if sender == nil {
		w.record(ctx, m, "", "", Permanent("no sender for channel "+string(m.Channel), nil))
		return
	}
	out, err := w.prepare(m)
	if err != nil {
		w.record(ctx, m, sender.Provider(), "", err)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	providerID, err := sender.Send(sctx, out)
	cancel()
	w.record(ctx, m, sender.Provider(), providerID, err)
}

// prepare opens the payload and renders the message; failures here are
// permanent.
func (w *Worker) prepare(m *monban.Message) (*Outgoing, error) {
	params := map[string]any{}
	if len(m.Payload) > 0 {
		plain, err := w.box.Open(m.Payload)
		if err != nil {
			return nil, Permanent("payload cannot be opened", err)
		}
		if err := json.Unmarshal(plain, &params); err != nil {
			return nil, Permanent("payload is not JSON", errors.New("bad payload")) // no detail: it may quote the code
		}
	}
	out, err := w.render.Render(m, params)
	if err != nil {
		return nil, Permanent("cannot render", err)
	}
	return out, nil
}

// record stores the outcome of one attempt: sent, retry later, failed, or
// abandoned when the attempts are used up.
func (w *Worker) record(ctx context.Context, m *monban.Message, provider, providerID string, sendErr error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	now := w.clock.Now()
	var outcome, reason string
	var applied bool
	var err error
	p, permanent := IsPermanent(sendErr)
	switch {
	case sendErr == nil:
		outcome = OutcomeSent
		applied, err = w.store.MarkSent(ctx, m.ID, provider, providerID, now)
	case permanent:
		outcome, reason = OutcomeFailed, clip(p.Reason, 500)
		applied, err = w.store.MarkFailed(ctx, m.ID, reason, now)
	case m.Attempts >= w.cfg.MaxAttempts:
		outcome, reason = OutcomeAbandoned, clip(sendErr.Error(), 500)
		applied, err = w.store.MarkAbandoned(ctx, m.ID, reason, now)
	default:
		outcome, reason = OutcomeRetry, clip(sendErr.Error(), 500)
		applied, err = w.store.MarkRetry(ctx, m.ID, now.Add(w.backoff(m.Attempts)), reason, now)
	}
	log := w.log.With("message", m.ID, "channel", m.Channel, "template", m.Template,
		"provider", provider, "attempt", m.Attempts, "outcome", outcome)
	switch {
	case err != nil:
		// The lease runs out and another attempt follows.
		log.Error("outbox: record outcome", "err", err)
	case !applied:
		log.Warn("outbox: message changed while sending; outcome dropped")
	case sendErr != nil:
		log.Warn("outbox: send", "reason", reason, "err", sendErr)
	default:
		log.Info("outbox: sent", "provider_id", providerID)
	}
	if w.onResult != nil {
		w.onResult(string(m.Channel), provider, outcome)
	}
}

// backoff is the delay before the attempt after attempt n (1-based):
// exponential, capped, with full jitter so retries from many messages
// spread out instead of arriving together.
func (w *Worker) backoff(n int) time.Duration {
	ceil := w.cfg.BackoffCap
	if n-1 < 40 { // beyond that the shift overflows; the cap applies anyway
		ceil = min(w.cfg.BackoffBase<<(n-1), w.cfg.BackoffCap)
	}
	if ceil <= 0 {
		ceil = w.cfg.BackoffCap
	}
	return time.Duration(w.cfg.Rand(int64(ceil) + 1))
}
