package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/web"
)

// secretLimit is how many wrong tries of each kind of secret a route may
// answer before it answers 429: a password is allowed exactly six; short
// codes at most ten; long random tokens fall under the per-IP limit, at
// most thirty.
var secretLimit = map[string]int{
	"password": 6,
	"totp":     10, "recovery_code": 10, "code": 10, "binding_code": 10, "phone": 10,
	"status_link": 30, "undo_token": 30, "approval_token": 30, "notice_ref": 30,
}

// secretTry sends the i-th wrong try (i from 1) and returns the answer.
type secretTry func(i int) *response

// secretFixture builds, on a fresh node, what a route needs to be tried
// with a wrong secret (an account with 2-step, a held sign-in, a flow, a
// transfer, a case…).
type secretFixture func(t *testing.T, h *harness) secretTry

// TestSecretRouteTable: every route that checks a guessable secret answers
// 429 with Retry-After (and retry_at, in JSON) after at most its kind's
// number of wrong tries. A route with a secret and no fixture here fails.
// Passkey assertions are signatures over a fresh challenge: nothing to
// guess, no limit asked.
func TestSecretRouteTable(t *testing.T) {
	table := web.RouteTable(newHarness(t, "sqlite").n.Web)
	for _, rt := range table {
		secrets := slices.DeleteFunc(slices.Clone(rt.Secrets), func(s string) bool { return s == "passkey" })
		if len(secrets) == 0 {
			continue
		}
		t.Run(rt.Pattern, func(t *testing.T) {
			for _, sec := range secrets {
				t.Run(sec, func(t *testing.T) {
					fx := secretFixtures[rt.Pattern][sec]
					if fx == nil {
						t.Fatalf("%s checks a %s and has no fixture in secretFixtures", rt.Pattern, sec)
					}
					limit, ok := secretLimit[sec]
					if !ok {
						t.Fatalf("no limit for secrets of kind %q", sec)
					}
					for _, db := range databases() {
						t.Run(db, func(t *testing.T) {
							h := newHarness(t, db)
							wantLimited(t, rt, sec, limit, fx(t, h))
						})
					}
				})
			}
		})
	}
	for pattern, bySecret := range secretFixtures {
		for sec := range bySecret {
			if !tableHas(table, pattern, sec) {
				t.Errorf("fixture for %s %s, which the route table does not list", pattern, sec)
			}
		}
	}
}

func tableHas(table []web.RouteAccess, pattern, sec string) bool {
	for _, rt := range table {
		if rt.Pattern == pattern {
			for _, s := range rt.Secrets {
				if s == sec {
					return true
				}
			}
		}
	}
	return false
}

// wantLimited tries wrong secrets until a 429, at most limit+1 times.
func wantLimited(t *testing.T, rt web.RouteAccess, sec string, limit int, try secretTry) {
	t.Helper()
	var last *response
	for i := 1; i <= limit+1; i++ {
		last = try(i)
		if last.status != http.StatusTooManyRequests {
			continue
		}
		if sec == "password" && i <= limit {
			t.Errorf("429 after %d wrong passwords, want exactly %d allowed", i-1, limit)
		}
		if last.header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After: %s", truncate(last.body))
		}
		if strings.HasPrefix(last.header.Get("Content-Type"), "application/problem+json") {
			if p := last.problem(t); p.RetryAt == nil {
				t.Errorf("429 without retry_at: %s", last.body)
			}
		} else if rt.Kind == "api" {
			t.Errorf("JSON route answered 429 as %s", last.header.Get("Content-Type"))
		}
		return
	}
	t.Errorf("%d wrong %s tries and no 429; last answer %d %s", limit+1, sec, last.status, truncate(last.body))
}

// Wrong secrets, the i-th of their kind.
func wrongPassword(i int) string { return fmt.Sprintf("not the password %d at all", i) }
func wrongCode(i int) string     { return fmt.Sprintf("%06d", (i*7919+13)%1000000) }
func wrongRecovery(i int) string { return fmt.Sprintf("ZZZZ-ZZZZ-ZZZZ-%04d", i) }
func wrongToken(i int) string    { return fmt.Sprintf("AAAAAAAAAAAAAAAAAAAA%04d", i) }
func wrongRef(i int) string      { return fmt.Sprintf("MB-ZZZZ-%04d", i) }
func wrongPhone(i int) string    { return fmt.Sprintf("090-9999-%04d", i) }

