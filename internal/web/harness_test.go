package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/storetest"
	"github.com/monban-dev/monban/internal/web"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 4, 1, 9, 30, 0, 0, time.UTC)

// Session lifetimes of the test nodes.
const (
	idleTimeout     = time.Hour
	absoluteTimeout = 24 * time.Hour
)

// testSecret is a fixed server secret (hex, 32 bytes).
const testSecret = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// A password the policy accepts and the context words of the fixtures
// ("taro", "hanako", …) do not touch.
const (
	goodPassword  = "violet harbor quietly sings"
	otherPassword = "amber lantern under snowfall"
)

// harness is one real node served over HTTP, with a fake clock and a
// separate connection to its database to see what changed.
type harness struct {
	t     testing.TB
	n     *node.Node
	clock *clocktest.Clock
	srv   *httptest.Server
	raw   *sql.DB
	c     *http.Client
}

// databases names the databases scenario tables run on.
func databases() []string {
	dbs := []string{"sqlite"}
	if os.Getenv(storetest.PostgresEnv) != "" {
		dbs = append(dbs, "postgres")
	}
	return dbs
}

// eachDB runs fn as a subtest per database, each with a fresh node whose
// configuration opts adjust.
func eachDB(t *testing.T, fn func(t *testing.T, h *harness), opts ...func(*node.Config)) {
	t.Helper()
	for _, db := range databases() {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			fn(t, newHarness(t, db, opts...))
		})
	}
}

// newHarness starts a node on a fresh database of the named kind.
func newHarness(t testing.TB, db string, opts ...func(*node.Config)) *harness {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.Dev = true
	cfg.Secret = testSecret
	cfg.HashMemoryKiB, cfg.HashTime, cfg.HashThreads = 64, 1, 1
	cfg.PaceFloor = -1 // answers are paced by their work alone; proof measures the floor
	cfg.SessionIdle, cfg.SessionAbsolute = idleTimeout, absoluteTimeout
	for _, o := range opts {
		o(&cfg)
	}
	var rawDriver, rawDSN string
	switch db {
	case "sqlite":
		rawDriver, rawDSN = "sqlite", "file:"+filepath.Join(cfg.Data, "monban.db")+"?_pragma=busy_timeout(10000)"
	case "postgres":
		cfg.Database = storetest.PostgresSchema(t)
		rawDriver, rawDSN = "pgx", cfg.Database
	}
	clock := clocktest.New(t0)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := node.New(context.Background(), cfg, log, clock)
	if err != nil {
		t.Fatalf("node.New: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	raw, err := sql.Open(rawDriver, rawDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	srv := httptest.NewServer(n.Web.Handler())
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &harness{t: t, n: n, clock: clock, srv: srv, raw: raw, c: c}
}

// request is one HTTP request of a scenario.
type request struct {
	method, path string
	body         string // sent as is
	json         any    // marshalled when body is ""
	contentType  string // default application/json when there is a body
	bearer       string
	lang         string // Accept-Language
	header       map[string]string
	cookies      []*http.Cookie
	form         url.Values // sent as application/x-www-form-urlencoded
}

// response is what came back.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) do(r request) *response {
	h.t.Helper()
	body := r.body
	ctype := r.contentType
	switch {
	case r.form != nil:
		body = r.form.Encode()
		if ctype == "" {
			ctype = "application/x-www-form-urlencoded"
		}
	case body == "" && r.json != nil:
		b, err := json.Marshal(r.json)
		if err != nil {
			h.t.Fatal(err)
		}
		body = string(b)
	}
	if body != "" && ctype == "" {
		ctype = "application/json"
	}
	req, err := http.NewRequest(r.method, h.srv.URL+r.path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if r.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	if r.lang != "" {
		req.Header.Set("Accept-Language", r.lang)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	for _, c := range r.cookies {
		req.AddCookie(c)
	}
	resp, err := h.c.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", r.method, r.path, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

// object decodes a JSON object body.
func (r *response) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// problem decodes a problem+json body and checks its envelope.
func (r *response) problem(t testing.TB) web.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, r.body)
	}
	var p web.Problem
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("bad problem body: %v\n%s", err, r.body)
	}
	if p.Status != r.status {
		t.Errorf("problem status %d, response status %d", p.Status, r.status)
	}
	if p.Type != web.ProblemTypePrefix+p.Code {
		t.Errorf("problem type %q does not match code %q", p.Type, p.Code)
	}
	if p.Title == "" || p.Detail == "" || p.Detail == p.Key {
		t.Errorf("problem without translated title or detail: %+v", p)
	}
	return p
}

