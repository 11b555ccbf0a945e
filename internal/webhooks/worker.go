package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/seal"
)

// Store is the delivery queue as the worker needs it.
type Store interface {
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]monban.WebhookDelivery, error)
	MarkWebhookDelivered(ctx context.Context, id string, now time.Time) (bool, error)
	MarkWebhookRetry(ctx context.Context, id string, next time.Time, reason string) (bool, error)
	MarkWebhookFailed(ctx context.Context, id, reason string, now time.Time) (bool, error)
}

// Config tunes the worker; zero fields take the defaults.
type Config struct {
	MaxAttempts int           // then failed (10)
	BackoffBase time.Duration // first retry delay ceiling (5s)
	BackoffCap  time.Duration // largest retry delay (1h)
	Timeout     time.Duration // one POST (10s)
	Lease       time.Duration // longer than Timeout (1m)
	Batch       int           // deliveries per claim (16)
	Poll        time.Duration // (1s)
	Rand        func(n int64) int64
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.Batch <= 0 {
		c.Batch = 16
	}
	def(&c.BackoffBase, 5*time.Second)
	def(&c.BackoffCap, time.Hour)
	def(&c.Timeout, 10*time.Second)
	def(&c.Lease, time.Minute)
	def(&c.Poll, time.Second)
	if c.Rand == nil {
		c.Rand = rand.Int64N
	}
	return c
}

// Worker posts due deliveries.
type Worker struct {
	store  Store
	box    *seal.Box
	client *http.Client
	clock  monban.Clock
	log    *slog.Logger
	cfg    Config
}

// NewWorker returns a worker; client may be nil (a client with cfg.Timeout).
func NewWorker(store Store, box *seal.Box, client *http.Client, clock monban.Clock, log *slog.Logger, cfg Config) *Worker {
	cfg = cfg.withDefaults()
	if client == nil {
		client = &http.Client{Timeout: cfg.Timeout}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{store: store, box: box, client: client, clock: clock, log: log, cfg: cfg}
}

// Run delivers until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := w.RunOnce(ctx); err != nil {
			w.log.WarnContext(ctx, "webhook deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce claims one batch of due deliveries and attempts each, returning
// how many it attempted.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	ds, err := w.store.ClaimWebhookDeliveries(ctx, w.clock.Now(), w.cfg.Lease, w.cfg.Batch)
	if err != nil {
		return 0, err
	}
	for _, d := range ds {
		w.attempt(ctx, d)
	}
	return len(ds), nil
}

func (w *Worker) attempt(ctx context.Context, d monban.WebhookDelivery) {
	err := w.post(ctx, d)
	now := w.clock.Now()
	switch {
	case err == nil:
		_, err = w.store.MarkWebhookDelivered(ctx, d.ID, now)
	case d.Attempts >= w.cfg.MaxAttempts:
		w.log.WarnContext(ctx, "webhook delivery failed", "delivery", d.ID, "attempts", d.Attempts, "err", err)
		_, err = w.store.MarkWebhookFailed(ctx, d.ID, clip(err.Error()), now)
	default:
		_, err = w.store.MarkWebhookRetry(ctx, d.ID, now.Add(w.backoff(d.Attempts)), clip(err.Error()))
	}
	if err != nil {
		w.log.WarnContext(ctx, "record webhook attempt", "delivery", d.ID, "err", err)
	}
}

// backoff is capped exponential with full jitter.
func (w *Worker) backoff(attempts int) time.Duration {
	ceil := w.cfg.BackoffBase << min(attempts-1, 20)
	if ceil <= 0 || ceil > w.cfg.BackoffCap {
		ceil = w.cfg.BackoffCap
	}
	return time.Duration(w.cfg.Rand(int64(ceil))) + time.Second
}

// post sends one signed attempt; only a 2xx answer counts as delivered.
func (w *Worker) post(ctx context.Context, d monban.WebhookDelivery) error {
	secret, err := w.box.Open(d.Secret)
	if err != nil {
		return fmt.Errorf("open secret: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return err
	}
	now := w.clock.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "monban-webhooks/1")
	req.Header.Set(HeaderID, d.EventID)
	req.Header.Set(HeaderTimestamp, fmt.Sprint(now.Unix()))
	req.Header.Set(HeaderSignature, Sign(secret, d.EventID, now, d.Body))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}
