package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/web"
)

// The route table says who may call each route (web.RouteTable). These
// tests walk it: a new route is covered the day it is added.

// pathOf turns a route pattern into a method and a path to request.
func pathOf(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(path, "x")
	return method, strings.TrimSuffix(path, "{$}")
}

// accessFixture is one of each kind of caller, on one node.
type accessFixture struct {
	person  account // signed in, not locked
	locked  account // signed in, under a lock with self-service ways out
	hostKey string
	agent1  *browser // a desk agent past the password, not the code
	csrf    *browser // a browser with a device cookie and its CSRF token
	token   string
	// good is a documented body per JSON route (its schema's sample): a
	// refusal must come from the caller, not from a malformed body. Under
	// /api/ a held sign-in's and a transfer's secret travel in the body, so
	// for those the sample is a well-formed but wrong secret.
	good map[string]string
}

func newAccessFixture(t *testing.T, h *harness) *accessFixture {
	t.Helper()
	h.rules(riskRules)
	f := &accessFixture{hostKey: h.hostKey(false), good: map[string]string{}}
	for _, b := range web.GoodBodies(t) {
		f.good[b.Pattern] = b.Body
	}
	f.person = h.register(map[string]any{"username": "taro", "email": "taro@example.com", "password": goodPassword})
	f.locked = h.register(map[string]any{"username": "hanako", "phone": "090-1234-5679", "password": goodPassword})
	h.verifyContacts(f.locked.ID)
	h.signal(f.hostKey, map[string]any{"account_id": f.locked.ID, "type": "purchase", "amount": 50000, "currency": "JPY",
		"instrument": "gift_card"}).wantStatus(t, http.StatusAccepted)
	if !h.lockOf(f.locked.Token, "en").Locked {
		t.Fatal("fixture: hanako is not locked")
	}
	f.csrf = newBrowser(h)
	f.token = f.csrf.form("/signin")
	f.agent1 = deskAgentStep(t, h)
	return f
}

