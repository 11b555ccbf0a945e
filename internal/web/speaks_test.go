package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/web"
)

// TestJapanesePagesSpeakJapanese renders the pages in ja — a person's, a
// locked person's, the support pages and the agent console with a case
// that has a lock, messages and signals — and fails on each string a
// Japanese reader would meet as code: a template or message id
// ("notice.signin.new_device"), a raw stored value ("sent", "transfer_code",
// "true"), raw JSON ("{\"", "\u003e=") or an English word outside the few
// names and formats the product shows as they are.
func TestJapanesePagesSpeakJapanese(t *testing.T) {
	h := newHarness(t, "sqlite")
	ctx := context.Background()
	namespaces := catalogNamespaces(t)

	taro := registerTaroOn(h, "taro-phone-speaks")
	h.verifyContacts(taro.ID)
	// A sign-in from a new device: a code by email, then a notice.
	r := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro", "password": goodPassword}}).
		wantStatus(t, http.StatusAccepted)
	pending := r.object(t)["pending_signin"].(map[string]any)
	in := "/api/v1/signins/" + pending["id"].(string)
	h.do(request{method: "POST", path: in + "/code", json: map[string]any{"secret": pending["secret"], "method": "email"}}).
		wantStatus(t, http.StatusAccepted)
	h.do(request{method: "POST", path: in + "/verify", json: map[string]any{"secret": pending["secret"], "method": "email",
		"code": h.sentCode("taro@example.com", "code.new_device")}}).wantStatus(t, http.StatusCreated)
	key := h.hostKey(false)
	h.signal(key, map[string]any{"account_id": taro.ID, "type": "purchase", "amount": 3000, "currency": "JPY",
		"instrument": "card", "ip": "198.51.100.7"}).wantStatus(t, http.StatusAccepted)

	type visit struct{ name, path string }
	var pages []visit
	show := func(b *browser, name, path string, want int) string {
		t.Helper()
		r := b.do(request{method: "GET", path: path, lang: "ja"}).wantStatus(t, want)
		pages = append(pages, visit{name, path})
		return string(r.body)
	}
	check := func(name, body string) {
		t.Helper()
		for _, bad := range notJapanese(body, namespaces) {
			t.Errorf("ja page %s shows %s", name, bad)
		}
	}

	anyone := newBrowser(h)
	for _, p := range []string{"/signup", "/signin", "/help/signin", "/support/new", "/transfer", "/transfer/start", "/transfer/receive", "/desk"} {
		check(p, show(anyone, p, p, http.StatusOK))
	}
	person := newBrowser(h)
	person.cookies["monban_session"] = &http.Cookie{Name: "monban_session", Value: taro.Token}
	for _, p := range []string{"/account", "/account/security", "/messages", "/account/contact"} {
		check(p, show(person, p, p, http.StatusOK))
	}

	// A lock whose evidence is JSON with a comparison in it, as the rules
	// record it.
	evidence, err := json.Marshal(map[string]any{"purchases": 6, "window": "1h", "when": "purchases >= 5"})
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	lock := &monban.Lock{ID: monban.NewID("lck"), AccountID: taro.ID, Kind: monban.LockReview, Category: monban.CategoryAccountDetails,
		RuleID: "purchase-burst", RuleVersion: "1", Evidence: string(evidence), WaysOut: []monban.WayOut{monban.WaySupport}, CreatedAt: now}
	if err := h.n.DB.CreateLock(ctx, lock, nil, nil, monban.AuditEvent{At: now, AccountID: taro.ID, Action: "account.locked"}, nil); err != nil {
		t.Fatal(err)
	}
	check("/locked", show(person, "/locked", "/locked", http.StatusOK))

	p := newBrowser(h)
	p.lang = "ja"
	csrf := p.form("/support/new?category=locked")
	filed := p.post("/support/new", supportForm(csrf, solvePoW(t, p), "taro", monban.CaseLocked), nil).wantStatus(t, http.StatusOK)
	check("/support/new (filed)", string(filed.body))
	link := statusPattern.FindString(string(filed.body))
	if link == "" {
		t.Fatalf("no status link in\n%s", filed.body)
	}
	check("/support/case/{id}/{token}", show(p, "status link", link, http.StatusOK))

	var caseID string
	if err := h.raw.QueryRow("SELECT id FROM cases WHERE account_id = ?", taro.ID).Scan(&caseID); err != nil {
		t.Fatal(err)
	}
	lead, _ := deskSignIn(t, h, "kimura", monban.RoleLead)
	lead.lang = "ja"
	tok := lead.form("/desk/cases/" + caseID)
	lead.post("/desk/cases/"+caseID+"/grant", url.Values{"csrf": {tok}, "step": {monban.GrantTransferCode}, "hours": {"48"}}, nil).
		wantStatus(t, http.StatusSeeOther)
	check("/desk (queue)", show(lead, "queue", "/desk", http.StatusOK))
	check("/desk/cases/{id}", show(lead, "case", "/desk/cases/"+caseID, http.StatusOK))
	if len(pages) == 0 {
		t.Fatal("no pages visited")
	}
}

// catalogNamespaces are the first words of the catalog's keys ("desk",
// "notice", "code", …): a dotted word starting with one is an id.
func catalogNamespaces(t *testing.T) map[string]bool {
	t.Helper()
	ns := map[string]bool{}
	for _, k := range web.CatalogKeys(catalog(t), "ja") {
		ns[strings.SplitN(k, ".", 2)[0]] = true
	}
	return ns
}

