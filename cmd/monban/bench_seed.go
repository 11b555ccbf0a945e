package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/password"
)

const benchSeedUsage = `Usage: monban bench seed --postgres DSN --schema NAME [--accounts N] [--signals N] [--sessions N --tokens FILE]
       monban bench sessions --url URL --tokens FILE [--rounds N] [--concurrency N]

seed creates (or extends) the PostgreSQL schema NAME, migrates it and fills it
with COPY: N accounts (a username each, every tenth an email; one shared
password hash), N risk signals spread over those accounts and the last 90
days, with their per-account buckets, and N sessions whose bearer tokens are
written to FILE. Run monban bench --postgres DSN --schema NAME against it.

sessions uses every token in FILE against a running node (GET
/api/v1/account), then prints the node's process_resident_memory_bytes.
`

// seedOptions are monban bench seed's flags.
type seedOptions struct {
	dsn, schema, tokens        string
	accounts, signals, session int
}

func cmdBenchSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o seedOptions
	fs := flag.NewFlagSet("bench seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchSeedUsage); fs.PrintDefaults() }
	fs.StringVar(&o.dsn, "postgres", "", "PostgreSQL DSN (required)")
	fs.StringVar(&o.schema, "schema", "", "schema to create or extend (required)")
	fs.IntVar(&o.accounts, "accounts", 1_000_000, "accounts to add")
	fs.IntVar(&o.signals, "signals", 10_000_000, "risk signals to add")
	fs.IntVar(&o.session, "sessions", 0, "sessions to add (tokens written to --tokens)")
	fs.StringVar(&o.tokens, "tokens", "", "file for the session tokens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.dsn == "" || !schemaName.MatchString(o.schema) {
		return errors.New("bench seed: --postgres and --schema (lower-case letters, digits, _) are required")
	}
	if o.session > 0 && o.tokens == "" {
		return errors.New("bench seed: --sessions needs --tokens FILE")
	}
	dsn, err := schemaDSN(o.dsn, o.schema)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := migrateSchema(ctx, o.dsn, o.schema, dsn); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("bench seed: %w", err)
	}
	defer conn.Close(ctx)
	s := &seeder{conn: conn, out: stdout, start: start}
	ids, err := s.accounts(ctx, o.accounts)
	if err != nil {
		return err
	}
	if err := s.signals(ctx, ids, o.signals); err != nil {
		return err
	}
	if err := s.sessions(ctx, ids, o.session, o.tokens); err != nil {
		return err
	}
	s.step("analyze")
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return err
	}
	var accs, sigs int64
	conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM risk_signals)").Scan(&accs, &sigs)
	fmt.Fprintf(stdout, "seeded schema %s: %d accounts, %d signals in total; took %v\n", o.schema, accs, sigs,
		time.Since(start).Round(time.Second))
	return nil
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// schemaDSN is dsn with its search_path set to schema.
func schemaDSN(dsn, schema string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("--postgres: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// migrateSchema creates the schema if need be and applies the migrations.
func migrateSchema(ctx context.Context, dsn, schema, schemaDSN string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("bench seed: %w", err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema)
	conn.Close(ctx)
	if err != nil {
		return fmt.Errorf("bench seed: create schema: %w", err)
	}
	cfg := node.DefaultConfig()
	cfg.Database = schemaDSN
	db, err := node.OpenStore(ctx, cfg, monban.SystemClock{})
	if err != nil {
		return err
	}
	return db.Close()
}

type seeder struct {
	conn  *pgx.Conn
	out   io.Writer
	start time.Time
}

func (s *seeder) step(what string) {
	fmt.Fprintf(s.out, "%7.1fs  %s\n", time.Since(s.start).Seconds(), what)
}

// copyRows streams n rows made by row into table with COPY.
func (s *seeder) copyRows(ctx context.Context, table string, cols []string, n int, row func(i int) []any) error {
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		r := row(i)
		i++
		if i%1_000_000 == 0 {
			s.step(fmt.Sprintf("  %s: %d rows", table, i))
		}
		return r, nil
	})
	if _, err := s.conn.CopyFrom(ctx, pgx.Identifier{table}, cols, src); err != nil {
		return fmt.Errorf("bench seed: copy %s: %w", table, err)
	}
	return nil
}

// accounts adds n active accounts with a username (and every tenth an
// email), all with one password hash, and returns their ids.
func (s *seeder) accounts(ctx context.Context, n int) ([]string, error) {
	hash, err := password.NewHasher(password.DefaultParams, 1).Hash(ctx, benchPassword)
	if err != nil {
		return nil, err
	}
	tag := randomTag()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = monban.NewID("acc")
	}
	now := time.Now()
	s.step(fmt.Sprintf("accounts: %d", n))
	err = s.copyRows(ctx, "accounts", []string{"id", "status", "password_hash", "two_step", "lang", "created_at", "updated_at"}, n,
		func(i int) []any {
			at := now.Add(-time.Duration(i%(365*24)) * time.Hour).UnixMicro()
			lang := "ja"
			if i%5 == 0 {
				lang = "en"
			}
			return []any{ids[i], string(monban.AccountActive), hash, false, lang, at, at}
		})
	if err != nil {
		return nil, err
	}
	s.step("identifiers")
	withEmail := (n + 9) / 10
	err = s.copyRows(ctx, "identifiers", []string{"kind", "value", "account_id", "verified", "created_at"}, n+withEmail,
		func(i int) []any {
			if i < n {
				return []any{string(monban.KindUsername), fmt.Sprintf("seed%s%07d", tag, i), ids[i], false, now.UnixMicro()}
			}
			j := (i - n) * 10
			return []any{string(monban.KindEmail), fmt.Sprintf("seed%s%07d@example.jp", tag, j), ids[j], true, now.UnixMicro()}
		})
	return ids, err
}

