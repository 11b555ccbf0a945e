// Package node wires one monban node from its configuration: the store, the
// capabilities and the HTTP server. cmd/monban, the benchmarks and the
// end-to-end tests all start nodes through it.
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

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

// Node is one wired monban node.
type Node struct {
	Config   Config
	DB       *sqlstore.DB
	Hasher   *password.Hasher
	Accounts *account.Service
	Keys     *apikey.Keys
	Web      *web.Server
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
	return &Node{Config: cfg, DB: db, Hasher: hasher, Accounts: accounts, Keys: keys, Web: srv}, nil
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

// Config is monban's whole configuration. It is read from a YAML file
// (--config or MONBAN_CONFIG), then MONBAN_* environment variables, then
// flags, each overriding the one before. The README lists every key.
type Config struct {
	Addr     string `yaml:"addr" env:"MONBAN_ADDR"`
	Data     string `yaml:"data" env:"MONBAN_DATA"`
	Database string `yaml:"database" env:"MONBAN_DATABASE"` // PostgreSQL DSN; empty: SQLite in Data
	Dev      bool   `yaml:"dev" env:"MONBAN_DEV"`
	Secret   string `yaml:"secret" env:"MONBAN_SECRET"` // hex, ≥32 bytes; empty: Data/secret.key
	LogLevel string `yaml:"log_level" env:"MONBAN_LOG_LEVEL"`
	TLSCert  string `yaml:"tls_cert" env:"MONBAN_TLS_CERT"`
	TLSKey   string `yaml:"tls_key" env:"MONBAN_TLS_KEY"`

	SessionIdle     time.Duration `yaml:"session_idle_timeout" env:"MONBAN_SESSION_IDLE_TIMEOUT"`
	SessionAbsolute time.Duration `yaml:"session_absolute_timeout" env:"MONBAN_SESSION_ABSOLUTE_TIMEOUT"`

	HashMemoryKiB     uint32 `yaml:"password_hash_memory_kib" env:"MONBAN_PASSWORD_HASH_MEMORY_KIB"`
	HashTime          uint32 `yaml:"password_hash_time" env:"MONBAN_PASSWORD_HASH_TIME"`
	HashThreads       uint8  `yaml:"password_hash_threads" env:"MONBAN_PASSWORD_HASH_THREADS"`
	HashMaxConcurrent int    `yaml:"password_hash_max_concurrent" env:"MONBAN_PASSWORD_HASH_MAX_CONCURRENT"`
}

// DefaultConfig is the configuration with nothing set.
func DefaultConfig() Config {
	return Config{
		Addr: "127.0.0.1:8080", Data: "./monban-data", LogLevel: "info",
		SessionIdle: 7 * 24 * time.Hour, SessionAbsolute: 30 * 24 * time.Hour,
		HashMemoryKiB: 19456, HashTime: 2, HashThreads: 1,
	}
}

// dsn is the database to open: the configured PostgreSQL DSN or the SQLite
// file in the data directory.
// DSN is the database to open.
func (c Config) DSN() string {
	if c.Database != "" {
		return c.Database
	}
	return filepath.Join(c.Data, "monban.db")
}

// secret returns the server secret: configured, or kept in the data
// directory (created on first start). Nodes that share a PostgreSQL
// database must share MONBAN_SECRET.
// SecretBytes returns the server secret.
func (c Config) SecretBytes() ([]byte, error) {
	if c.Secret != "" {
		b, err := hex.DecodeString(c.Secret)
		if err != nil || len(b) < 32 {
			return nil, errors.New("config: secret must be at least 32 bytes, hex-encoded (e.g. `openssl rand -hex 32`)")
		}
		return b, nil
	}
	p := filepath.Join(c.Data, "secret.key")
	if b, err := os.ReadFile(p); err == nil {
		return hex.DecodeString(strings.TrimSpace(string(b)))
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.WriteFile(p, []byte(hex.EncodeToString(b[:])+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return b[:], nil
}
