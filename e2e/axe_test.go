package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Every page a browser test reaches through tab.open or tab.follow is
// checked with axe-core (a checker nobody here wrote) against WCAG 2.x A and
// AA; a critical or serious violation fails the test, naming the rule, the
// element and the page. Each page shape (its path with ids blanked) is
// checked once per language per test binary, so the suite stays fast: in the
// language the journey sees it (ja), and once more in English, in a second
// tab of the same browser context (same cookies) asking for Accept-Language:
// en, when the page was got by GET (a link, or a form answered with a
// redirect) and so can be asked for again.

// axeDir holds the pinned axe-core; scripts/test installs it.
const axeDir = "axe"

const axeInstall = "npm ci --prefix e2e/axe (scripts/test runs it)"

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error

	axeMu   sync.Mutex
	axeSeen = map[string]bool{} // lang + " " + page shape
)

// axeScript reads axe.min.js once, and refuses a copy other than the one
// the lock file pins.
func axeScript() (string, error) {
	axeOnce.Do(func() {
		lock, err := os.ReadFile(filepath.Join(axeDir, "package-lock.json"))
		if err != nil {
			axeErr = err
			return
		}
		var l struct {
			Packages map[string]struct{ Version string } `json:"packages"`
		}
		if err := json.Unmarshal(lock, &l); err != nil {
			axeErr = fmt.Errorf("%s/package-lock.json: %w", axeDir, err)
			return
		}
		want := l.Packages["node_modules/axe-core"].Version
		pkg, err := os.ReadFile(filepath.Join(axeDir, "node_modules", "axe-core", "package.json"))
		if err != nil {
			axeErr = fmt.Errorf("axe-core is not installed (%v); install it with: %s", err, axeInstall)
			return
		}
		var p struct{ Version string }
		if err := json.Unmarshal(pkg, &p); err != nil || p.Version != want {
			axeErr = fmt.Errorf("axe-core %q installed, the lock file pins %q; install it with: %s", p.Version, want, axeInstall)
			return
		}
		src, err := os.ReadFile(filepath.Join(axeDir, "node_modules", "axe-core", "axe.min.js"))
		if err != nil {
			axeErr = fmt.Errorf("axe-core is not installed (%v); install it with: %s", err, axeInstall)
			return
		}
		axeSource = string(src)
	})
	return axeSource, axeErr
}

// pageShape is a path with its ids and tokens blanked, so that
// /desk/cases/case_x and /desk/cases/case_y are one page.
func pageShape(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if len(s) >= 16 {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// claimAxe reports whether the page shape still needs checking in lang, and
// marks it checked.
func claimAxe(lang, shape string) bool {
	axeMu.Lock()
	defer axeMu.Unlock()
	k := lang + " " + shape
	if axeSeen[k] {
		return false
	}
	axeSeen[k] = true
	return true
}

// axeRun injects axe-core (when the page does not have it yet) and returns
// the critical and serious violations of WCAG 2.x A/AA, one line each.
const axeRun = `(async () => {
	const r = await axe.run(document, {
		runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']},
		resultTypes: ['violations'],
	});
	const out = [];
	for (const v of r.violations) {
		if (v.impact !== 'critical' && v.impact !== 'serious') continue;
		for (const n of v.nodes) {
			out.push(v.impact + ' ' + v.id + ' (' + v.help + ') at ' + n.target.join(' ') + ': ' +
				n.html.slice(0, 160) + ' — ' + (n.failureSummary || '').replace(/\s+/g, ' ').slice(0, 240));
		}
	}
	return JSON.stringify({rules: r.passes.length + r.violations.length + r.incomplete.length, found: out});
})()`

// a11y checks the page the tab shows, if its shape is new in its language;
// gotByGET says the page can be loaded again, for the English check.
func (tb *tab) a11y(gotByGET bool) {
	tb.b.t.Helper()
	href := tb.eval("location.href")
	u, err := url.Parse(href)
	if err != nil || !strings.HasPrefix(href, tb.b.base+"/") {
		return // not a monban page (e.g. an OIDC client's)
	}
	lang := tb.eval("document.documentElement.lang")
	shape := pageShape(u.Path)
	if claimAxe(lang, shape) {
		tb.axeCheck(tb.ctx, u.Path, lang)
	}
	if lang == "en" || !gotByGET {
		return
	}
	axeMu.Lock()
	done := axeSeen["en "+shape]
	axeMu.Unlock()
	if done {
		return
	}
	// A second tab of the same browser context: same cookies, English.
	ctx, cancel := chromedp.NewContext(tb.ctx)
	defer cancel()
	step, cancelStep := context.WithTimeout(ctx, stepTimeout)
	defer cancelStep()
	err = chromedp.Do(step, phoneViewport(), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": "en"},
		})
		return err
	}), chromedp.Navigate(href), chromedp.WaitReady(chromedp.CSS("body")))
	if err != nil {
		tb.b.t.Fatalf("tab %s: open %s in English for the accessibility check: %v", tb.name, u.Path, err)
	}
	enLang, err := chromedp.Run(step, chromedp.Evaluate[string]("document.documentElement.lang"))
	if err != nil {
		tb.b.t.Fatalf("tab %s: %s in English: %v", tb.name, u.Path, err)
	}
	enPath, err := chromedp.Run(step, chromedp.Evaluate[string]("location.pathname"))
	if err != nil {
		tb.b.t.Fatalf("tab %s: %s in English: %v", tb.name, u.Path, err)
	}
	if enLang != "en" {
		return // a language cookie chose for the browser; nothing learned
	}
	if claimAxe("en", pageShape(enPath)) {
		tb.axeCheck(ctx, enPath, "en")
	}
}