// seedTypes are the signal types seeded, host apps' and monban's own.
var seedTypes = []string{"follow", "purchase", "signin.success", "signin.failure", "device.new", "return", "follow", "signin.success"}

// signals adds n signals spread over ids and the last 90 days, then the
// per-account buckets the rules read (hour and day; minute buckets older
// than a day are pruned by the node anyway).
func (s *seeder) signals(ctx context.Context, ids []string, n int) error {
	if n == 0 || len(ids) == 0 {
		return nil
	}
	now := time.Now()
	span := int64(90 * 24 * time.Hour / time.Second)
	var seq atomic.Uint64
	s.step(fmt.Sprintf("signals: %d", n))
	var mark int64
	s.conn.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM risk_signals").Scan(&mark)
	err := s.copyRows(ctx, "risk_signals", []string{"at", "account_id", "type", "ip", "device_id", "amount", "currency", "instrument"}, n,
		func(i int) []any {
			r := seq.Add(0x9E3779B97F4A7C15) // a cheap spread, no allocation
			typ := seedTypes[r>>61]
			at := now.Add(-time.Duration(int64(r>>20)%span) * time.Second).UnixMicro()
			amount, currency, instrument := int64(0), "", ""
			if typ == "purchase" {
				amount, currency, instrument = int64(r>>40)%30000, "JPY", "card"
			}
			return []any{at, ids[i%len(ids)], typ, fmt.Sprintf("203.0.113.%d", r>>56), "", amount, currency, instrument}
		})
	if err != nil {
		return err
	}
	for _, res := range []int64{3600, 86400} {
		s.step(fmt.Sprintf("buckets: resolution %d s", res))
		_, err := s.conn.Exec(ctx, `INSERT INTO risk_buckets (subject, res, start, type, filter, n, total)
			SELECT 'a:' || account_id, $1::int, (at / ($1::bigint * 1000000)) * ($1::bigint * 1000000), type, '', count(*), sum(amount)
			FROM risk_signals WHERE id > $2 GROUP BY 1, 3, 4
			ON CONFLICT (subject, res, start, type, filter) DO UPDATE SET n = risk_buckets.n + excluded.n, total = risk_buckets.total + excluded.total`,
			res, mark)
		if err != nil {
			return fmt.Errorf("bench seed: buckets: %w", err)
		}
	}
	return nil
}

// sessions adds n app sessions on the first accounts of ids and writes
// their bearer tokens to path, one a line.
func (s *seeder) sessions(ctx context.Context, ids []string, n int, path string) error {
	if n == 0 {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	now := time.Now()
	s.step(fmt.Sprintf("sessions: %d", n))
	err = s.copyRows(ctx, "sessions", []string{"id", "token_hash", "account_id", "device_id", "kind", "auth_level", "methods",
		"ip", "user_agent", "created_at", "last_seen_at", "expires_at", "revoked_at"}, n,
		func(i int) []any {
			var b [32]byte
			rand.Read(b[:])
			tok := account.TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
			fmt.Fprintln(w, tok)
			return []any{monban.NewID("ses"), account.HashToken(tok), ids[i%len(ids)], "", string(monban.SessionApp),
				monban.AuthPassword, "pwd", "127.0.0.1", "monban-bench", now.UnixMicro(), now.UnixMicro(),
				now.Add(30 * 24 * time.Hour).UnixMicro(), 0}
		})
	if err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func randomTag() string {
	var b [3]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}

// cmdBenchSessions uses every session token of a file against a running
// node and reports the node's resident memory.
func cmdBenchSessions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench sessions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchSeedUsage); fs.PrintDefaults() }
	base := fs.String("url", "", "the node, e.g. http://127.0.0.1:8080 (loopback only)")
	tokens := fs.String("tokens", "", "file of session tokens, one a line")
	rounds := fs.Int("rounds", 2, "times each token is used")
	conc := fs.Int("concurrency", 32, "requests at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*base)
	if err != nil || !isLoopbackHost(u.Hostname()) {
		return errors.New("bench sessions: --url must be a loopback address")
	}
	b, err := os.ReadFile(*tokens)
	if err != nil {
		return err
	}
	toks := strings.Fields(string(b))
	rss := func() (float64, error) { return nodeRSS(ctx, *base) }
	before, err := rss()
	if err != nil {
		return err
	}
	start := time.Now()
	var ok, bad atomic.Int64
	work := make(chan string)
	var wg sync.WaitGroup
	for range max(1, *conc) {
		wg.Go(func() {
			for tok := range work {
				req, _ := http.NewRequestWithContext(ctx, "GET", *base+"/api/v1/account", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		})
	}
	for range *rounds {
		for _, t := range toks {
			work <- t
		}
	}
	close(work)
	wg.Wait()
	after, err := rss()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d sessions used %d times each in %v: %d ok, %d refused; node RSS %.1f MB before, %.1f MB after\n",
		len(toks), *rounds, time.Since(start).Round(time.Millisecond), ok.Load(), bad.Load(), before/1e6, after/1e6)
	return nil
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
}

// nodeRSS reads process_resident_memory_bytes from the node's /metrics.
func nodeRSS(ctx context.Context, base string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, errors.New("bench sessions: no process_resident_memory_bytes in /metrics")
}