// wantStatus fails the test unless the status is want.
func (r *response) wantStatus(t testing.TB, want int) *response {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	return r
}

// snapshot counts the rows of every table a request could change.
type snapshot struct {
	Accounts, Identifiers, Sessions, ActiveSessions, Devices, Audit, APIKeys int
}

func (h *harness) snapshot() snapshot {
	h.t.Helper()
	var s snapshot
	for _, q := range []struct {
		dst   *int
		query string
	}{
		{&s.Accounts, "SELECT COUNT(*) FROM accounts"},
		{&s.Identifiers, "SELECT COUNT(*) FROM identifiers"},
		{&s.Sessions, "SELECT COUNT(*) FROM sessions"},
		{&s.ActiveSessions, "SELECT COUNT(*) FROM sessions WHERE revoked_at = 0"},
		{&s.Devices, "SELECT COUNT(*) FROM devices"},
		{&s.Audit, "SELECT COUNT(*) FROM audit_events"},
		{&s.APIKeys, "SELECT COUNT(*) FROM api_keys"},
	} {
		if err := h.raw.QueryRow(q.query).Scan(q.dst); err != nil {
			h.t.Fatalf("%s: %v", q.query, err)
		}
	}
	return s
}

// unchanged fails when the store differs from before.
func (h *harness) unchanged(before snapshot) {
	h.t.Helper()
	if after := h.snapshot(); after != before {
		h.t.Errorf("store changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// auditActions lists the audit actions of an account, oldest first.
func (h *harness) auditActions(accountID string) []string {
	h.t.Helper()
	rows, err := h.raw.Query(rebind(h, "SELECT action FROM audit_events WHERE account_id = ? ORDER BY id"), accountID)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// exec runs a statement on the database behind the node's back, e.g. to
// disable an account (there is no API for that yet).
func (h *harness) exec(query string, args ...any) {
	h.t.Helper()
	if _, err := h.raw.Exec(rebind(h, query), args...); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
}

func rebind(h *harness, q string) string {
	if h.n.DB.Dialect() != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// account is a registered fixture account.
type account struct {
	ID, SessionID, Token, DeviceID string
}

// register opens an account through the API and returns its first session.
func (h *harness) register(body map[string]any) account {
	h.t.Helper()
	r := h.do(request{method: "POST", path: "/api/v1/accounts", json: body})
	if r.status != http.StatusCreated {
		h.t.Fatalf("register %v: status %d: %s", body, r.status, r.body)
	}
	return accountOf(h.t, r)
}

// signIn signs in through the API and returns the new session.
func (h *harness) signIn(identifier, password string) account {
	h.t.Helper()
	r := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": identifier, "password": password}})
	if r.status != http.StatusCreated {
		h.t.Fatalf("sign in %q: status %d: %s", identifier, r.status, r.body)
	}
	return accountOf(h.t, r)
}

func accountOf(t testing.TB, r *response) account {
	t.Helper()
	var a struct {
		AccountID string `json:"account_id"`
		SessionID string `json:"session_id"`
		Token     string `json:"token"`
		DeviceID  string `json:"device_id"`
	}
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("session body: %v: %s", err, r.body)
	}
	if a.AccountID == "" || a.SessionID == "" || !strings.HasPrefix(a.Token, "mbs_") || a.DeviceID == "" {
		t.Fatalf("incomplete session body: %s", r.body)
	}
	return account{ID: a.AccountID, SessionID: a.SessionID, Token: a.Token, DeviceID: a.DeviceID}
}

// authorised reports whether token still opens GET /api/v1/account.
func (h *harness) authorised(token string) bool {
	h.t.Helper()
	r := h.do(request{method: "GET", path: "/api/v1/account", bearer: token})
	switch r.status {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		if p := r.problem(h.t); p.Key != "session.invalid" {
			h.t.Errorf("refused token: key %q, want session.invalid", p.Key)
		}
		return false
	}
	h.t.Fatalf("GET /api/v1/account: status %d: %s", r.status, r.body)
	return false
}

// catalog is the embedded message catalog, to compute expected details.
func catalog(t *testing.T) *web.Catalog {
	t.Helper()
	c, err := web.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// decode reads a JSON body into v.
func decode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode: %v: %s", err, b)
	}
}
