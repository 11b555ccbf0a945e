package proof

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/altcha-org/altcha-lib-go"
)

// browser plays a web browser against one node: a cookie jar (the device
// cookie, the session), its own loopback address, forms with their CSRF
// token.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
	ip   string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	c := newClient()
	jar, _ := cookiejar.New(nil)
	hc := *c.hc
	hc.Jar = jar
	return &browser{t: t, base: base, hc: &hc, ip: c.ip}
}

// page is an HTML answer.
type page struct {
	status int
	body   string
	loc    string
}

func (b *browser) do(ctx context.Context, method, path string, form url.Values) page {
	b.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept-Language", "en")
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(body), loc: resp.Header.Get("Location")}
}

// csrf opens path and returns the form token it carries.
func (b *browser) csrf(ctx context.Context, path string) string {
	b.t.Helper()
	p := b.do(ctx, "GET", path, nil)
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF token in the page", path, p.status)
	}
	return m[1]
}

// post submits a form with the CSRF token of the page at from.
func (b *browser) post(ctx context.Context, from, path string, form url.Values) page {
	b.t.Helper()
	form.Set("csrf", b.csrf(ctx, from))
	return b.do(ctx, "POST", path, form)
}

// signIn signs in through the sign-in page and fails the test unless a
// session is set.
func (b *browser) signIn(ctx context.Context, identifier, pw string) {
	b.t.Helper()
	p := b.post(ctx, "/signin", "/signin", url.Values{"identifier": {identifier}, "password": {pw}})
	if p.status != http.StatusSeeOther || strings.HasPrefix(p.loc, "/signin") {
		b.t.Fatalf("web sign-in of %s: %d → %q\n%s", identifier, p.status, p.loc, tail(p.body, 400))
	}
}

// solvePoW fetches a support-form challenge and solves it as the page's
// script does.
func (b *browser) solvePoW(ctx context.Context) string {
	b.t.Helper()
	p := b.do(ctx, "GET", "/support/challenge", nil)
	var c altcha.Challenge
	if err := json.Unmarshal([]byte(p.body), &c); err != nil {
		b.t.Fatalf("challenge: %d %s", p.status, p.body)
	}
	sol, err := altcha.SolveChallenge(c.Challenge, c.Salt, altcha.Algorithm(c.Algorithm), int(c.MaxNumber), 0, nil)
	if err != nil || sol == nil {
		b.t.Fatalf("solve the proof of work: %v", err)
	}
	out, _ := json.Marshal(altcha.Payload{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: int64(sol.Number),
		Salt: c.Salt, Signature: c.Signature})
	return base64.StdEncoding.EncodeToString(out)
}

// monbanCLI runs a monban subcommand against a node's database.
func monbanCLI(t *testing.T, dsn string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append(cleanEnv(), "MONBAN_SECRET="+testSecret, "MONBAN_DATABASE="+dsn, "MONBAN_DATA="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("monban %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// apiKey creates an API key with the CLI and returns its secret.
func apiKey(t *testing.T, dsn, name string, admin bool) string {
	t.Helper()
	args := []string{"admin", "apikeys", "create", "--name", name}
	if admin {
		args = append(args, "--admin")
	}
	out := monbanCLI(t, dsn, args...)
	for _, l := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(l, "secret: "); ok {
			return strings.TrimSpace(s)
		}
	}
	t.Fatalf("no secret in:\n%s", out)
	return ""
}

// cleanEnv is this process's environment without MONBAN_ settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MONBAN_") {
			env = append(env, kv)
		}
	}
	return env
}