var (
	scriptOrStyle = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)>|<!--.*?-->`)
	// Attributes a person reads or hears: labels, hints, titles, alt text.
	spokenAttr = regexp.MustCompile(`(?i)\s(aria-label|title|placeholder|alt)="([^"]*)"`)
	anyTag     = regexp.MustCompile(`<[^>]*>`)
	// An identifier the operator wrote, such as a risk rule's id
	// ("purchase-burst"): their data, shown as written so agents can find
	// the rule in the operator's file, like the fixtures' names. Only
	// <code class="id"> says so; any other <code> is read as text.
	operatorID = regexp.MustCompile(`<code class="id"[^>]*>[^<]*</code>`)

	dottedID = regexp.MustCompile(`\b[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+\b`)
	rawJSON  = regexp.MustCompile(`\\u00[0-9a-fA-F]{2}|\{"|":\s*[\[{"0-9tfn]`)
	rawEnum  = regexp.MustCompile(`\b[a-z]+(?:_[a-z0-9]+)+\b`)
	rawBool  = regexp.MustCompile(`\b(?:true|false)\b`)

	// What the pages show as it is: addresses, links, ids, references,
	// codes, numbers, times.
	verbatim = regexp.MustCompile(`[\w.+*-]+@[\w-]+(?:\.[\w-]+)+` + // email, masked or not
		`|JSON Lines|Go-http-client` + // a format's name; the test client's browser name
		`|https?://\S+|/[a-z][\w/{}.-]*` + // links and paths
		`|\b[a-z]{3}_[a-z2-7]{26}\b` + // ids
		`|\bMB-[0-9A-Z]{4}-[0-9A-Z]{4}\b` + // support references
		`|\b[0-9A-Z]{4}(?:-[0-9A-Z]{4})+\b`) // codes
	asciiWord = regexp.MustCompile(`[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]`)
)

// domainEnd ends a host name, which a page may show as it is.
var domainEnd = map[string]bool{"jp": true, "com": true, "net": true, "org": true, "io": true, "dev": true, "example": true, "test": true, "localhost": true}

// latinAllowed names the Japanese pages show in Latin letters on purpose: the product,
// brands, standard abbreviations, and the fixtures' own data.
var latinAllowed = map[string]bool{
	"monban": true, "SMS": true, "TOTP": true, "ID": true, "IP": true, "QR": true, "URL": true, "HTTPS": true,
	"JSON": true, "JavaScript": true, "Cookie": true,
	"LINE": true, "Google": true, "Apple": true, "Microsoft": true, "Authenticator": true,
	"iPhone": true, "Android": true, "Windows": true, "Chrome": true,
	"English": true, // the language switch, in its own language (lang="en")
	// fixture data the test typed
	"taro": true, "kimura": true,
}

// notJapanese lists what a Japanese reader would meet as code in a page,
// once each, described.
func notJapanese(page string, namespaces map[string]bool) []string {
	page = scriptOrStyle.ReplaceAllString(page, " ")
	page = operatorID.ReplaceAllString(page, " ")
	var parts []string
	for _, m := range spokenAttr.FindAllStringSubmatch(page, -1) {
		parts = append(parts, m[2])
	}
	parts = append(parts, anyTag.ReplaceAllString(page, " "))
	text := html.UnescapeString(strings.Join(parts, " \n "))

	var out []string
	add := func(what, s string) {
		d := fmt.Sprintf("%s %q", what, s)
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	for _, m := range rawJSON.FindAllString(text, -1) {
		add("raw JSON", m)
	}
	rest := verbatim.ReplaceAllString(text, " ")
	for _, m := range dottedID.FindAllString(rest, -1) {
		segs := strings.Split(m, ".")
		if namespaces[segs[0]] || !domainEnd[segs[len(segs)-1]] {
			add("an id", m)
		}
	}
	rest = dottedID.ReplaceAllString(rest, " ")
	for _, m := range rawEnum.FindAllString(rest, -1) {
		add("a raw value", m)
	}
	rest = rawEnum.ReplaceAllString(rest, " ")
	for _, m := range rawBool.FindAllString(rest, -1) {
		add("a raw value", m)
	}
	rest = rawBool.ReplaceAllString(rest, " ")
	for _, m := range asciiWord.FindAllString(rest, -1) {
		if !latinAllowed[m] {
			add("an English word", m)
		}
	}
	return out
}

// TestNotJapanese: what the page check counts as code, and what it lets be.
func TestNotJapanese(t *testing.T) {
	ns := map[string]bool{"desk": true, "notice": true}
	for _, c := range []struct {
		page string
		want []string
	}{
		{`<p>新しい端末からのサインイン</p>`, nil},
		{`<p>SMS と TOTP、monban の <a href="/help">ヘルプ</a>、t***@example.com、taro@example.jp、MB-AB12-CD34、ABCD-EFGH</p>`, nil},
		{`<p lang="en">English</p><script>const x = {"a": true};</script>`, nil},
		{`<td>notice.signin.new_device</td><td>code.new_device</td>`, []string{`an id "notice.signin.new_device"`, `an id "code.new_device"`}},
		{`<td>sent</td><td>transfer_code</td><p>2-step: false</p>`, []string{`a raw value "transfer_code"`, `a raw value "false"`,
			`an English word "sent"`, `an English word "step"`}},
		{`<pre>{&#34;when&#34;:&#34;n \u003e= 5&#34;}</pre>`, []string{`raw JSON "{\""`, `raw JSON "\":\""`, `raw JSON "\\u003e"`,
			`an English word "when"`, `an English word "n"`, `an English word "u"`, `an English word "e"`}},
		{`<input aria-label="phone">`, []string{`an English word "phone"`}},
		{`<code class="id" id="lock-rule">purchase-burst</code> 第1版`, nil},
		{`<code>purchase-burst</code>`, []string{`an English word "purchase-burst"`}},
	} {
		if got := notJapanese(c.page, ns); !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.page, got, c.want)
		}
	}
}
