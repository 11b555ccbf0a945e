package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/web"
)

// benchEnv is one freshly started node serving on loopback, with what the
// scenarios share: an API key and a set of accounts.
type benchEnv struct {
	node     *node.Node
	base     string // http://127.0.0.1:PORT
	database string // "sqlite" or "postgres"
	pgDSN    string // as given to --postgres, for further nodes
	apiKey   string
	accounts []string          // usernames, all with benchPassword
	ids      []string          // account ids, in the order of accounts
	prefix   string            // of the bench usernames; "benchuser" by default
	server   map[string]string // PostgreSQL: the server settings the figures depend on

	cleanup []func()
}

// benchAccounts is how many accounts sign-ins and sessions spread over.
const benchAccounts = 64

// benchPassword passes the password policy and is shared by every bench
// account.
const benchPassword = "vermilion-otter-harbour-lantern-93"

// startBenchNode starts a node on 127.0.0.1:0 with a temporary data
// directory and, when pgDSN is set, a fresh PostgreSQL schema. close removes
// both. edit, when set, adjusts the configuration first.
func startBenchNode(ctx context.Context, pgDSN string, edit func(*node.Config)) (env *benchEnv, err error) {
	env = &benchEnv{database: "sqlite", pgDSN: pgDSN}
	defer func() {
		if err != nil {
			env.close()
		}
	}()
	dir, err := os.MkdirTemp("", "monban-bench-")
	if err != nil {
		return nil, err
	}
	env.cleanup = append(env.cleanup, func() { os.RemoveAll(dir) })
	cfg := node.DefaultConfig()
	cfg.Data, cfg.LogLevel = dir, "info"
	cfg.SignUpsPerIPHour, cfg.SignUpsPerIPDay = -1, -1 // the bench opens its accounts from one address
	if pgDSN != "" {
		env.database = "postgres"
		if cfg.Database, err = env.freshSchema(ctx, pgDSN); err != nil {
			return nil, err
		}
	}
	if edit != nil {
		fresh := cfg.Database
		edit(&cfg)
		if cfg.Database != fresh {
			// A kept (seeded) schema: its bench accounts get names of
			// their own, as an earlier run's may be there.
			env.prefix = "bench" + randomTag()
		}
	}
	// Logs are formatted as in production and then dropped, so the run
	// pays for logging but the terminal stays readable.
	n, err := node.New(ctx, cfg, node.NewLogger(io.Discard, cfg.LogLevel), monban.SystemClock{})
	if err != nil {
		return nil, err
	}
	env.node = n
	env.cleanup = append(env.cleanup, func() { n.Close() })
	if env.base, err = env.serve(n.Web.Handler()); err != nil {
		return nil, err
	}
	if env.apiKey, _, err = n.Keys.Create(ctx, "bench"); err != nil {
		return nil, err
	}
	return env, nil
}

// serve serves h on a fresh loopback port, as monban serve would, until
// close.
func (env *benchEnv) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := web.NewHTTPServer(h)
	go srv.Serve(web.FramingListener(ln))
	// Shut down before the node's database closes (cleanups run in reverse).
	env.cleanup = append(env.cleanup, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String(), nil
}

