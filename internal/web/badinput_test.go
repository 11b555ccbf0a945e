package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/monban-dev/monban/internal/web"
)

// badCase is one request that must be refused with a translated problem and
// change nothing.
type badCase struct {
	name   string
	req    func(f *badFixture) request
	status int
	key    string
	field  string
	params map[string]any
	allow  string // the Allow header of a 405
}

// badFixture is what exists before the bad requests: an account with a live
// and a signed-out session, and an API key.
type badFixture struct {
	live, ended account
	apiKey      string
}

func TestBadInput(t *testing.T) {
	register := func(body string) func(*badFixture) request {
		return func(*badFixture) request { return request{method: "POST", path: "/api/v1/accounts", body: body} }
	}
	newUser := `"username":"jiro","password":"` + goodPassword + `"`
	long := strings.Repeat("a", 321)
	cases := []badCase{
		{name: "malformed JSON", req: register(`{"username":`), status: 400, key: "request.malformed_json"},
		{name: "empty body", status: 400, key: "request.malformed_json",
			req: func(*badFixture) request {
				return request{method: "POST", path: "/api/v1/accounts", contentType: "application/json"}
			}},
		{name: "trailing garbage", req: register(`{` + newUser + `} x`), status: 400, key: "request.malformed_json"},
		{name: "two objects", req: register(`{` + newUser + `}{}`), status: 400, key: "request.malformed_json"},
		{name: "not an object", req: register(`["jiro"]`), status: 400, key: "request.field_type"},
		{name: "wrong field type", req: register(`{"username":5,"password":"` + goodPassword + `"}`), status: 400,
			key: "request.field_type", field: "username"},
		{name: "unknown field", req: register(`{` + newUser + `,"nickname":"J"}`), status: 400,
			key: "request.unknown_field", field: "nickname", params: map[string]any{"field": "nickname"}},
		{name: "text/plain", status: 415, key: "request.content_type",
			req: func(*badFixture) request {
				return request{method: "POST", path: "/api/v1/accounts", body: `{` + newUser + `}`, contentType: "text/plain"}
			}},
		{name: "form post to the API", status: 415, key: "request.content_type",
			req: func(*badFixture) request {
				return request{method: "POST", path: "/api/v1/sessions", body: "identifier=taro&password=x", contentType: "application/x-www-form-urlencoded"}
			}},
		{name: "no content type", status: 415, key: "request.content_type",
			req: func(*badFixture) request {
				return request{method: "POST", path: "/api/v1/sessions", body: `{}`, contentType: " "}
			}},
		{name: "body over 64 KiB", status: 413, key: "request.too_large", params: map[string]any{"max_kib": 64},
			req: register(`{"username":"jiro","password":"` + strings.Repeat("x", 70<<10) + `"}`)},
		{name: "over-long username", req: register(`{"username":"` + long + `","password":"` + goodPassword + `"}`), status: 400,
			key: "request.field_too_long", field: "username", params: map[string]any{"field": "username", "max": 320}},
		{name: "over-long email", req: register(`{"email":"` + long + `@example.com","password":"` + goodPassword + `"}`), status: 400,
			key: "request.field_too_long", field: "email", params: map[string]any{"field": "email", "max": 320}},
		{name: "over-long identifier", status: 400, key: "request.field_too_long", field: "identifier",
			params: map[string]any{"field": "identifier", "max": 320},
			req: func(*badFixture) request {
				return request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": long, "password": goodPassword}}
			}},
		{name: "over-long password at sign-up", req: register(`{"username":"jiro","password":"` + strings.Repeat("x", 2000) + `"}`), status: 400,
			key: "password.too_long", field: "password", params: map[string]any{"max": 256}},
		{name: "over-long password at sign-in", status: 400, key: "password.too_long", field: "password", params: map[string]any{"max": 256},
			req: func(*badFixture) request {
				return request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro", "password": strings.Repeat("x", 2000)}}
			}},
		{name: "bad device id", req: register(`{` + newUser + `,"device_id":"short"}`), status: 400,
			key: "request.device_id", field: "device_id"},
		{name: "unknown route", status: 404, key: "error.not_found",
			req: func(*badFixture) request { return request{method: "GET", path: "/api/v1/nope"} }},
		{name: "unknown version", status: 404, key: "error.not_found",
			req: func(*badFixture) request { return request{method: "POST", path: "/api/v2/accounts", body: `{}`} }},
		{name: "wrong method on accounts", status: 405, key: "error.method", allow: "POST",
			req: func(*badFixture) request { return request{method: "PUT", path: "/api/v1/accounts", body: `{}`} }},
		{name: "wrong method on sessions", status: 405, key: "error.method", allow: "GET, POST",
			req: func(*badFixture) request { return request{method: "DELETE", path: "/api/v1/sessions"} }},
		{name: "wrong method on introspect", status: 405, key: "error.method", allow: "POST",
			req: func(f *badFixture) request {
				return request{method: "GET", path: "/api/v1/introspect", bearer: f.apiKey}
			}},
		{name: "no bearer token", status: 401, key: "session.missing",
			req: func(*badFixture) request { return request{method: "GET", path: "/api/v1/account"} }},
		{name: "not a bearer token", status: 401, key: "session.missing",
			req: func(f *badFixture) request {
				return request{method: "GET", path: "/api/v1/sessions", header: map[string]string{"Authorization": "Basic " + f.live.Token}}
			}},
		{name: "unknown bearer token", status: 401, key: "session.invalid",
			req: func(*badFixture) request {
				return request{method: "GET", path: "/api/v1/account", bearer: "mbs_unknown"}
			}},
		{name: "signed-out bearer token", status: 401, key: "session.invalid",
			req: func(f *badFixture) request {
				return request{method: "DELETE", path: "/api/v1/sessions/" + f.live.SessionID, bearer: f.ended.Token}
			}},
		{name: "API key as session token", status: 401, key: "session.invalid",
			req: func(f *badFixture) request { return request{method: "GET", path: "/api/v1/devices", bearer: f.apiKey} }},
		{name: "introspect without API key", status: 401, key: "apikey.missing",
			req: func(f *badFixture) request {
				return request{method: "POST", path: "/api/v1/introspect", json: map[string]any{"token": f.live.Token}}
			}},
		{name: "introspect with a session token as key", status: 401, key: "apikey.invalid",
			req: func(f *badFixture) request {
				return request{method: "POST", path: "/api/v1/introspect", bearer: f.live.Token, json: map[string]any{"token": f.live.Token}}
			}},
		{name: "introspect with unknown field", status: 400, key: "request.unknown_field", field: "tokn", params: map[string]any{"field": "tokn"},
			req: func(f *badFixture) request {
				return request{method: "POST", path: "/api/v1/introspect", bearer: f.apiKey, json: map[string]any{"tokn": f.live.Token}}
			}},
	}
	cat := catalog(t)
	eachDB(t, func(t *testing.T, h *harness) {
		f := &badFixture{live: registerTaro(h), ended: h.signIn("taro", goodPassword)}
		h.do(request{method: "DELETE", path: "/api/v1/session", bearer: f.ended.Token}).wantStatus(t, http.StatusNoContent)
		key, _, err := h.n.Keys.Create(context.Background(), "shop")
		if err != nil {
			t.Fatal(err)
		}
		f.apiKey = key
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := h.snapshot()
				details := map[string]string{}
				for _, lang := range []string{"en", "ja"} {
					req := c.req(f)
					req.lang = lang
					r := h.do(req).wantStatus(t, c.status)
					p := r.problem(t)
					if p.Key != c.key || p.Field != c.field {
						t.Errorf("%s: key %q field %q, want %q %q", lang, p.Key, p.Field, c.key, c.field)
					}
					if want := cat.T(lang, c.key, c.params); p.Detail != want {
						t.Errorf("%s: detail %q, want %q", lang, p.Detail, want)
					}
					if got := r.header.Get("Content-Language"); got != lang {
						t.Errorf("Content-Language %q, want %s", got, lang)
					}
					if got := r.header.Get("Allow"); got != c.allow {
						t.Errorf("Allow %q, want %q", got, c.allow)
					}
					if r.header.Get("X-Content-Type-Options") != "nosniff" {
						t.Error("no nosniff")
					}
					details[lang] = p.Detail
				}
				if details["en"] == details["ja"] {
					t.Errorf("detail not translated: %q", details["en"])
				}
				h.unchanged(before)
			})
		}
		t.Run("expired bearer token", func(t *testing.T) {
			h.clock.Advance(absoluteTimeout)
			before := h.snapshot()
			for _, lang := range []string{"en", "ja"} {
				r := h.do(request{method: "GET", path: "/api/v1/sessions", bearer: f.live.Token, lang: lang}).wantStatus(t, http.StatusUnauthorized)
				if p := r.problem(t); p.Key != "session.invalid" || p.Detail != cat.T(lang, "session.invalid", nil) {
					t.Errorf("%s: %+v", lang, p)
				}
			}
			h.unchanged(before)
		})
	})
}

