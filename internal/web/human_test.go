package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var humanLink = regexp.MustCompile(`id="human-link"|href="(/support/new\?[^"]*)" id="human-link"`)

// humanHref is the "None of these work" link of a page, or "".
func humanHref(body []byte) string {
	m := regexp.MustCompile(`href="(/support/new\?[^"]*)" id="human-link"`).FindSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(string(m[1]))
}

// TestHumanOnFailurePages: the pages a person can be stuck on end with
// "None of these work", linking the support form without sign-in with the
// category and flow; signed-in account pages and the form itself do not.
func TestHumanOnFailurePages(t *testing.T) {
	for _, c := range []struct {
		name, path string
		signedIn   bool
		want       url.Values // nil: no box
	}{
		{"sign-in page", "/signin", false, url.Values{"category": {"cant_sign_in"}}},
		{"login help", "/help/signin", false, url.Values{"category": {"cant_sign_in"}, "flow": {"login_help"}}},
		{"transfer", "/transfer", false, url.Values{"category": {"transfer"}, "flow": {"transfer"}}},
		{"transfer without the old device", "/transfer/start", false, url.Values{"category": {"transfer"}, "flow": {"transfer"}}},
		{"support form has none", "/support/new", false, nil},
		{"account page has none", "/account", true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "sqlite")
			b := newBrowser(h)
			if c.signedIn {
				b = signedInBrowser(h, registerTaro(h).Token)
			}
			for _, lang := range []string{"ja", "en"} {
				b.lang = lang
				r := b.do(request{method: "GET", path: c.path}).wantStatus(t, http.StatusOK)
				href := humanHref(r.body)
				if c.want == nil {
					if humanLink.Match(r.body) {
						t.Fatalf("%s: a support box on a page that is no dead end:\n%s", lang, r.body)
					}
					continue
				}
				if href == "" {
					t.Fatalf("%s: no \"None of these work\" link:\n%s", lang, r.body)
				}
				if title := catalog(t).T(lang, "human.title", nil); !strings.Contains(string(r.body), title) {
					t.Errorf("%s: the box does not say %q", lang, title)
				}
				u, _ := url.Parse(href)
				for k := range c.want {
					if u.Query().Get(k) != c.want.Get(k) {
						t.Errorf("%s: link %s, want %s=%s", lang, href, k, c.want.Get(k))
					}
				}
				if u.Query().Get("lang") != lang {
					t.Errorf("%s: link %s loses the language", lang, href)
				}
			}
		})
	}
}

// TestHumanFromFailedSMS: the code page after the carrier reported the SMS
// failed links support with flow and channel; the form shows them and has
// the description written; filing it (the second click) gives a reference
// and the case records where the person was stuck.
func TestHumanFromFailedSMS(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		b := signedInBrowser(h, registerTaro(h).Token)
		b.lang = "ja"
		csrf := b.form("/verify/confirm?kind=phone")
		r := b.post("/verify/start", url.Values{"csrf": {csrf}, "kind": {"phone"}, "channel": {"sms"}}, nil).wantStatus(t, http.StatusSeeOther)
		page := r.header.Get("Location")
		h.exec("UPDATE messages SET status = 'failed' WHERE channel = 'sms'")

		code := b.do(request{method: "GET", path: page}).wantStatus(t, http.StatusOK)
		href := humanHref(code.body)
		u, _ := url.Parse(href)
		if q := u.Query(); q.Get("category") != "code_not_arriving" || q.Get("flow") != "signup" || q.Get("failed") != "sms" {
			t.Fatalf("code page after a failed SMS links %q:\n%s", href, code.body)
		}
		// Click 1: the form, signed out (a person stuck outside has no session).
		out := newBrowser(h)
		out.lang = "ja"
		form := out.do(request{method: "GET", path: href}).wantStatus(t, http.StatusOK)
		context := "状況: 登録時の確認コード · 届かなかった経路: SMS"
		prefill := catalog(t).T("ja", "support.prefill_failed", map[string]any{"where": "登録時の確認コード", "channel": "SMS"})
		body := html.UnescapeString(string(form.body))
		for _, want := range []string{context, prefill, `<option value="code_not_arriving" selected>`, `name="flow" value="signup"`, `name="failed" value="sms"`} {
			if !strings.Contains(body, want) {
				t.Fatalf("support form lacks %q:\n%s", want, form.body)
			}
		}
		// Click 2: submit what is filled in, adding who and where to reply.
		fcsrf := csrfField.FindStringSubmatch(string(form.body))[1]
		filed := out.post("/support/new", url.Values{"csrf": {fcsrf}, "altcha": {solvePoW(t, out)}, "identifier": {"taro"},
			"contact": {"reply@example.jp"}, "category": {"code_not_arriving"}, "flow": {"signup"}, "failed": {"sms"},
			"description": {prefill}}, nil).wantStatus(t, http.StatusOK)
		if refPattern.FindString(string(filed.body)) == "" {
			t.Fatalf("no reference:\n%s", filed.body)
		}
		var desc string
		if err := h.raw.QueryRow("SELECT description FROM cases").Scan(&desc); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(desc, context+"\n\n"+prefill) {
			t.Fatalf("case description %q does not record the context", desc)
		}
		// A forged context is refused and nothing is filed.
		bad := out.post("/support/new", url.Values{"csrf": {fcsrf}, "altcha": {solvePoW(t, out)}, "identifier": {"taro"},
			"contact": {"reply@example.jp"}, "category": {"code_not_arriving"}, "flow": {"<script>"}, "description": {"x"}}, nil)
		bad.wantStatus(t, http.StatusBadRequest)
	})
}