// signedInBrowser is a browser carrying token as its session cookie.
func signedInBrowser(h *harness, token string) *browser {
	b := newBrowser(h)
	b.lang = "en"
	b.cookies["monban_session"] = &http.Cookie{Name: "monban_session", Value: token}
	return b
}

// formTry posts the form at path (CSRF from page) with fields(i).
func formTry(b *browser, page, path string, fields func(i int) url.Values) secretTry {
	csrf := b.form(page)
	return func(i int) *response {
		f := fields(i)
		f.Set("csrf", csrf)
		return b.post(path, f, nil)
	}
}

// jsonTry posts body(i) to path with bearer.
func jsonTry(h *harness, path, bearer string, body func(i int) map[string]any) secretTry {
	return func(i int) *response {
		return h.do(request{method: "POST", path: path, bearer: bearer, json: body(i), lang: "en"})
	}
}

// getTry fetches path(i).
func getTry(b *browser, path func(i int) string) secretTry {
	return func(i int) *response { return b.do(request{method: "GET", path: path(i)}) }
}

// flowTry tries wrong codes on a flow, starting a new one (past the resend
// cooldown) whenever the current one is used up, as an attacker would:
// start returns the new flow's path, or a refusal.
func flowTry(h *harness, start func() (string, *response), try func(path string, i int) *response) secretTry {
	path := ""
	return func(i int) *response {
		if path == "" {
			p, refused := start()
			if refused != nil {
				return refused
			}
			path = p
		}
		r := try(path, i)
		if r.status == http.StatusConflict || r.status == http.StatusGone || flowOver(r) {
			h.clock.Advance(31 * time.Second)
			path = ""
		}
		return r
	}
}

// flowOver reports an answer saying the flow can take no more tries.
func flowOver(r *response) bool {
	b := string(r.body)
	return strings.Contains(b, "code.expired") || strings.Contains(b, "code.used") ||
		strings.Contains(b, "try 0 more times") || strings.Contains(b, "あと 0 回")
}

var locationID = regexp.MustCompile(`/([a-z]+_[a-z0-9]+)(?:\?|$)`)

// redirected returns the id at the end of a 303's Location.
func redirected(t *testing.T, r *response) string {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("status %d, want 303: %s", r.status, truncate(r.body))
	}
	m := locationID.FindStringSubmatch(r.header.Get("Location"))
	if m == nil {
		t.Fatalf("no id in %q", r.header.Get("Location"))
	}
	return m[1]
}