// storeDigest is every row of every table, so that a refusal can be shown
// to have changed nothing at all: no try spent, no signal, no throttle
// counter, no audit line, no outbox message.
func (h *harness) storeDigest() string {
	h.t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
	if h.n.DB.Dialect() == "postgres" {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"
	}
	rows, err := h.raw.Query(q)
	if err != nil {
		h.t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			h.t.Fatal(err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	var b strings.Builder
	for _, t := range tables {
		rs, err := h.raw.Query(`SELECT * FROM "` + t + `"`)
		if err != nil {
			h.t.Fatal(err)
		}
		cols, _ := rs.Columns()
		var lines []string
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				h.t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%v", vals))
		}
		rs.Close()
		slices.Sort(lines)
		fmt.Fprintf(&b, "%s: %d rows\n%s\n", t, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// TestSecretBadInputSpendsNothing sends every JSON route that takes a body
// the bodies its schema in docs/openapi.yaml refuses (null, {}, invalid
// UTF-8, a lone surrogate, each string one character over its maxLength,
// each enum with a value outside it, each required field null), with a
// live session: each is a translated 400 naming the field, and the store is
// exactly as before (nothing spent, recorded or audited).
func TestSecretBadInputSpendsNothing(t *testing.T) {
	cases := web.BadBodies(t)
	cat := catalog(t)
	eachDB(t, func(t *testing.T, h *harness) {
		// Each route is called by the caller its row in the route table
		// names, so that the refusal comes from the body, not the caller.
		f := newAccessFixture(t, h)
		admin := h.hostKey(true)
		who := map[string]string{}
		for _, rt := range web.RouteTable(h.n.Web) {
			who[rt.Pattern] = rt.Who
		}
		before := h.storeDigest()
		for _, c := range cases {
			method, path, _ := strings.Cut(c.Pattern, " ")
			path = regexp.MustCompile(`\{[a-z_]+\}`).ReplaceAllString(path, "x0000000000000000")
			bearer := f.person.Token
			switch who[c.Pattern] {
			case "host":
				bearer = f.hostKey
			case "admin":
				bearer = admin
			case "locked":
				bearer = f.locked.Token
			}
			t.Run(c.Pattern+" "+c.Name, func(t *testing.T) {
				r := h.do(request{method: method, path: path, body: c.Body, bearer: bearer, lang: "en"})
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400: %s", r.status, r.body)
				}
				p := r.problem(t)
				if p.Key != c.Key || (c.Field != "*" && p.Field != c.Field) {
					t.Errorf("key %q field %q, want %q %q", p.Key, p.Field, c.Key, c.Field)
				}
				if p.Detail == "" || p.Detail == p.Key || strings.Contains(p.Detail, "{") {
					t.Errorf("detail %q is not a translated message", p.Detail)
				}
				if p.Key == "request.invalid_utf8" && p.Detail != cat.T("en", p.Key, nil) {
					t.Errorf("detail %q", p.Detail)
				}
			})
		}
		if after := h.storeDigest(); after != before {
			t.Errorf("bad bodies changed the store:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// TestSecretDecoderAcceptsWhatTheSpecAllows is the other half of the
// comparison with docs/openapi.yaml: a body with every required field of a
// route's schema, sent with a live session (or an API key), is never
// refused by the decoder (no request.* problem, no 500 from a Go type that
// cannot take a documented field), whatever the handler then answers.
func TestSecretDecoderAcceptsWhatTheSpecAllows(t *testing.T) {
	h := newHarness(t, "sqlite")
	live := registerTaro(h)
	key, _, err := h.n.Keys.Create(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := h.n.Keys.CreateAdmin(context.Background(), "ops")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range web.GoodBodies(t) {
		method, path, _ := strings.Cut(c.Pattern, " ")
		path = regexp.MustCompile(`\{[a-z_]+\}`).ReplaceAllString(path, "x0000000000000000")
		bearer := live.Token
		if strings.Contains(path, "/admin/") || path == "/api/v1/introspect" || path == "/api/v1/webhooks" || path == "/api/v1/signals" ||
			strings.HasPrefix(path, "/api/v1/accounts/") {
			bearer = key
		}
		if strings.Contains(path, "/admin/") {
			bearer = admin
		}
		t.Run(c.Pattern, func(t *testing.T) {
			r := h.do(request{method: method, path: path, body: c.Body, bearer: bearer, lang: "en"})
			if r.status >= 500 {
				t.Fatalf("%s: status %d: %s", c.Body, r.status, r.body)
			}
			if r.status == http.StatusBadRequest {
				if p := r.problem(t); strings.HasPrefix(p.Key, "request.") {
					t.Errorf("%s: refused by the decoder: %s %s", c.Body, p.Key, p.Field)
				}
			}
		})
	}
}

// TestSecretPasskeyBodyInvalidUTF8: a WebAuthn response posted by the page
// scripts is refused like a JSON body when it is not valid UTF-8.
func TestSecretPasskeyBodyInvalidUTF8(t *testing.T) {
	h := newHarness(t, "sqlite")
	b := newBrowser(h)
	tok := b.form("/signin")
	before := h.storeDigest()
	for _, body := range []string{"{\"id\":\"\xff\xfe\"}", `{"id":"\udc00"}`} {
		r := b.do(request{method: "POST", path: "/signin/passkey?ceremony=x", body: body, header: map[string]string{"X-CSRF-Token": tok}})
		if p := r.wantStatus(t, http.StatusBadRequest).problem(t); p.Key != "request.invalid_utf8" {
			t.Errorf("%q: %s", body, p.Key)
		}
	}
	if h.storeDigest() != before {
		t.Error("the store changed")
	}
}
