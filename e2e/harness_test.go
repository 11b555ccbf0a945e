package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
)

// testSecret signs device cookies and CSRF tokens; fixed so runs repeat.
const testSecret = "6d6f6e62616e2d6532652d7365637265742d6e6f742d666f722d70726f64212e"

// stepTimeout bounds one browser action, so a broken page fails the step
// that met it instead of hanging until the test binary's timeout.
const stepTimeout = 15 * time.Second

// server is a real monban node on SQLite served on a loopback port.
type server struct {
	*node.Node
	URL string
}

// startServer wires a dev-mode node (plain-http cookies) on the wall clock in
// a fresh data directory and serves it until the test ends.
func startServer(t *testing.T) *server {
	t.Helper()
	return startServerAt(t, monban.SystemClock{})
}

// startServerAt is startServer with the node's clock given, so a test can
// reach cooldowns and delivery deadlines by advancing a fake clock. The
// node's background work (the outbox worker) runs too, so codes reach the
// dev outbox as they would in "monban serve --dev".
func startServerAt(t *testing.T, clock monban.Clock) *server {
	t.Helper()
	return startServerWith(t, clock, nil)
}

// startServerWith is startServerAt with the configuration adjusted first
// (e.g. a rules file).
func startServerWith(t *testing.T, clock monban.Clock, edit func(*node.Config)) *server {
	t.Helper()
	return startServerOn(t, clock, "127.0.0.1", edit)
}

// startServerLocalhost is startServerAt addressed as http://localhost:PORT,
// its public URL too: passkeys need a domain, not an IP address, and
// Chromium counts localhost as a secure origin over plain http.
func startServerLocalhost(t *testing.T, clock monban.Clock) *server {
	t.Helper()
	return startServerOn(t, clock, "localhost", nil)
}

func startServerOn(t *testing.T, clock monban.Clock, host string, edit func(*node.Config)) *server {
	t.Helper()
	// Listen first, so that the node is built knowing its own address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	base := fmt.Sprintf("http://%s:%d", host, ln.Addr().(*net.TCPAddr).Port)
	cfg := node.DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.Dev = true
	cfg.Secret = testSecret
	// Scenarios open many accounts from one loopback address; the sign-up
	// limit per address has tests of its own (internal/web).
	cfg.SignUpsPerIPHour, cfg.SignUpsPerIPDay = -1, -1
	if host != "127.0.0.1" {
		cfg.PublicURL = base
	} else {
		// An IP public_url: passkeys off in dev mode, as the journeys on
		// 127.0.0.1 expect (the default public_url is localhost).
		cfg.PublicURL = "http://127.0.0.1:8080"
	}
	if edit != nil {
		edit(&cfg)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := node.New(t.Context(), cfg, log, clock)
	if err != nil {
		ln.Close()
		t.Fatalf("start node: %v", err)
	}
	// The worker stops after the HTTP server, before the store closes; not on
	// t.Context(), which ends before the cleanups run.
	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- n.Run(runCtx) }()
	hs := &http.Server{Handler: n.Web.Handler(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		stopRun()
		if err := <-ran; err != nil {
			t.Errorf("node background work: %v", err)
		}
		if err := n.Close(); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	return &server{Node: n, URL: base}
}

// chromiumPath finds the browser: CHROMIUM_PATH, else chromium on PATH. A
// missing browser fails the test unless MONBAN_SKIP_BROWSER=1 says to skip,
// so CI never passes a browser suite that did not run.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("CHROMIUM_PATH=%s is not an executable: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "Chromium not found: install it (apt-get install chromium) or set CHROMIUM_PATH"
	if os.Getenv("MONBAN_SKIP_BROWSER") == "1" {
		t.Skip(msg + " (skipped: MONBAN_SKIP_BROWSER=1)")
	}
	t.Fatal(msg + "; set MONBAN_SKIP_BROWSER=1 to skip the browser tests on purpose")
	return ""
}

// browser is one Chromium process; its tabs share the screenshot sequence.
type browser struct {
	t     *testing.T
	base  string
	dir   string // screenshots of this test
	shots int
	root  context.Context // the first tab; owns the process
}

// startBrowser launches headless Chromium with a fresh profile, a phone-sized
// window and Japanese as the browser language, like monban's first users.
func startBrowser(t *testing.T, base string) (*browser, *tab) {
	t.Helper()
	exe := chromiumPath(t)
	dir := filepath.Join("screenshots", t.Name())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("lang", "ja-JP"),
		chromedp.Flag("accept-lang", "ja-JP,ja"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(414, 896),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the process; it must not carry a step timeout.
	if err := chromedp.Do(ctx, phoneViewport()); err != nil {
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	b := &browser{t: t, base: base, dir: dir, root: ctx}
	return b, &tab{b: b, name: "a", ctx: ctx}
}

// phoneViewport makes the tab a 414×896 phone screen. Headless Chromium
// will not size a window below 500 px wide, so the window size alone is not
// enough to see the pages as a phone does.
func phoneViewport() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(414, 896, chromedp.EmulateMobile)
}

// newIsolatedTab opens a tab in a new browser context: its own cookies, as
// if a second device signed in.
func (b *browser) newIsolatedTab(name string) *tab {
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx, phoneViewport()); err != nil {
		b.t.Fatalf("open tab %s: %v", name, err)
	}
	return &tab{b: b, name: name, ctx: ctx}
}

// tab drives one browser tab; every helper fails the test on error.
type tab struct {
	b    *browser
	name string
	ctx  context.Context
}

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.b.t.Fatalf("tab %s: %s: %v", tb.name, what, err)
	}
}