// axeCheck runs axe-core in ctx's tab and fails the test on each critical
// or serious violation.
func (tb *tab) axeCheck(ctx context.Context, path, lang string) {
	tb.b.t.Helper()
	rules, found, err := axeFindings(ctx)
	if err != nil {
		tb.b.t.Fatalf("tab %s: accessibility check of %s: %v", tb.name, path, err)
	}
	tb.b.t.Logf("axe-core: %s (lang=%s): %d rules applied, %d critical or serious", pageShape(path), lang, rules, len(found))
	for _, f := range found {
		tb.b.t.Errorf("accessibility: page %s (lang=%s): %s", path, lang, f)
	}
}

// axeFindings runs axe-core in ctx's tab: how many rules applied, and the
// critical and serious violations, one line each.
func axeFindings(ctx context.Context) (int, []string, error) {
	src, err := axeScript()
	if err != nil {
		return 0, nil, err
	}
	step, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	has, err := chromedp.Run(step, chromedp.Evaluate[bool]("typeof axe !== 'undefined'"))
	if err == nil && !has {
		_, err = chromedp.Run(step, chromedp.Evaluate[bool](src+";true"))
	}
	if err != nil {
		return 0, nil, fmt.Errorf("load axe-core: %w", err)
	}
	res, err := chromedp.Run(step, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		return 0, nil, fmt.Errorf("axe.run: %w", err)
	}
	var r struct {
		Rules int
		Found []string
	}
	if err := json.Unmarshal([]byte(res), &r); err != nil {
		return 0, nil, fmt.Errorf("axe.run: %w", err)
	}
	return r.Rules, r.Found, nil
}

// TestAxeFindsViolations: the check sees what it is there to see — an
// unlabelled select and grey-on-white text fail, their labelled, dark twin
// passes — so a suite that passes has been checked, not skipped.
func TestAxeFindsViolations(t *testing.T) {
	page := func(body string) string {
		return `<!doctype html><html lang="ja"><head><title>t</title></head><body><main><h1>確認</h1>` + body + `</main></body></html>`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/bad":
			fmt.Fprint(w, page(`<select><option>一</option></select><p style="color:#bbb;background:#fff">薄い文字</p>`))
		default:
			fmt.Fprint(w, page(`<label for="s">手順</label><select id="s"><option>一</option></select><p style="color:#222;background:#fff">濃い文字</p>`))
		}
	}))
	t.Cleanup(srv.Close)
	_, tb := startBrowser(t, srv.URL)
	for _, c := range []struct {
		path string
		want []string // rule ids
	}{
		{"/bad", []string{"select-name", "color-contrast"}},
		{"/good", nil},
	} {
		tb.do("open "+c.path, chromedp.Navigate(srv.URL+c.path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		_, found, err := axeFindings(tb.ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range found {
			got = append(got, strings.Fields(f)[1])
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(got, want) {
			t.Errorf("%s: axe found %v, want %v:\n%s", c.path, got, want, strings.Join(found, "\n"))
		}
	}
}
