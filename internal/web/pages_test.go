package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browser keeps the cookies a page visit set, as a browser would.
type browser struct {
	h       *harness
	cookies map[string]*http.Cookie
	lang    string
}

func newBrowser(h *harness) *browser { return &browser{h: h, cookies: map[string]*http.Cookie{}} }

func (b *browser) do(r request) *response {
	b.h.t.Helper()
	for _, c := range b.cookies {
		r.cookies = append(r.cookies, c)
	}
	if r.lang == "" {
		r.lang = b.lang
	}
	resp := b.h.do(r)
	for _, c := range (&http.Response{Header: resp.header}).Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
	}
	return resp
}

// form loads a page and returns its CSRF token.
func (b *browser) form(path string) string {
	b.h.t.Helper()
	r := b.do(request{method: "GET", path: path}).wantStatus(b.h.t, http.StatusOK)
	m := csrfField.FindSubmatch(r.body)
	if m == nil {
		b.h.t.Fatalf("GET %s: no csrf field in\n%s", path, r.body)
	}
	return string(m[1])
}

func (b *browser) post(path string, form url.Values, header map[string]string) *response {
	b.h.t.Helper()
	return b.do(request{method: "POST", path: path, form: form, header: header})
}

func wantSecurityHeaders(t *testing.T, r *response) {
	t.Helper()
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no X-Content-Type-Options: nosniff")
	}
	if r.header.Get("X-Frame-Options") != "DENY" {
		t.Error("no X-Frame-Options: DENY")
	}
	if r.header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plain http")
	}
}

func TestPagesLanguage(t *testing.T) {
	cat := catalog(t)
	eachDB(t, func(t *testing.T, h *harness) {
		for _, c := range []struct {
			accept, query, want string
		}{
			{"", "", "ja"},
			{"en", "", "en"},
			{"en-GB,en;q=0.9", "", "en"},
			{"fr", "", "ja"},
			{"ja-JP", "", "ja"},
			{"en", "?lang=ja", "ja"},
		} {
			r := h.do(request{method: "GET", path: "/signup" + c.query, lang: c.accept}).wantStatus(t, http.StatusOK)
			body := string(r.body)
			if got := r.header.Get("Content-Language"); got != c.want {
				t.Errorf("Accept-Language %q%s: Content-Language %q, want %s", c.accept, c.query, got, c.want)
			}
			if !strings.Contains(body, `<html lang="`+c.want+`">`) || !strings.Contains(body, cat.T(c.want, "signup.title", nil)) {
				t.Errorf("Accept-Language %q%s: page not in %s", c.accept, c.query, c.want)
			}
			wantSecurityHeaders(t, r)
		}
		// An explicit choice sticks.
		b := newBrowser(h)
		b.do(request{method: "GET", path: "/signin?lang=en", lang: "ja"}).wantStatus(t, http.StatusOK)
		if r := b.do(request{method: "GET", path: "/signup", lang: "ja"}); r.header.Get("Content-Language") != "en" {
			t.Errorf("language choice not kept: %q", r.header.Get("Content-Language"))
		}
	})
}

func TestPageForms(t *testing.T) {
	cat := catalog(t)
	eachDB(t, func(t *testing.T, h *harness) {
		signup := url.Values{"username": {"taro"}, "password": {goodPassword}}
		with := func(v url.Values, k, val string) url.Values {
			c := url.Values{}
			for k, vs := range v {
				c[k] = vs
			}
			c.Set(k, val)
			return c
		}

		t.Run("refused posts change nothing", func(t *testing.T) {
			b := newBrowser(h)
			tok := b.form("/signup")
			before := h.snapshot()
			for _, c := range []struct {
				name   string
				form   url.Values
				header map[string]string
				status int
				text   string
			}{
				{"no csrf token", signup, nil, http.StatusForbidden, cat.T("ja", "csrf.invalid", nil)},
				{"wrong csrf token", with(signup, "csrf", "forged"), nil, http.StatusForbidden, cat.T("ja", "csrf.invalid", nil)},
				{"cross-site", with(signup, "csrf", tok), map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, ""},
				{"other origin", with(signup, "csrf", tok), map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden, ""},
				{"short password", with(with(signup, "csrf", tok), "password", "short"), nil, http.StatusBadRequest,
					cat.T("ja", "password.too_short", map[string]any{"min": 15})},
				{"invalid UTF-8 password", with(with(signup, "csrf", tok), "password", goodPassword+"\xff\xfe"), nil, http.StatusBadRequest,
					cat.T("ja", "request.invalid_utf8", nil)},
				{"invalid UTF-8 username", with(with(signup, "csrf", tok), "username", "taro\x80"), nil, http.StatusBadRequest,
					cat.T("ja", "request.invalid_utf8", nil)},
			} {
				r := b.post("/signup", c.form, c.header)
				if r.status != c.status {
					t.Errorf("%s: status %d, want %d", c.name, r.status, c.status)
				}
				if c.text != "" && !strings.Contains(string(r.body), c.text) {
					t.Errorf("%s: page lacks %q:\n%s", c.name, c.text, r.body)
				}
				if r.header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s: no nosniff", c.name)
				}
			}
			h.unchanged(before)
		})

		t.Run("sign up, account page, sign out, sign in", func(t *testing.T) {
			b := newBrowser(h)
			b.lang = "en"
			tok := b.form("/signup")
			r := b.post("/signup", with(signup, "csrf", tok), nil).wantStatus(t, http.StatusSeeOther)
			if loc := r.header.Get("Location"); loc != "/account" {
				t.Errorf("Location %q", loc)
			}
			var session *http.Cookie
			for _, c := range (&http.Response{Header: r.header}).Cookies() {
				if c.Name == "monban_session" {
					session = c
				}
			}
			if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
				t.Fatalf("session cookie %+v", session)
			}

			r = b.do(request{method: "GET", path: "/account"}).wantStatus(t, http.StatusOK)
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("account page Cache-Control %q, want no-store", cc)
			}
			wantSecurityHeaders(t, r)
			if !strings.Contains(string(r.body), "@taro") || !strings.Contains(string(r.body), cat.T("en", "account.title", nil)) {
				t.Errorf("account page:\n%s", r.body)
			}

			tok = csrfField.FindStringSubmatch(string(r.body))[1]
			b.post("/signout", url.Values{"csrf": {tok}}, nil).wantStatus(t, http.StatusSeeOther)
			if r := b.do(request{method: "GET", path: "/account"}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin" {
				t.Errorf("after sign-out: %d %s", r.status, r.header.Get("Location"))
			}

			tok = b.form("/signin")
			r = b.post("/signin", url.Values{"csrf": {tok}, "identifier": {"@Taro"}, "password": {otherPassword}}, nil)
			if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), cat.T("en", "signin.failed", nil)) {
				t.Errorf("wrong password: %d\n%s", r.status, r.body)
			}
			b.post("/signin", url.Values{"csrf": {tok}, "identifier": {"@Taro"}, "password": {goodPassword}}, nil).wantStatus(t, http.StatusSeeOther)
			b.do(request{method: "GET", path: "/account"}).wantStatus(t, http.StatusOK)
		})
	})
}

func TestPageNotFound(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		r := h.do(request{method: "GET", path: "/no/such/page", lang: "en"}).wantStatus(t, http.StatusNotFound)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q, want a page", ct)
		}
		r = h.do(request{method: "DELETE", path: "/signup"}).wantStatus(t, http.StatusMethodNotAllowed)
		if allow := r.header.Get("Allow"); allow != "GET, POST" {
			t.Errorf("Allow %q", allow)
		}
	})
}
