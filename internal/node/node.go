// Package node wires one monban node from its configuration: the store, the
// capabilities and the HTTP server. cmd/monban, the benchmarks and the
// end-to-end tests all start nodes through it.
package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/apikey"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/delivery"
	"github.com/monban-dev/monban/internal/desk"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/identifier"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/oidc"
	"github.com/monban-dev/monban/internal/password"
	"github.com/monban-dev/monban/internal/recovery"
	"github.com/monban-dev/monban/internal/risk"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/throttle"
	"github.com/monban-dev/monban/internal/transfer"
	"github.com/monban-dev/monban/internal/twostep"
	"github.com/monban-dev/monban/internal/web"
	"github.com/monban-dev/monban/internal/webhooks"
)

// normalizer adapts the identifier package to account.Normalizer.
type normalizer struct{}

func (normalizer) Normalize(k monban.IdentifierKind, raw string) (string, error) {
	return identifier.Normalize(k, raw)
}

func (normalizer) Classify(raw string) (monban.IdentifierKind, string, error) {
	return identifier.Classify(raw)
}

var _ account.Normalizer = normalizer{}

// Node is one wired monban node.
type Node struct {
	Config   Config
	DB       *sqlstore.DB
	Hasher   *password.Hasher
	Accounts *account.Service
	Keys     *apikey.Keys
	Codes    *codes.Service
	Worker   *delivery.Worker
	Notices  *notices.Service
	Throttle *throttle.Service
	Recovery *recovery.Service
	Factors  *factors.Service
	TwoStep  *twostep.Service
	Risk     *risk.Service
	Web      *web.Server
	Webhooks *webhooks.Service // host-app subscriptions
	OIDC     *oidc.Service     // OpenID Connect provider (oidc.go)
	Desk     *desk.Service     // support desk and bypass grants (desk.go)
	Transfer *transfer.Service // moving an account to a new device (transfer.go)
	log      *slog.Logger
	clock    monban.Clock
	hooks    *webhooks.Worker
}

// OpenStore opens and migrates the configured database.
func OpenStore(ctx context.Context, cfg Config, clock monban.Clock) (*sqlstore.DB, error) {
	db, err := sqlstore.Open(ctx, cfg.DSN(), clock)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return db, nil
}