// deskAgentStep creates the desk agent "agent1" (a lead) and signs it in
// with its password: the code step is next.
func deskAgentStep(t *testing.T, h *harness) *browser {
	t.Helper()
	b := newBrowser(h)
	hash, err := h.n.Hasher.Hash(context.Background(), goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	ag := &monban.Agent{ID: monban.NewID("agt"), Username: "agent1", PasswordHash: hash, Role: monban.RoleLead, CreatedAt: h.clock.Now()}
	if err := h.n.DB.CreateAgent(context.Background(), ag, monban.AuditEvent{At: h.clock.Now(), AgentID: ag.ID, Action: monban.AuditAgentCreated}); err != nil {
		t.Fatal(err)
	}
	tok := b.form("/desk")
	b.post("/desk/signin", url.Values{"csrf": {tok}, "username": {"agent1"}, "password": {goodPassword}}, nil).
		wantStatus(t, http.StatusSeeOther)
	return b
}

// credential is how a request presents itself.
type credential struct {
	name    string
	bearer  string
	session string         // the session cookie
	cookies []*http.Cookie // more cookies (a desk session)
}

// refusal is what a refused request answers: a redirect, a problem with
// its key, or an HTML page with a status.
type refusal struct {
	status   int
	location string // for 303
	key      string // for problem+json
}

// accessCase is one request a route must refuse.
type accessCase struct {
	cred credential
	want refusal
}

// refusals lists, for a route, the callers it must refuse and how.
func (f *accessFixture) refusals(rt web.RouteAccess) []accessCase {
	none := credential{name: "no credential"}
	hostKey := credential{name: "a host key", bearer: f.hostKey}
	person := credential{name: "a person's session", bearer: f.person.Token, session: f.person.Token}
	locked := credential{name: "a locked session", bearer: f.locked.Token, session: f.locked.Token}
	agent1 := credential{name: "an agent before the code", cookies: cookiesOf(f.agent1, "monban_desk")}
	api := strings.Contains(rt.Pattern, " /api/")
	page := rt.Kind == "page" || rt.Kind == "form"
	seeOther := func(to string) refusal { return refusal{status: http.StatusSeeOther, location: to} }
	problem := func(status int, key string) refusal { return refusal{status: status, key: key} }
	switch rt.Who {
	case "person":
		switch {
		case api:
			return []accessCase{{none, problem(401, "session.missing")}, {hostKey, problem(401, "session.invalid")},
				{locked, problem(403, "account.locked")}}
		case page:
			return []accessCase{{none, seeOther("/signin")}, {locked, seeOther("/locked")}}
		default:
			return []accessCase{{none, problem(401, "session.invalid")}, {locked, problem(403, "account.locked")}}
		}
	case "locked":
		switch {
		case api:
			return []accessCase{{none, problem(401, "session.missing")}, {hostKey, problem(401, "session.invalid")}}
		case page:
			return []accessCase{{none, seeOther("/signin")}, {person, seeOther("/account")}}
		default:
			return []accessCase{{none, problem(409, "lock.not_active")}, {person, problem(409, "lock.not_active")}}
		}
	case "pending":
		switch {
		case api:
			return []accessCase{{none, problem(401, "signin.pending_invalid")}, {person, problem(401, "signin.pending_invalid")}}
		case rt.Kind == "page":
			return []accessCase{{none, seeOther("/signin")}, {person, seeOther("/signin")}}
		case rt.Kind == "form":
			return []accessCase{{none, refusal{status: 401}}, {person, refusal{status: 401}}}
		default:
			return []accessCase{{none, problem(401, "signin.pending_invalid")}, {person, problem(401, "signin.pending_invalid")}}
		}
	case "transfer":
		switch {
		case api:
			return []accessCase{{none, problem(401, "transfer.invalid")}, {person, problem(401, "transfer.invalid")}}
		case page:
			return []accessCase{{none, refusal{status: 401}}, {person, refusal{status: 401}}}
		default:
			return []accessCase{{none, problem(401, "transfer.invalid")}, {person, problem(401, "transfer.invalid")}}
		}
	case "host":
		return []accessCase{{none, problem(401, "apikey.missing")}, {person, problem(401, "apikey.invalid")}}
	case "admin":
		return []accessCase{{none, problem(401, "apikey.missing")}, {person, problem(401, "apikey.invalid")},
			{hostKey, problem(403, "apikey.not_admin")}}
	case "agent":
		return []accessCase{{none, seeOther("/desk")}, {person, seeOther("/desk")}, {agent1, seeOther("/desk/2fa")}}
	case "agent_step":
		return []accessCase{{none, seeOther("/desk")}, {person, seeOther("/desk")}}
	case "provider":
		// No provider is configured on the test node: the hooks answer
		// 404, as to an unknown provider, whatever the request carries.
		return []accessCase{{none, problem(404, "error.not_found")}, {hostKey, problem(404, "error.not_found")}}
	}
	return nil
}

func cookiesOf(b *browser, names ...string) []*http.Cookie {
	var out []*http.Cookie
	for _, n := range names {
		if c := b.cookies[n]; c != nil {
			out = append(out, c)
		}
	}
	return out
}

// TestAccessRouteTable: every route that is not for anyone refuses a
// request without its caller, and one from the wrong kind of caller, with
// the status its pages or API document, and changes nothing.
func TestAccessRouteTable(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		f := newAccessFixture(t, h)
		for _, rt := range web.RouteTable(h.n.Web) {
			switch rt.Who {
			case "":
				t.Errorf("%s: no principal", rt.Pattern)
				continue
			case "anyone", "dev": // dev: served only by a development node, to anyone
				continue
			}
			t.Run(rt.Pattern, func(t *testing.T) {
				cases := f.refusals(rt)
				if len(cases) == 0 {
					t.Fatalf("no refusals known for principal %q", rt.Who)
				}
				for _, c := range cases {
					before := h.snapshot()
					r := h.do(f.request(rt, c.cred))
					h.unchanged(before)
					switch {
					case r.status != c.want.status:
						t.Errorf("%s: status %d, want %d; %s", c.cred.name, r.status, c.want.status, truncate(r.body))
					case c.want.location != "" && r.header.Get("Location") != c.want.location:
						t.Errorf("%s: to %q, want %q", c.cred.name, r.header.Get("Location"), c.want.location)
					case c.want.key != "":
						if p := r.problem(t); p.Key != c.want.key {
							t.Errorf("%s: key %q, want %q", c.cred.name, p.Key, c.want.key)
						}
					}
				}
			})
		}
	})
}

// TestAccessDevRoutes: the dev outbox is served by a development node
// only; a production node does not know its routes.
func TestAccessDevRoutes(t *testing.T) {
	dev := newHarness(t, "sqlite")
	prod := newHarness(t, "sqlite", func(c *node.Config) { c.Dev = false })
	n := 0
	for _, rt := range web.RouteTable(dev.n.Web) {
		if rt.Who != "dev" {
			continue
		}
		n++
		method, path := pathOf(rt.Pattern)
		if r := prod.do(request{method: method, path: path}); r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s on a production node: %d", rt.Pattern, r.status)
		}
	}
	if n == 0 {
		t.Fatal("no dev routes on a development node")
	}
	for _, rt := range web.RouteTable(prod.n.Web) {
		if rt.Who == "dev" {
			t.Errorf("%s in a production node's table", rt.Pattern)
		}
	}
}

// request builds a request to rt from cred: forms carry a valid CSRF token
// (the refusal tested is the caller's, not the form's), JSON routes an
// empty object.
func (f *accessFixture) request(rt web.RouteAccess, cred credential) request {
	method, path := pathOf(rt.Pattern)
	req := request{method: method, path: path, lang: "en", cookies: cookiesOf(f.csrf, "monban_device")}
	req.cookies = append(req.cookies, cred.cookies...)
	api := strings.HasPrefix(path, "/api/")
	if api && cred.bearer != "" {
		req.bearer = cred.bearer
	}
	if !api && cred.session != "" {
		req.cookies = append(req.cookies, &http.Cookie{Name: "monban_session", Value: cred.session})
	}
	switch {
	case rt.Kind == "form":
		req.form = url.Values{"csrf": {f.token}}
	case api && f.good[rt.Pattern] != "":
		req.body = f.good[rt.Pattern]
	case method != http.MethodGet:
		req.json = map[string]any{}
	}
	return req
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
