package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/apikey"
	"github.com/monban-dev/monban/internal/identifier"
	"github.com/monban-dev/monban/internal/password"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/web"
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

// app is one wired monban node.
type app struct {
	cfg      Config
	db       *sqlstore.DB
	hasher   *password.Hasher
	accounts *account.Service
	keys     *apikey.Keys
	web      *web.Server
}

// openStore opens and migrates the configured database.
func openStore(ctx context.Context, cfg Config, clock monban.Clock) (*sqlstore.DB, error) {
	db, err := sqlstore.Open(ctx, cfg.dsn(), clock)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return db, nil
}

// newApp wires every component from the configuration.
func newApp(ctx context.Context, cfg Config, log *slog.Logger, clock monban.Clock) (*app, error) {
	secret, err := cfg.secret()
	if err != nil {
		return nil, err
	}
	db, err := openStore(ctx, cfg, clock)
	if err != nil {
		return nil, err
	}
	hasher := password.NewHasher(password.Params{Memory: cfg.HashMemoryKiB, Time: cfg.HashTime,
		Threads: cfg.HashThreads, KeyLen: 32, SaltLen: 16}, cfg.HashMaxConcurrent)
	accounts := account.New(db, hasher, password.NewPolicy("monban", "門番"), normalizer{}, clock, rand.Reader,
		account.Config{IdleTimeout: cfg.SessionIdle, AbsoluteTimeout: cfg.SessionAbsolute})
	keys := apikey.New(db, clock)
	metrics := web.NewMetrics()
	metrics.GaugeFunc("monban_password_hashes_in_flight", "Password hashes running now.", func() float64 { return float64(hasher.InFlight()) })
	accounts.OnSignInOutcome(func(o string) { metrics.SignIns.WithLabelValues(o).Inc() })
	srv, err := web.New(web.Config{Dev: cfg.Dev, TLS: cfg.TLSCert != "", Secret: secret}, web.Deps{
		Accounts: accounts, Keys: keys, DB: db, Clock: clock, Log: log, Metrics: metrics, OpenAPI: monban.OpenAPI,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &app{cfg: cfg, db: db, hasher: hasher, accounts: accounts, keys: keys, web: srv}, nil
}

func (a *app) Close() error { return a.db.Close() }

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