// freshSchema creates a schema for this run and returns dsn with its
// search_path set to it; close drops the schema.
func (env *benchEnv) freshSchema(ctx context.Context, dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("--postgres: %w", err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", err
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "monban_bench_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return "", fmt.Errorf("--postgres: create schema: %w", err)
	}
	env.cleanup = append(env.cleanup, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			fmt.Fprintln(os.Stderr, "monban bench: drop schema:", err)
		}
		db.Close()
	})
	if env.server, err = serverSettings(ctx, db); err != nil {
		return "", fmt.Errorf("--postgres: read settings: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func (env *benchEnv) close() {
	for i := len(env.cleanup) - 1; i >= 0; i-- {
		env.cleanup[i]()
	}
	env.cleanup = nil
}

// ensureAccounts registers the bench accounts once, a few at a time (each
// registration costs one password hash).
func (env *benchEnv) ensureAccounts(ctx context.Context) error {
	if env.accounts != nil {
		return nil
	}
	names := make([]string, benchAccounts)
	errs := make([]error, benchAccounts)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range names {
		names[i] = fmt.Sprintf("%s%03d", cmp.Or(env.prefix, "benchuser"), i)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, errs[i] = env.node.Accounts.Register(ctx, account.RegisterInput{
				Username: names[i], Password: benchPassword, Lang: "en",
				Meta: account.Meta{IP: "127.0.0.1", UserAgent: "monban-bench", Kind: monban.SessionApp},
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench accounts: %w", err)
	}
	env.accounts = names
	return nil
}

// accountIDs returns the ids of the bench accounts, registering them first
// if need be.
func (env *benchEnv) accountIDs(ctx context.Context) ([]string, error) {
	if env.ids != nil {
		return env.ids, nil
	}
	if err := env.ensureAccounts(ctx); err != nil {
		return nil, err
	}
	ids := make([]string, len(env.accounts))
	for i, name := range env.accounts {
		accs, err := env.node.DB.AccountsByIdentifier(ctx, monban.KindUsername, name)
		if err != nil || len(accs) != 1 {
			return nil, fmt.Errorf("bench account %s: %v", name, err)
		}
		ids[i] = accs[0].ID
	}
	env.ids = ids
	return ids, nil
}

// box returns a seal box with the node's secret: it opens the payloads the
// node seals (the code in a queued message) and seals ones it can open.
func (env *benchEnv) box() (*seal.Box, error) {
	secret, err := env.node.Config.SecretBytes()
	if err != nil {
		return nil, err
	}
	return seal.New(secret)
}

// sessionTokens creates n sessions spread over the bench accounts (session
// i belongs to account i mod benchAccounts), written through the store as a
// sign-in writes them (a sign-in each would cost n password hashes), and
// returns their tokens.
func (env *benchEnv) sessionTokens(ctx context.Context, n int) ([]string, error) {
	ids, err := env.accountIDs(ctx)
	if err != nil {
		return nil, err
	}
	tokens := make([]string, n)
	now := time.Now()
	for i := range tokens {
		var b [32]byte
		rand.Read(b[:])
		tokens[i] = account.TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
		accID := ids[i%len(ids)]
		sess := &monban.Session{ID: monban.NewID("ses"), TokenHash: account.HashToken(tokens[i]), AccountID: accID,
			DeviceID: monban.NewID("dev"), Kind: monban.SessionApp, AuthLevel: monban.AuthPassword, Methods: []string{"pwd"},
			IP: "127.0.0.1", UserAgent: "monban-bench", CreatedAt: now, LastSeenAt: now,
			ExpiresAt: now.Add(env.node.Config.SessionAbsolute)}
		dev := &monban.Device{ID: sess.DeviceID, AccountID: accID, Kind: monban.SessionApp, Label: "monban-bench",
			CreatedAt: now, LastSeenAt: now}
		ev := monban.AuditEvent{At: now, AccountID: accID, Action: monban.AuditSignedIn, IP: sess.IP, UserAgent: sess.UserAgent,
			Detail: map[string]string{"session_id": sess.ID, "device_id": dev.ID}}
		if err := env.node.DB.CreateSession(ctx, sess, dev, ev); err != nil {
			return nil, fmt.Errorf("bench session: %w", err)
		}
	}
	return tokens, nil
}

// benchServerSettings are the PostgreSQL settings a figure depends on;
// every row of a PostgreSQL run carries them (docs/operations.md says why).
var benchServerSettings = []string{"server_version", "shared_buffers", "max_wal_size", "checkpoint_timeout",
	"wal_compression", "synchronous_commit"}

func serverSettings(ctx context.Context, db *sql.DB) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range benchServerSettings {
		var v string
		if err := db.QueryRowContext(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}