// New wires every component from the configuration.
func New(ctx context.Context, cfg Config, log *slog.Logger, clock monban.Clock) (*Node, error) {
	secret, err := cfg.SecretBytes()
	if err != nil {
		return nil, err
	}
	db, err := OpenStore(ctx, cfg, clock)
	if err != nil {
		return nil, err
	}
	hasher := password.NewHasher(password.Params{Memory: cfg.HashMemoryKiB, Time: cfg.HashTime,
		Threads: cfg.HashThreads, KeyLen: 32, SaltLen: 16}, cfg.HashMaxConcurrent)
	keys := apikey.New(db, clock)
	box, err := seal.New(secret)
	if err != nil {
		db.Close()
		return nil, err
	}
	codeCfg := codes.DefaultConfig()
	if cfg.CodeDigits != 0 {
		codeCfg.Digits = map[monban.Purpose]int{}
		for _, p := range monban.Purposes {
			codeCfg.Digits[p] = cfg.CodeDigits
		}
	}
	if cfg.CodeLifetime != 0 {
		codeCfg.Lifetime = cfg.CodeLifetime
	}
	if len(cfg.SMSRegions) > 0 {
		codeCfg.AllowedRegions = cfg.SMSRegions
	}
	if cfg.SMSBudgetPerHour != 0 {
		codeCfg.SMSGlobalPerHour = cfg.SMSBudgetPerHour
	}
	senders, parsers, err := channels(cfg, db, secret, clock)
	if err != nil {
		db.Close()
		return nil, err
	}
	renderer, err := delivery.NewRenderer(cfg.MailFromName, cfg.MailFrom)
	if err != nil {
		db.Close()
		return nil, err
	}
	worker := delivery.New(db, senders, box, renderer, clock, log, delivery.Config{Concurrency: cfg.OutboxWorkers})
	noticeSvc := notices.New(db, box, clock, notices.Config{PublicURL: cfg.PublicURL}, worker, log)
	metrics := web.NewMetrics()
	metrics.Outbox(worker)
	metrics.GaugeFunc("monban_password_hashes_in_flight", "Password hashes running now.", func() float64 { return float64(hasher.InFlight()) })
	throttleSvc := throttle.New(db, clock, throttle.Config{PerIPHour: cfg.SignInFailuresPerIPHour,
		GlobalPerMinute: cfg.SignInFailuresPerMinute, TokenFailuresPerIPHour: cfg.TokenFailuresPerIPHour,
		Alert: guessingAlert(noticeSvc, log)}, log)
	codeSvc, err := codes.New(db, box, clock, rand.Reader, secret, codeCfg, log, throttleSvc)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("codes: %w", err)
	}
	metrics.Budget(codeSvc, log)
	riskSvc, err := wireRisk(cfg, db, box, codeSvc, noticeSvc, worker, metrics, clock, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	// Every guard is a constructor argument: a node cannot be built that
	// lets the password alone through unthrottled, unrecorded or unlocked.
	accounts, err := account.New(db, hasher, password.NewPolicy("monban", "門番"), normalizer{}, clock, rand.Reader,
		account.Config{IdleTimeout: cfg.SessionIdle, AbsoluteTimeout: cfg.SessionAbsolute,
			SignUpsPerIPHour: cfg.SignUpsPerIPHour, SignUpsPerIPDay: cfg.SignUpsPerIPDay},
		account.Guards{Throttle: throttleSvc, Risk: riskSvc, Locks: riskSvc, Limits: db})
	if err != nil {
		db.Close()
		return nil, err
	}
	accounts.OnSignInOutcome(func(o string) { metrics.SignIns.WithLabelValues(o).Inc() })
	factorSvc, twoStep, err := wireTwoStep(cfg, db, box, secret, accounts, codeSvc, noticeSvc, throttleSvc, clock, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	riskSvc.SetFactors(factorSvc)
	riskSvc.SetPasswords(accounts)
	recoverySvc, err := recovery.New(recovery.Deps{Store: db, Codes: codeSvc, Notices: noticeSvc, Throttle: throttleSvc,
		Factors: factorSvc, Locks: riskSvc,
		Hasher: hasher, Passwords: accounts, Policy: password.NewPolicy("monban", "門番"), IDs: normalizer{}, Outbox: worker,
		Clock: clock, Random: rand.Reader, Log: log}, recovery.Config{PublicURL: cfg.PublicURL})
	if err != nil {
		db.Close()
		return nil, err
	}
	// The two bindings made after construction (each pair needs the other)
	// are checked before the node serves: a missing one fails closed.
	if err := errors.Join(accounts.Wired(), riskSvc.Wired()); err != nil {
		db.Close()
		return nil, err
	}
	hooks := webhooks.New(db, box, clock)
	oidcSvc := wireOIDC(cfg, db, box, secret, clock, log)
	hookWorker := webhooks.NewWorker(db, box, nil, clock, log, webhooks.Config{})
	deskSvc := wireDesk(cfg, db, box, secret, noticeSvc, riskSvc, hasher, throttleSvc, worker, clock, log)
	transferSvc, err := wireTransfer(cfg, db, secret, accounts, codeSvc, factorSvc, noticeSvc, throttleSvc, clock, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	var dev web.DevOutbox
	if cfg.Dev {
		dev = devOutbox{db}
	}
	srv, err := web.New(web.Config{Dev: cfg.Dev, TLS: cfg.TLSCert != "", Secret: secret, SenderDomain: domainOf(cfg.MailFrom),
		SupportContact: cfg.SupportContact, PaceFloor: cfg.PaceFloor}, web.Deps{
		Accounts: accounts, Keys: keys, DB: db, Clock: clock, Log: log, Metrics: metrics, OpenAPI: monban.OpenAPI,
		Codes: codeSvc, Outbox: worker, Receipts: db, Parsers: parsers, DevOutbox: dev,
		Risk: riskSvc, Notices: noticeSvc, NoticeStore: db, Recovery: recoverySvc,
		Webhooks: hooks, Audit: db, OIDC: oidcSvc,
		Factors: factorSvc, TwoStep: twoStep,
		Desk:     deskSvc,
		Transfer: transferSvc,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Node{Config: cfg, DB: db, Hasher: hasher, Accounts: accounts, Keys: keys, Codes: codeSvc, Risk: riskSvc,
		Worker: worker, Notices: noticeSvc, Throttle: throttleSvc, Recovery: recoverySvc,
		Factors: factorSvc, TwoStep: twoStep, Web: srv, Webhooks: hooks, OIDC: oidcSvc, Desk: deskSvc, Transfer: transferSvc, log: log, clock: clock, hooks: hookWorker}, nil
}

// Run runs the node's background work — the outbox worker, the webhook
// worker and the pruning of old limit windows — until ctx ends, and
// returns once both workers have stopped.
func (n *Node) Run(ctx context.Context) error {
	go n.prune(ctx)
	go n.riskLoop(ctx)
	hooksDone := make(chan error, 1)
	go func() { hooksDone <- n.hooks.Run(ctx) }()
	err := n.Worker.Run(ctx)
	return errors.Join(err, <-hooksDone)
}

// DeliverWebhooks attempts one batch of due webhook deliveries now, as
// the webhook worker does every second (tests drive it on a fake clock).
func (n *Node) DeliverWebhooks(ctx context.Context) (int, error) { return n.hooks.RunOnce(ctx) }

// prune, every minute, marks undelivered messages whose code expired and
// drops limit windows that ended.
func (n *Node) prune(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := n.clock.Now()
			if _, err := n.DB.ExpireUndelivered(ctx, now); err != nil {
				n.log.Warn("expire undelivered messages", "err", err)
			}
			if _, err := n.DB.PruneLimitCounters(ctx, now); err != nil {
				n.log.Warn("prune limit counters", "err", err)
			}
			// A week without failures forgets a delay, not a disabled password.
			if _, err := n.DB.PruneThrottle(ctx, now.Add(-7*24*time.Hour), n.Throttle.Config().Policy.DisableAt); err != nil {
				n.log.Warn("prune throttle counters", "err", err)
			}
			if err := n.DB.PruneOIDC(ctx, now); err != nil {
				n.log.Warn("prune oidc requests and tokens", "err", err)
			}
		}
	}
}

func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return d
}

// Close releases the database.
func (n *Node) Close() error { return n.DB.Close() }

// NewLogger returns a JSON logger at the named level.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