// twoStepTaro registers taro with verified contacts, an authenticator app
// and recovery codes, 2-step on.
func twoStepTaro(t *testing.T, h *harness) (account, string) {
	t.Helper()
	a := registerTaroOn(h, "taro-phone-0001-install")
	h.verifyContacts(a.ID)
	secret := h.enrolTOTP(a.ID)
	if _, err := h.n.Factors.GenerateRecoveryCodes(context.Background(),
		factors.Actor{AccountID: a.ID, SessionID: a.SessionID, AuthAt: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	return a, secret
}

// heldBrowser signs taro in from a new browser, held for the second step.
func heldBrowser(t *testing.T, h *harness) *browser {
	t.Helper()
	b := newBrowser(h)
	b.lang = "en"
	tok := b.form("/signin")
	r := b.post("/signin", url.Values{"csrf": {tok}, "identifier": {"taro"}, "password": {goodPassword}}, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin/verify" {
		t.Fatalf("sign-in not held: %d %s", r.status, r.header.Get("Location"))
	}
	return b
}

// heldAPI signs taro in from a new app, held; returns id and secret.
func heldAPI(t *testing.T, h *harness) (string, string) {
	t.Helper()
	r := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro", "password": goodPassword}}).
		wantStatus(t, http.StatusAccepted)
	var p struct {
		Pending struct{ ID, Secret string } `json:"pending_signin"`
	}
	decode(t, r.body, &p)
	return p.Pending.ID, p.Pending.Secret
}

// lockedTaro registers taro with verified contacts (and with 2-step when
// second is set) and locks him: second-factor way out, or code and password.
func lockedTaro(t *testing.T, h *harness, second bool) account {
	t.Helper()
	h.rules(riskRules)
	key := h.hostKey(false)
	a := registerTaroOn(h, "taro-phone-0001-install")
	h.verifyContacts(a.ID)
	sig := map[string]any{"account_id": a.ID, "type": "purchase", "amount": 50000, "currency": "JPY", "instrument": "gift_card"}
	if second {
		h.enrolTOTP(a.ID)
		sig = map[string]any{"account_id": a.ID, "type": "test.second"}
	}
	h.signal(key, sig).wantStatus(t, http.StatusAccepted)
	if !h.lockOf(a.Token, "en").Locked {
		t.Fatal("taro is not locked")
	}
	return a
}

// recoveryAPI starts login help for taro by SMS; with past, the SMS code
// is already entered (the second step is next).
func recoveryAPI(t *testing.T, h *harness, past bool) string {
	t.Helper()
	r := h.do(request{method: "POST", path: "/api/v1/recoveries", json: map[string]any{"identifier": "taro", "channel": "sms"}}).
		wantStatus(t, http.StatusAccepted)
	var rec struct{ ID string }
	decode(t, r.body, &rec)
	if past {
		h.recoveryStep(rec.ID, "/code", map[string]any{"code": h.sentCode("+819012345678", "code.recovery")}, http.StatusOK)
	}
	return rec.ID
}

// recoveryPage starts login help for taro by SMS from browser b.
func recoveryPage(t *testing.T, h *harness, b *browser, past bool) string {
	t.Helper()
	csrf := b.form("/help/signin")
	id := redirected(t, b.post("/help/signin", url.Values{"csrf": {csrf}, "identifier": {"taro"}, "channel": {"sms"}}, nil))
	if past {
		csrf = b.form("/help/signin/" + id)
		b.post("/help/signin/"+id+"/code", url.Values{"csrf": {csrf}, "code": {h.sentCode("+819012345678", "code.recovery")}}, nil).
			wantStatus(t, http.StatusSeeOther)
	}
	return id
}

// transferAPI starts a lost-device transfer for taro; with confirmed the
// phone number is confirmed and the SMS way open.
func transferAPI(t *testing.T, h *harness, confirmed bool) (string, string) {
	t.Helper()
	tr := h.transferPost("/api/v1/transfers", "", map[string]any{"identifier": "taro", "password": goodPassword,
		"device_id": "taro-new-phone-0002"}, http.StatusCreated)
	id, secret := tr["id"].(string), tr["secret"].(string)
	if confirmed {
		h.transferPost("/api/v1/transfers/"+id+"/phone", "", map[string]any{"secret": secret, "phone": "09012345678", "method": "confirm"}, http.StatusOK)
	}
	return id, secret
}

// transferPage starts a lost-device transfer for taro in browser b.
func transferPage(t *testing.T, h *harness, b *browser, confirmed bool) {
	t.Helper()
	csrf := b.form("/transfer/start")
	r := b.post("/transfer/start", url.Values{"csrf": {csrf}, "identifier": {"taro"}, "password": {goodPassword}}, nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("transfer start: %d %s", r.status, truncate(r.body))
	}
	if confirmed {
		b.post("/transfer/phone/confirm", url.Values{"csrf": {csrf}, "phone": {"09012345678"}}, nil).wantStatus(t, http.StatusSeeOther)
	}
}

// supportCase files a support request and returns the case's id.
func supportCase(t *testing.T, h *harness, b *browser) string {
	t.Helper()
	h.register(map[string]any{"username": "taro_desk", "email": "taro@example.jp", "password": goodPassword})
	csrf := b.form("/support/new?category=locked")
	r := b.post("/support/new", supportForm(csrf, solvePoW(t, b), "taro_desk", "locked"), nil).wantStatus(t, http.StatusOK)
	link := statusPattern.FindString(string(r.body))
	if link == "" {
		t.Fatalf("no status link in %s", truncate(r.body))
	}
	return strings.Split(link, "/")[3]
}

var secretFixtures = map[string]map[string]secretFixture{
	// Passwords.
	"POST /signin": {"password": func(t *testing.T, h *harness) secretTry {
		registerTaro(h)
		b := newBrowser(h)
		return formTry(b, "/signin", "/signin", func(i int) url.Values {
			return url.Values{"identifier": {"taro"}, "password": {wrongPassword(i)}}
		})
	}},
	"POST /api/v1/sessions": {"password": func(t *testing.T, h *harness) secretTry {
		registerTaro(h)
		return jsonTry(h, "/api/v1/sessions", "", func(i int) map[string]any {
			return map[string]any{"identifier": "taro", "password": wrongPassword(i)}
		})
	}},
	"POST /account/reauth": {"password": func(t *testing.T, h *harness) secretTry {
		b := signedInBrowser(h, registerTaro(h).Token)
		return formTry(b, "/account/reauth", "/account/reauth", func(i int) url.Values {
			return url.Values{"password": {wrongPassword(i)}}
		})
	}},
	"POST /api/v1/session/reauth": {"password": func(t *testing.T, h *harness) secretTry {
		a := registerTaro(h)
		return jsonTry(h, "/api/v1/session/reauth", a.Token, func(i int) map[string]any { return map[string]any{"password": wrongPassword(i)} })
	}},
	"POST /account/contact": {"password": func(t *testing.T, h *harness) secretTry {
		b := signedInBrowser(h, registerTaro(h).Token)
		return formTry(b, "/account/contact?kind=email", "/account/contact", func(i int) url.Values {
			return url.Values{"kind": {"email"}, "value": {"new@example.com"}, "password": {wrongPassword(i)}}
		})
	}},
	"POST /api/v1/contact-changes": {"password": func(t *testing.T, h *harness) secretTry {
		a := registerTaro(h)
		return jsonTry(h, "/api/v1/contact-changes", a.Token, func(i int) map[string]any {
			return map[string]any{"kind": "email", "value": "new@example.com", "password": wrongPassword(i)}
		})
	}},
	"POST /locked/password": {"password": func(t *testing.T, h *harness) secretTry {
		b := signedInBrowser(h, lockedTaro(t, h, false).Token)
		return formTry(b, "/locked", "/locked/password", func(i int) url.Values { return url.Values{"password": {wrongPassword(i)}} })
	}},
	"POST /api/v1/lock/password": {"password": func(t *testing.T, h *harness) secretTry {
		a := lockedTaro(t, h, false)
		return jsonTry(h, "/api/v1/lock/password", a.Token, func(i int) map[string]any { return map[string]any{"password": wrongPassword(i)} })
	}},
	"POST /desk/signin": {"password": func(t *testing.T, h *harness) secretTry {
		deskAgentStep(t, h) // creates agent1
		b := newBrowser(h)
		return formTry(b, "/desk", "/desk/signin", func(i int) url.Values {
			return url.Values{"username": {"agent1"}, "password": {wrongPassword(i)}}
		})
	}},
	"POST /transfer/offer": {"password": func(t *testing.T, h *harness) secretTry {
		b := signedInBrowser(h, registerTaro(h).Token)
		return formTry(b, "/transfer/offer", "/transfer/offer", func(i int) url.Values { return url.Values{"password": {wrongPassword(i)}} })
	}},
	"POST /api/v1/transfers/offer": {"password": func(t *testing.T, h *harness) secretTry {
		a := registerTaro(h)
		return jsonTry(h, "/api/v1/transfers/offer", a.Token, func(i int) map[string]any { return map[string]any{"password": wrongPassword(i)} })
	}},
	"POST /transfer/start": {"password": func(t *testing.T, h *harness) secretTry {
		h.verifyContacts(registerTaro(h).ID)
		b := newBrowser(h)
		return formTry(b, "/transfer/start", "/transfer/start", func(i int) url.Values {
			return url.Values{"identifier": {"taro"}, "password": {wrongPassword(i)}}
		})
	}},
	"POST /api/v1/transfers": {"password": func(t *testing.T, h *harness) secretTry {
		h.verifyContacts(registerTaro(h).ID)
		return jsonTry(h, "/api/v1/transfers", "", func(i int) map[string]any {
			return map[string]any{"identifier": "taro", "password": wrongPassword(i), "device_id": "taro-new-phone-0002"}
		})
	}},

	// One-time codes sent by SMS or email, across flows.
	"POST /verify/{id}": {"code": func(t *testing.T, h *harness) secretTry {
		b := signedInBrowser(h, registerTaro(h).Token)
		csrf := b.form("/verify/confirm?kind=email")
		return flowTry(h, func() (string, *response) {
			r := b.post("/verify/start", url.Values{"csrf": {csrf}, "kind": {"email"}, "channel": {"email"}}, nil)
			if r.status != http.StatusSeeOther {
				return "", r
			}
			return "/verify/" + redirected(t, r), nil
		}, func(path string, i int) *response {
			return b.post(path, url.Values{"csrf": {csrf}, "code": {wrongCode(i)}}, nil)
		})
	}},
	"POST /api/v1/flows/{id}/verify": {"code": func(t *testing.T, h *harness) secretTry {
		a := registerTaro(h)
		return flowTry(h, func() (string, *response) {
			r := h.do(request{method: "POST", path: "/api/v1/flows", bearer: a.Token, json: map[string]any{"kind": "email", "channel": "email"}})
			if r.status != http.StatusCreated && r.status != http.StatusAccepted {
				return "", r
			}
			return "/api/v1/flows/" + r.object(t)["id"].(string) + "/verify", nil
		}, func(path string, i int) *response {
			return h.do(request{method: "POST", path: path, bearer: a.Token, json: map[string]any{"code": wrongCode(i)}})
		})
	}},
	"POST /account/contact/{id}": {"code": func(t *testing.T, h *harness) secretTry {
		b := signedInBrowser(h, registerTaro(h).Token)
		csrf := b.form("/account/contact?kind=email")
		n := 0
		return flowTry(h, func() (string, *response) {
			n++
			r := b.post("/account/contact", url.Values{"csrf": {csrf}, "kind": {"email"}, "value": {fmt.Sprintf("new%d@example.com", n)},
				"password": {goodPassword}}, nil)
			if r.status != http.StatusSeeOther {
				return "", r
			}
			return "/account/contact/" + redirected(t, r), nil
		}, func(path string, i int) *response {
			return b.post(path, url.Values{"csrf": {csrf}, "code": {wrongCode(i)}}, nil)
		})
	}},
	"POST /api/v1/contact-changes/{id}/verify": {"code": func(t *testing.T, h *harness) secretTry {
		a := registerTaro(h)
		n := 0
		return flowTry(h, func() (string, *response) {
			n++
			r := h.do(request{method: "POST", path: "/api/v1/contact-changes", bearer: a.Token,
				json: map[string]any{"kind": "email", "value": fmt.Sprintf("new%d@example.com", n), "password": goodPassword}})
			if r.status != http.StatusCreated {
				return "", r
			}
			return "/api/v1/contact-changes/" + r.object(t)["id"].(string) + "/verify", nil
		}, func(path string, i int) *response {
			return h.do(request{method: "POST", path: path, bearer: a.Token, json: map[string]any{"code": wrongCode(i)}})
		})
	}},
	"POST /locked/code/{id}": {"code": func(t *testing.T, h *harness) secretTry {
		b := signedInBrowser(h, lockedTaro(t, h, false).Token)
		csrf := b.form("/locked")
		return flowTry(h, func() (string, *response) {
			r := b.post("/locked/code", url.Values{"csrf": {csrf}}, nil)
			if r.status != http.StatusSeeOther {
				return "", r
			}
			return "/locked/code/" + redirected(t, r), nil
		}, func(path string, i int) *response {
			return b.post(path, url.Values{"csrf": {csrf}, "code": {wrongCode(i)}}, nil)
		})
	}},
	"POST /api/v1/lock/code/{id}/verify": {"code": func(t *testing.T, h *harness) secretTry {
		a := lockedTaro(t, h, false)
		return flowTry(h, func() (string, *response) {
			r := h.do(request{method: "POST", path: "/api/v1/lock/code", bearer: a.Token, json: map[string]any{}})
			if r.status != http.StatusCreated {
				return "", r
			}
			return "/api/v1/lock/code/" + r.object(t)["id"].(string) + "/verify", nil
		}, func(path string, i int) *response {
			return h.do(request{method: "POST", path: path, bearer: a.Token, json: map[string]any{"code": wrongCode(i)}})
		})
	}},
	"POST /help/signin/{id}/code": {"code": func(t *testing.T, h *harness) secretTry {
		h.verifyContacts(registerTaro(h).ID)
		b := newBrowser(h)
		return flowTry(h, func() (string, *response) {
			return "/help/signin/" + recoveryPage(t, h, b, false) + "/code", nil
		}, func(path string, i int) *response {
			csrf := b.form(strings.TrimSuffix(path, "/code"))
			return b.post(path, url.Values{"csrf": {csrf}, "code": {wrongCode(i)}}, nil)
		})
	}},
	"POST /api/v1/recoveries/{id}/code": {"code": func(t *testing.T, h *harness) secretTry {
		h.verifyContacts(registerTaro(h).ID)
		return flowTry(h, func() (string, *response) {
			return "/api/v1/recoveries/" + recoveryAPI(t, h, false) + "/code", nil
		}, func(path string, i int) *response {
			return h.do(request{method: "POST", path: path, json: map[string]any{"code": wrongCode(i)}})
		})
	}},
	"POST /signin/verify": {
		"code": func(t *testing.T, h *harness) secretTry {
			heldFixture(h)
			b := heldBrowser(t, h)
			csrf := b.form("/signin/verify")
			return flowTry(h, func() (string, *response) {
				r := b.post("/signin/verify/send", url.Values{"csrf": {csrf}, "way": {"email"}}, nil)
				if r.status != http.StatusSeeOther {
					return "", r
				}
				return "/signin/verify", nil
			}, func(path string, i int) *response {
				return b.post(path, url.Values{"csrf": {csrf}, "method": {"code"}, "code": {wrongCode(i)}}, nil)
			})
		},
		"totp": func(t *testing.T, h *harness) secretTry {
			twoStepTaro(t, h)
			b := heldBrowser(t, h)
			return formTry(b, "/signin/verify", "/signin/verify", func(i int) url.Values {
				return url.Values{"method": {"totp"}, "code": {wrongCode(i)}}
			})
		},
		"recovery_code": func(t *testing.T, h *harness) secretTry {
			twoStepTaro(t, h)
			b := heldBrowser(t, h)
			return formTry(b, "/signin/verify", "/signin/verify", func(i int) url.Values {
				return url.Values{"method": {"recovery_code"}, "code": {wrongRecovery(i)}}
			})
		},
	},
	"POST /api/v1/signins/{id}/verify": {
		"code": func(t *testing.T, h *harness) secretTry {
			heldFixture(h)
			id, secret := heldAPI(t, h)
			return flowTry(h, func() (string, *response) {
				r := h.do(request{method: "POST", path: "/api/v1/signins/" + id + "/code", json: map[string]any{"secret": secret, "method": "email"}})
				if r.status != http.StatusAccepted {
					return "", r
				}
				return "/api/v1/signins/" + id + "/verify", nil
			}, func(path string, i int) *response {
				return h.do(request{method: "POST", path: path, json: map[string]any{"secret": secret, "method": "code", "code": wrongCode(i)}})
			})
		},
		"totp": func(t *testing.T, h *harness) secretTry {
			twoStepTaro(t, h)
			id, secret := heldAPI(t, h)
			return jsonTry(h, "/api/v1/signins/"+id+"/verify", "", func(i int) map[string]any {
				return map[string]any{"secret": secret, "method": "totp", "code": wrongCode(i)}
			})
		},
		"recovery_code": func(t *testing.T, h *harness) secretTry {
			twoStepTaro(t, h)
			id, secret := heldAPI(t, h)
			return jsonTry(h, "/api/v1/signins/"+id+"/verify", "", func(i int) map[string]any {
				return map[string]any{"secret": secret, "method": "recovery_code", "code": wrongRecovery(i)}
			})
		},
	},
	"POST /transfer/verify": {
		"code": func(t *testing.T, h *harness) secretTry {
			h.verifyContacts(registerTaroOn(h, "taro-old-phone-0001").ID)
			b := newBrowser(h)
			transferPage(t, h, b, true)
			csrf := b.form("/transfer/ways")
			return flowTry(h, func() (string, *response) {
				r := b.post("/transfer/send", url.Values{"csrf": {csrf}, "way": {"sms"}}, nil)
				if r.status != http.StatusSeeOther {
					return "", r
				}
				return "/transfer/verify", nil
			}, func(path string, i int) *response {
				return b.post(path, url.Values{"csrf": {csrf}, "method": {"code"}, "code": {wrongCode(i)}}, nil)
			})
		},
		"totp": func(t *testing.T, h *harness) secretTry {
			twoStepTaro(t, h)
			b := newBrowser(h)
			transferPage(t, h, b, true)
			return formTry(b, "/transfer/ways", "/transfer/verify", func(i int) url.Values {
				return url.Values{"method": {"totp"}, "code": {wrongCode(i)}}
			})
		},
	},
	"POST /api/v1/transfers/{id}/verify": {
		"code": func(t *testing.T, h *harness) secretTry {
			h.verifyContacts(registerTaroOn(h, "taro-old-phone-0001").ID)
			id, secret := transferAPI(t, h, true)
			base := "/api/v1/transfers/" + id
			return flowTry(h, func() (string, *response) {
				r := h.do(request{method: "POST", path: base + "/code", json: map[string]any{"secret": secret, "way": "sms"}})
				if r.status != http.StatusAccepted {
					return "", r
				}
				return base + "/verify", nil
			}, func(path string, i int) *response {
				return h.do(request{method: "POST", path: path, json: map[string]any{"secret": secret, "method": "code", "code": wrongCode(i)}})
			})
		},
		"totp": func(t *testing.T, h *harness) secretTry {
			twoStepTaro(t, h)
			id, secret := transferAPI(t, h, true)
			return jsonTry(h, "/api/v1/transfers/"+id+"/verify", "", func(i int) map[string]any {
				return map[string]any{"secret": secret, "method": "totp", "code": wrongCode(i)}
			})
		},
	},

	// Authenticator apps and recovery codes.
	"POST /help/signin/{id}/second": {
		"totp": func(t *testing.T, h *harness) secretTry {
			twoStepTaro(t, h)
			b := newBrowser(h)
			id := recoveryPage(t, h, b, true)
			return formTry(b, "/help/signin/"+id, "/help/signin/"+id+"/second", func(i int) url.Values {
				return url.Values{"kind": {"totp"}, "code": {wrongCode(i)}}
			})
		},
		"recovery_code": func(t *testing.T, h *harness) secretTry {
			twoStepTaro(t, h)
			b := newBrowser(h)
			id := recoveryPage(t, h, b, true)
			return formTry(b, "/help/signin/"+id, "/help/signin/"+id+"/second", func(i int) url.Values {
				return url.Values{"kind": {"recovery_code"}, "code": {wrongRecovery(i)}}
			})
		},
	},
	"POST /api/v1/recoveries/{id}/second": {
		"totp": func(t *testing.T, h *harness) secretTry {
			twoStepTaro(t, h)
			id := recoveryAPI(t, h, true)
			return jsonTry(h, "/api/v1/recoveries/"+id+"/second", "", func(i int) map[string]any {
				return map[string]any{"kind": "totp", "code": wrongCode(i)}
			})
		},
		"recovery_code": func(t *testing.T, h *harness) secretTry {
			twoStepTaro(t, h)
			id := recoveryAPI(t, h, true)
			return jsonTry(h, "/api/v1/recoveries/"+id+"/second", "", func(i int) map[string]any {
				return map[string]any{"kind": "recovery_code", "code": wrongRecovery(i)}
			})
		},
	},
	"POST /locked/second-factor": {"totp": func(t *testing.T, h *harness) secretTry {
		b := signedInBrowser(h, lockedTaro(t, h, true).Token)
		return formTry(b, "/locked/second-factor", "/locked/second-factor", func(i int) url.Values { return url.Values{"code": {wrongCode(i)}} })
	}},
	"POST /api/v1/lock/totp": {"totp": func(t *testing.T, h *harness) secretTry {
		a := lockedTaro(t, h, true)
		return jsonTry(h, "/api/v1/lock/totp", a.Token, func(i int) map[string]any { return map[string]any{"code": wrongCode(i)} })
	}},
	"POST /desk/2fa": {"totp": func(t *testing.T, h *harness) secretTry {
		b := deskAgentStep(t, h)
		page := b.do(request{method: "GET", path: "/desk/2fa"}).wantStatus(t, http.StatusOK)
		sealed := regexp.MustCompile(`name="enrol" value="([^"]+)"`).FindSubmatch(page.body)
		csrf := csrfField.FindSubmatch(page.body)
		if sealed == nil || csrf == nil {
			t.Fatalf("no enrolment form:\n%s", truncate(page.body))
		}
		return func(i int) *response {
			return b.post("/desk/2fa", url.Values{"csrf": {string(csrf[1])}, "enrol": {string(sealed[1])}, "code": {wrongCode(i)}}, nil)
		}
	}},

	// The code an old device shows a new one, and the number behind a mask.
	"POST /transfer/receive": {"binding_code": func(t *testing.T, h *harness) secretTry {
		a := registerTaroOn(h, "taro-old-phone-0001")
		offer := h.transferPost("/api/v1/transfers/offer", a.Token, map[string]any{"password": goodPassword}, http.StatusCreated)
		b := newBrowser(h)
		return formTry(b, "/transfer/receive", "/transfer/receive", func(i int) url.Values {
			return url.Values{"code": {fmt.Sprintf("ZZZZZ-%05d", i)}, "t": {offer["transfer_id"].(string)}}
		})
	}},
	"POST /api/v1/transfers/receive": {"binding_code": func(t *testing.T, h *harness) secretTry {
		a := registerTaroOn(h, "taro-old-phone-0001")
		offer := h.transferPost("/api/v1/transfers/offer", a.Token, map[string]any{"password": goodPassword}, http.StatusCreated)
		return jsonTry(h, "/api/v1/transfers/receive", "", func(i int) map[string]any {
			return map[string]any{"code": fmt.Sprintf("ZZZZZ-%05d", i), "transfer_id": offer["transfer_id"]}
		})
	}},
	"POST /transfer/phone": {"phone": func(t *testing.T, h *harness) secretTry {
		h.verifyContacts(registerTaroOn(h, "taro-old-phone-0001").ID)
		b := newBrowser(h)
		transferPage(t, h, b, false)
		return formTry(b, "/transfer/phone", "/transfer/phone", func(i int) url.Values { return url.Values{"phone": {wrongPhone(i)}} })
	}},
	"POST /api/v1/transfers/{id}/phone": {"phone": func(t *testing.T, h *harness) secretTry {
		h.verifyContacts(registerTaroOn(h, "taro-old-phone-0001").ID)
		id, secret := transferAPI(t, h, false)
		return jsonTry(h, "/api/v1/transfers/"+id+"/phone", "", func(i int) map[string]any {
			return map[string]any{"secret": secret, "phone": wrongPhone(i)}
		})
	}},

	// Long random tokens, under the per-IP limit.
	"GET /check": {"notice_ref": func(t *testing.T, h *harness) secretTry {
		return getTry(newBrowser(h), func(i int) string { return "/check?ref=" + wrongRef(i) })
	}},
	"POST /check": {"notice_ref": func(t *testing.T, h *harness) secretTry {
		return formTry(newBrowser(h), "/check", "/check", func(i int) url.Values { return url.Values{"ref": {wrongRef(i)}} })
	}},
	"POST /api/v1/check": {"notice_ref": func(t *testing.T, h *harness) secretTry {
		return jsonTry(h, "/api/v1/check", "", func(i int) map[string]any { return map[string]any{"ref": wrongRef(i)} })
	}},
	"GET /approve/{token}": {"approval_token": func(t *testing.T, h *harness) secretTry {
		return getTry(newBrowser(h), func(i int) string { return "/approve/" + wrongToken(i) })
	}},
	"POST /approve/{token}": {"approval_token": func(t *testing.T, h *harness) secretTry {
		b := newBrowser(h)
		csrf := b.form("/signin")
		return func(i int) *response {
			return b.post("/approve/"+wrongToken(i), url.Values{"csrf": {csrf}, "decision": {"deny"}}, nil)
		}
	}},
	"GET /help/undo/{token}": {"undo_token": func(t *testing.T, h *harness) secretTry {
		return getTry(newBrowser(h), func(i int) string { return "/help/undo/" + wrongToken(i) })
	}},
	"POST /help/undo/{token}": {"undo_token": func(t *testing.T, h *harness) secretTry {
		b := newBrowser(h)
		csrf := b.form("/signin")
		return func(i int) *response { return b.post("/help/undo/"+wrongToken(i), url.Values{"csrf": {csrf}}, nil) }
	}},
	"POST /api/v1/contact-changes/undo": {"undo_token": func(t *testing.T, h *harness) secretTry {
		return jsonTry(h, "/api/v1/contact-changes/undo", "", func(i int) map[string]any { return map[string]any{"token": wrongToken(i)} })
	}},
	"GET /support/case/{id}/{token}": {"status_link": func(t *testing.T, h *harness) secretTry {
		b := newBrowser(h)
		id := supportCase(t, h, b)
		return getTry(b, func(i int) string { return "/support/case/" + id + "/" + wrongToken(i) })
	}},
	"POST /support/case/{id}/{token}/reply": {"status_link": func(t *testing.T, h *harness) secretTry {
		b := newBrowser(h)
		id := supportCase(t, h, b)
		csrf := b.form("/support/new")
		return func(i int) *response {
			return b.post("/support/case/"+id+"/"+wrongToken(i)+"/reply", url.Values{"csrf": {csrf}, "body": {"hello"}}, nil)
		}
	}},
}
