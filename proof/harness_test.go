package proof

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx": test schemas and checks
	_ "modernc.org/sqlite"             // driver "sqlite": checks on a SQLite node's file
)

// testSecret is the MONBAN_SECRET every node of a test shares.
const testSecret = "70726f6f662d6f662d6d6f6e62616e2d6e6f742d666f722d70726f64756374696f6e"

// long reports whether the long forms were asked for (MONBAN_PROOF_LONG=1).
func long() bool { return os.Getenv("MONBAN_PROOF_LONG") == "1" }

// scale picks the short (CI) or the long form of a figure.
func scale(short, longForm int) int {
	if long() {
		return longForm
	}
	return short
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary returns the monban binary under test: MONBAN_PROOF_BIN, or one
// built once per test run from this module.
func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MONBAN_PROOF_BIN"); p != "" {
		return p
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "monban-proof-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "monban")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/monban-dev/monban/cmd/monban")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// postgresDSN creates a fresh schema, drops it when the test ends, and
// returns a DSN whose search_path is that schema. Without
// MONBAN_TEST_POSTGRES the test fails, unless MONBAN_SKIP_POSTGRES=1 says
// to skip: a proof that did not run must not look like one that passed.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("MONBAN_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("MONBAN_SKIP_POSTGRES") == "1" {
			t.Skip("MONBAN_TEST_POSTGRES not set (skipped: MONBAN_SKIP_POSTGRES=1)")
		}
		t.Fatal("MONBAN_TEST_POSTGRES is not set: this proof needs PostgreSQL " +
			"(e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable); set MONBAN_SKIP_POSTGRES=1 to skip it on purpose")
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "proof_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		// Nodes are gone by now (their cleanups ran first); drop any
		// connection a killed node left behind.
		admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND query ILIKE '%` + schema + `%'`)
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("MONBAN_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openDB opens the database a node uses, for the test's own checks.
func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver, name := "pgx", dsn
	if !strings.HasPrefix(dsn, "postgres") {
		driver, name = "sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)&mode=ro"
	}
	db, err := sql.Open(driver, name)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return db
}

// queryInt runs a one-number query.
func queryInt(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// nodeSpec says how to start a node.
type nodeSpec struct {
	database string            // PostgreSQL DSN; empty: SQLite in data
	data     string            // data directory; empty: a temporary one
	env      map[string]string // more MONBAN_* settings
}

// proc is one running `monban serve` process.
type proc struct {
	t      *testing.T
	name   string
	spec   nodeSpec
	cmd    *exec.Cmd
	URL    string
	out    *syncBuffer // stdout and stderr
	exited chan struct{}
}

// fastHash makes password hashing cheap; tests that measure sign-in
// timing use the real parameters instead.
var fastHash = map[string]string{"MONBAN_PASSWORD_HASH_MEMORY_KIB": "1024", "MONBAN_PASSWORD_HASH_TIME": "1"}

// startNode starts `monban serve --dev --addr 127.0.0.1:0` and waits for
// it to print its address. The process is killed when the test ends.
func startNode(t *testing.T, name string, spec nodeSpec) *proc {
	t.Helper()
	if spec.data == "" {
		spec.data = t.TempDir()
	}
	p := &proc{t: t, name: name, spec: spec}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *proc) start() {
	t := p.t
	t.Helper()
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MONBAN_") {
			env = append(env, kv)
		}
	}
	// The proofs open many accounts from one loopback address; the sign-up
	// limit per address has tests of its own (internal/web, internal/account).
	set := map[string]string{"MONBAN_SECRET": testSecret, "MONBAN_DATA": p.spec.data, "MONBAN_LOG_LEVEL": "warn",
		"MONBAN_DATABASE": p.spec.database, "MONBAN_SIGNUPS_PER_IP_HOUR": "-1", "MONBAN_SIGNUPS_PER_IP_DAY": "-1"}
	for k, v := range p.spec.env {
		set[k] = v
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	cmd := exec.Command(binary(t), "serve", "--dev", "--addr", "127.0.0.1:0")
	cmd.Env = env
	p.out = &syncBuffer{}
	cmd.Stderr = p.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.out.Write([]byte(line + "\n"))
			if rest, ok := strings.CutPrefix(line, "monban serving on "); ok {
				addr <- rest
			}
		}
		cmd.Wait()
		close(p.exited)
	}()
	select {
	case u := <-addr:
		p.URL = u
	case <-p.exited:
		t.Fatalf("%s exited before serving:\n%s", p.name, p.out.String())
	case <-time.After(60 * time.Second):
		p.kill()
		t.Fatalf("%s did not start within 60 s:\n%s", p.name, p.out.String())
	}
}

// kill ends the process with SIGKILL and waits for it.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// restart starts the process again on the same data and database.
func (p *proc) restart() {
	p.kill()
	p.start()
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(b)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// client is an HTTP client whose connections come from one loopback
// address: 127.0.0.0/8 is all loopback on Linux, so a test can play many
// clients (per-IP limits) without leaving the machine.
type client struct {
	hc *http.Client
	ip string
}

var ipSeq atomic.Uint32

// newClient returns a client with its own loopback source address.
func newClient() *client {
	n := ipSeq.Add(1)
	ip := fmt.Sprintf("127.%d.%d.%d", 10+(n>>16)&0xff, (n>>8)&0xff, 1+n&0xfe)
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("proof: refusing to dial %s: loopback only", addr)
		}
		return d.DialContext(ctx, network, addr)
	}, MaxIdleConnsPerHost: 16}
	return &client{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, ip: ip}
}

// answer is one HTTP response, read whole.
type answer struct {
	status int
	body   []byte
	header http.Header
	took   time.Duration
	err    error
}

func (a answer) String() string {
	if a.err != nil {
		return "error: " + a.err.Error()
	}
	return strconv.Itoa(a.status) + " " + string(bytes.TrimSpace(a.body))
}

// decode unmarshals the body into v.
func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
}

// call sends a JSON request; token, when set, is the bearer token.
func (c *client) call(ctx context.Context, method, u, token string, body any) answer {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return answer{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept-Language", "en")
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: b, header: resp.Header, took: time.Since(start), err: err}
}

// cluster rotates requests over its nodes, as a round-robin load balancer
// would.
type cluster struct {
	nodes []*proc
	n     atomic.Uint64
}

func (c *cluster) next() string {
	return c.nodes[c.n.Add(1)%uint64(len(c.nodes))].URL
}

// account is a signed-up account with a session.
type account struct {
	ID, Token, Username, Email, Phone, Password string
}

const password = "proof of many nodes, faults and abuse"

// signUp registers an account through base (a node URL) and fails the test
// unless it is created.
func signUp(t *testing.T, ctx context.Context, c *client, base, username, email, phone string) account {
	t.Helper()
	a := c.call(ctx, "POST", base+"/api/v1/accounts", "", map[string]string{"username": username, "email": email,
		"phone": phone, "password": password, "lang": "en"})
	if a.status != http.StatusCreated {
		t.Fatalf("sign up %s: %s", username, a)
	}
	var out struct {
		AccountID string `json:"account_id"`
		Token     string `json:"token"`
	}
	a.decode(t, &out)
	return account{ID: out.AccountID, Token: out.Token, Username: username, Email: email, Phone: phone, Password: password}
}

// devMessage is one entry of /dev/outbox.json.
type devMessage struct {
	ID          string `json:"id"`
	Channel     string `json:"channel"`
	Destination string `json:"destination"`
	Template    string `json:"template"`
	Code        string `json:"code"`
	Status      string `json:"status"`
}

// devCode waits until the dev outbox holds the message msgID and returns
// its code.
func devCode(t *testing.T, ctx context.Context, c *client, base, msgID string) string {
	t.Helper()
	var code string
	waitFor(t, "message "+msgID+" in the dev outbox", 30*time.Second, func() bool {
		a := c.call(ctx, "GET", base+"/dev/outbox.json", "", nil)
		if a.status != http.StatusOK {
			return false
		}
		var out struct {
			Messages []devMessage `json:"messages"`
		}
		a.decode(t, &out)
		for _, m := range out.Messages {
			if m.ID == msgID {
				code = m.Code
				return true
			}
		}
		return false
	})
	return code
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		pause(20 * time.Millisecond)
	}
}

// pause waits between polls; it never orders events (process waits and
// channels do that).
func pause(d time.Duration) { <-time.After(d) }

// metric reads one sample of a Prometheus metric (the sum over its label
// sets) from a node's /metrics.
func metric(t *testing.T, c *client, base, name string) (float64, bool) {
	t.Helper()
	a := c.call(context.Background(), "GET", base+"/metrics", "", nil)
	if a.status != http.StatusOK {
		return 0, false
	}
	var sum float64
	found := false
	for _, line := range strings.Split(string(a.body), "\n") {
		if !strings.HasPrefix(line, name) || strings.HasPrefix(line, "#") {
			continue
		}
		rest := line[len(name):]
		if rest != "" && rest[0] != ' ' && rest[0] != '{' {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
			found = true
		}
	}
	return sum, found
}

// percentile returns the q-quantile of ds (sorted in place).
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[int(q*float64(len(ds)-1))]
}

// uniq returns a short random suffix for names.
func uniq() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// json_ decodes an answer's body without failing the test (for load
// goroutines).
func json_(a answer, v any) error { return json.Unmarshal(a.body, v) }

// rebind turns ? placeholders into $1, $2… for PostgreSQL.
func rebind(dsn, q string) string {
	if !strings.HasPrefix(dsn, "postgres") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