func run[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.b.t.Fatalf("tab %s: %s: %v", tb.name, what, err)
	}
	return v
}

// open loads a path of the server, waits for its main content and checks
// its accessibility (axe_test.go).
func (tb *tab) open(path string) {
	tb.b.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.b.base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
	tb.a11y(true)
}

// fill replaces a field's value by typing, as a person would.
func (tb *tab) fill(sel, text string) {
	tb.b.t.Helper()
	tb.do("fill "+sel, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// follow clicks sel, waits for the page it leads to, checks its
// accessibility (axe_test.go) and returns its status.
func (tb *tab) follow(sel string) int64 {
	tb.b.t.Helper()
	byGET := tb.eval(fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		const f = el && (el.form || el.closest('form'));
		return !f || (el.getAttribute('formmethod') || f.getAttribute('method') || 'get').toLowerCase() === 'get' ? 'get' : 'post';
	})()`, sel)) == "get"
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		tb.b.t.Fatalf("tab %s: click %s: %v", tb.name, sel, err)
	}
	tb.do("wait for page", chromedp.WaitVisible(chromedp.CSS("main h1")))
	// A form posted and answered with a redirect ends on a page got by GET.
	redirected := tb.eval(`String(performance.getEntriesByType('navigation')[0]?.redirectCount || 0)`) != "0"
	tb.a11y(byGET || redirected)
	return resp.Status
}

func (tb *tab) text(sel string) string {
	tb.b.t.Helper()
	return strings.Join(strings.Fields(run(tb, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))), " ")
}

func (tb *tab) value(sel string) string {
	tb.b.t.Helper()
	return run(tb, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

func (tb *tab) eval(expr string) string {
	tb.b.t.Helper()
	return run(tb, expr, chromedp.Evaluate[string](expr))
}

func (tb *tab) count(sel string) int {
	tb.b.t.Helper()
	return run(tb, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

// page reports the path and <html lang> of the page shown.
func (tb *tab) page() (path, lang string) {
	tb.b.t.Helper()
	return tb.eval("location.pathname"), tb.eval("document.documentElement.lang")
}

// expectPage fails unless the tab shows path in lang with the heading h1.
func (tb *tab) expectPage(path, lang, h1 string) {
	tb.b.t.Helper()
	gotPath, gotLang := tb.page()
	gotH1 := tb.text("main h1")
	if gotPath != path || gotLang != lang || gotH1 != h1 {
		tb.b.t.Fatalf("tab %s: page %s lang=%q h1=%q, want %s lang=%q h1=%q", tb.name, gotPath, gotLang, gotH1, path, lang, h1)
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// shot saves a full-page screenshot named NN-tab-step.png.
func (tb *tab) shot(step string) {
	tb.b.t.Helper()
	tb.b.shots++
	png := run(tb, "screenshot", chromedp.FullScreenshot(100))
	name := fmt.Sprintf("%02d-%s-%s.png", tb.b.shots, tb.name, unsafeName.ReplaceAllString(strings.ToLower(step), "-"))
	if err := os.WriteFile(filepath.Join(tb.b.dir, name), png, 0o644); err != nil {
		tb.b.t.Fatal(err)
	}
	tb.b.t.Logf("%s %s", time.Now().Format("15:04:05.000"), name)
}

// waitTimeout bounds waiting for background work, such as the outbox worker.
const waitTimeout = 10 * time.Second

// waitFor checks cond every few milliseconds until it holds, and fails the
// test if it does not within waitTimeout. For work the test cannot step
// itself; time the test controls moves by the fake clock instead.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("waited %s for %s", waitTimeout, what)
		case <-tick.C:
		}
	}
}
