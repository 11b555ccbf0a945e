package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/desk"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/storetest"
	"github.com/monban-dev/monban/internal/throttle"
)

// Every guess of a second factor is counted in the capability that checks
// it (factors.VerifyTOTP / UseRecoveryCode through throttle.Check): per
// account and authenticator, across held sign-ins and entry points, the
// owner's known device on its own counter.

const ownerDevice = "taro-phone-0001-install"

// secretOwner is taro with a verified email and phone, the owner's phone
// app as a known device, an authenticator app and 2-step on.
func secretOwner(h *harness) (account, string) {
	h.t.Helper()
	taro := registerTaroOn(h, ownerDevice)
	h.verifyContacts(taro.ID)
	secret := h.enrolTOTP(taro.ID)
	h.clock.Advance(time.Minute) // the confirming code's step is spent
	return taro, secret
}

// heldAPI starts a held sign-in through the API from device ("" for a
// stranger's) and returns a function that answers it with method and code.
func (h *harness) heldAPI(device string) func(method, code string) *response {
	h.t.Helper()
	body := map[string]any{"identifier": "taro", "password": goodPassword}
	if device != "" {
		body["device_id"] = device
	}
	r := h.do(request{method: "POST", path: "/api/v1/sessions", json: body}).wantStatus(h.t, http.StatusAccepted)
	p := r.object(h.t)["pending_signin"].(map[string]any)
	return func(method, code string) *response {
		return h.do(request{method: "POST", path: "/api/v1/signins/" + p["id"].(string) + "/verify", lang: "en",
			json: map[string]any{"secret": p["secret"], "method": method, "code": code}})
	}
}

// wrongCode is a code that is not the app's at the harness's time.
func (h *harness) wrongCode(secret string) string {
	c := []byte(h.totpCode(secret))
	c[0] = '0' + (c[0]-'0'+1)%10
	return string(c)
}

// wantThrottled checks a 429 with Retry-After and retry_at, both naming a
// time after now.
func wantThrottled(t *testing.T, h *harness, r *response, key string) time.Time {
	t.Helper()
	p := r.wantStatus(t, http.StatusTooManyRequests).problem(t)
	if p.Key != key {
		t.Errorf("problem key %q, want %q", p.Key, key)
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs <= 0 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if p.RetryAt == nil || !p.RetryAt.After(h.clock.Now()) {
		t.Fatalf("retry_at %v, want after %v", p.RetryAt, h.clock.Now())
	}
	return *p.RetryAt
}

// TestSecretTOTPAPIThrottled: 120 wrong codes at POST
// /api/v1/signins/{id}/verify: Free free failures and one more are answered 401, every
// later one 429 with the time of the next try; a fresh held sign-in does
// not start the count again; the owner's known device still signs in; the
// owner is told once.
func TestSecretTOTPAPIThrottled(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro, secret := secretOwner(h)
		verify := h.heldAPI("")
		wrong, limited := 0, 0
		for i := range 120 {
			r := verify("totp", h.wrongCode(secret))
			switch r.status {
			case http.StatusUnauthorized:
				wrong++
				if limited > 0 {
					t.Fatalf("try %d: 401 after a 429", i+1)
				}
			case http.StatusTooManyRequests:
				limited++
				wantThrottled(t, h, r, "secret.throttled")
			default:
				t.Fatalf("try %d: status %d: %s", i+1, r.status, r.body)
			}
		}
		if free := throttle.DefaultPolicy.Free + 1; wrong != free {
			t.Fatalf("%d codes checked before the first 429, want %d", wrong, free)
		}
		// Not even the right code gets through a stranger's delay.
		wantThrottled(t, h, verify("totp", h.totpCode(secret)), "secret.throttled")

		// A fresh held sign-in does not start the count again.
		wantThrottled(t, h, h.heldAPI("")("totp", h.wrongCode(secret)), "secret.throttled")

		// The owner's phone, known to the account, has its own budget.
		owner := h.heldAPI(ownerDevice)
		if a := accountOf(t, owner("totp", h.totpCode(secret)).wantStatus(t, http.StatusCreated)); a.ID != taro.ID {
			t.Fatalf("signed in as %s", a.ID)
		}
		// Told once for the episode, with no link to sign in.
		if n := h.count("SELECT COUNT(*) FROM notices WHERE account_id = ? AND topic = ?", taro.ID, monban.TopicSignInGuessing); n != 1 {
			t.Errorf("%d guessing notices, want 1", n)
		}
		if n := h.countMessages("taro@example.com", "notice."+monban.TopicSignInGuessing); n != 1 {
			t.Errorf("%d guessing emails, want 1", n)
		}

		// After the delay one more try is allowed, then a longer wait
		// (refused tries are not counted: the seventh failure waits a minute).
		h.clock.Advance(time.Hour)
		verify = h.heldAPI("")
		wantProblem(t, verify("totp", h.wrongCode(secret)), http.StatusUnauthorized, "totp.wrong")
		if at := wantThrottled(t, h, verify("totp", h.wrongCode(secret)), "secret.throttled"); !at.Equal(h.clock.Now().Add(throttle.DefaultPolicy.Delay(7))) {
			t.Errorf("next try at %v, want %v later", at, throttle.DefaultPolicy.Delay(7))
		}
	})
}

// TestSecretTOTPPageThrottled: the sign-in page /signin/verify is the same
// counted path: 429 with Retry-After within the limit, shared with the API.
func TestSecretTOTPPageThrottled(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		_, secret := secretOwner(h)
		b := newBrowser(h)
		b.lang = "en"
		tok := b.form("/signin")
		b.post("/signin", url.Values{"csrf": {tok}, "identifier": {"taro"}, "password": {goodPassword}}, nil).
			wantStatus(t, http.StatusSeeOther)
		limitedAt := 0
		for i := range 120 {
			tok = b.form("/signin/verify")
			r := b.post("/signin/verify", url.Values{"csrf": {tok}, "method": {"totp"}, "code": {h.wrongCode(secret)}}, nil)
			if r.status == http.StatusTooManyRequests {
				if r.header.Get("Retry-After") == "" {
					t.Fatalf("try %d: 429 without Retry-After", i+1)
				}
				if !strings.Contains(string(r.body), "you can try again from") {
					t.Fatalf("try %d: the page does not say when to try again:\n%s", i+1, r.body)
				}
				if limitedAt == 0 {
					limitedAt = i + 1
				}
				continue
			}
			if limitedAt != 0 {
				t.Fatalf("try %d: status %d after a 429", i+1, r.status)
			}
		}
		if want := throttle.DefaultPolicy.Free + 2; limitedAt != want {
			t.Fatalf("first 429 at try %d, want %d", limitedAt, want)
		}
		// The API shares the count.
		wantThrottled(t, h, h.heldAPI("")("totp", h.wrongCode(secret)), "secret.throttled")
	})
}

// TestSecretTOTPDisabledAt100: at 100 consecutive failures the
// authenticator app is disabled for strangers — not the account, not the
// recovery codes, not the owner's known device — and the person is told
// the way out; the owner hears a second time; a password reset clears it.
func TestSecretTOTPDisabledAt100(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro, secret := secretOwner(h)
		codes, err := h.n.Factors.GenerateRecoveryCodes(context.Background(),
			factors.Actor{AccountID: taro.ID, SessionID: "ses_test", AuthAt: h.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		verify := h.heldAPI("")
		for range throttle.DefaultPolicy.Free + 1 {
			verify("totp", h.wrongCode(secret)).wantStatus(t, http.StatusUnauthorized)
		}
		// Waiting out every delay takes days; the counter is the record.
		h.exec("UPDATE throttle_counters SET failures = ? WHERE key = ?", throttle.DefaultPolicy.DisableAt-1,
			throttle.AccountKey(throttle.TOTP, taro.ID))
		h.clock.Advance(time.Hour)
		verify = h.heldAPI("")
		wantProblem(t, verify("totp", h.wrongCode(secret)), http.StatusUnauthorized, "totp.wrong")
		r := verify("totp", h.totpCode(secret))
		wantProblem(t, r, http.StatusForbidden, "totp.disabled")
		if p := r.problem(t); !strings.Contains(p.Detail, "recovery codes") || !strings.Contains(p.Detail, "support") {
			t.Errorf("the refusal names no way out: %s", p.Detail)
		}
		h.clock.Advance(30 * 24 * time.Hour)
		wantProblem(t, h.heldAPI("")("totp", h.totpCode(secret)), http.StatusForbidden, "totp.disabled")
		if n := h.count("SELECT COUNT(*) FROM notices WHERE account_id = ? AND topic = ?", taro.ID, monban.TopicSignInGuessing); n != 2 {
			t.Errorf("%d guessing notices, want 2 (delay, disabled)", n)
		}
		// The account is not: a recovery code signs in, and so does the
		// owner's phone with the app.
		accountOf(t, h.heldAPI("")("recovery_code", codes[0]).wantStatus(t, http.StatusCreated))
		accountOf(t, h.heldAPI(ownerDevice)("totp", h.totpCode(secret)).wantStatus(t, http.StatusCreated))
		// A password reset (login help) re-enables it.
		if err := h.n.Throttle.ClearAfterReset(context.Background(), taro.ID); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(30 * time.Second)
		accountOf(t, h.heldAPI("")("totp", h.totpCode(secret)).wantStatus(t, http.StatusCreated))
	})
}

// TestSecretSharedBudget: recovery codes are counted like the app's codes,
// and the app's count is one budget across the sign-in step, login help and
// a transfer to a new device.
func TestSecretSharedBudget(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro, secret := secretOwner(h)
		if _, err := h.n.Factors.GenerateRecoveryCodes(context.Background(),
			factors.Actor{AccountID: taro.ID, SessionID: "ses_test", AuthAt: h.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		verify := h.heldAPI("")
		for range throttle.DefaultPolicy.Free + 1 {
			verify("recovery_code", "AAAA-BBBB-CCCC-DDDD").wantStatus(t, http.StatusUnauthorized)
		}
		wantThrottled(t, h, h.heldAPI("")("recovery_code", "AAAA-BBBB-CCCC-DDDD"), "secret.throttled")
		// Malformed input is refused and spends nothing.
		wantProblem(t, verify("totp", "12"), http.StatusUnauthorized, "totp.wrong")

		for range throttle.DefaultPolicy.Free + 1 {
			verify("totp", h.wrongCode(secret)).wantStatus(t, http.StatusUnauthorized)
		}
		// Login help's second step is held to the same count.
		r := h.do(request{method: "POST", path: "/api/v1/recoveries", json: map[string]any{"identifier": "taro", "channel": "sms"}}).
			wantStatus(t, http.StatusAccepted)
		var rec struct{ ID string }
		decode(t, r.body, &rec)
		h.recoveryStep(rec.ID, "/code", map[string]any{"code": h.sentCode("+819012345678", "code.recovery")}, http.StatusOK)
		wantThrottled(t, h, h.do(request{method: "POST", path: "/api/v1/recoveries/" + rec.ID + "/second",
			json: map[string]any{"kind": "totp", "code": h.totpCode(secret)}}), "secret.throttled")
		// And a transfer to a new phone.
		tr := h.transferPost("/api/v1/transfers", "", map[string]any{"identifier": "taro", "password": goodPassword,
			"device_id": "taro-new-phone-0002"}, http.StatusCreated)
		base, with := "/api/v1/transfers/"+tr["id"].(string), func(m map[string]any) map[string]any { m["secret"] = tr["secret"]; return m }
		h.transferPost(base+"/phone", "", with(map[string]any{"phone": "09012345678", "method": "confirm"}), http.StatusOK)
		wantThrottled(t, h, h.do(request{method: "POST", path: base + "/verify",
			json: with(map[string]any{"method": "totp", "code": h.totpCode(secret)})}), "secret.throttled")
	})
}

// TestSecretLockSharesDeviceBudget: the lock's second-factor way out counts
// on the same counter as the sign-in step from that device.
func TestSecretLockSharesDeviceBudget(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.rules(riskRules)
		key := h.hostKey(false)
		taro, secret := secretOwner(h)
		h.signal(key, map[string]any{"account_id": taro.ID, "type": "test.second"}).wantStatus(t, http.StatusAccepted)
		unlock := func(code string) *response {
			return h.do(request{method: "POST", path: "/api/v1/lock/totp", bearer: taro.Token, json: map[string]any{"code": code}})
		}
		for range throttle.DefaultPolicy.Free + 1 {
			unlock(h.wrongCode(secret)).wantStatus(t, http.StatusUnauthorized)
		}
		wantThrottled(t, h, unlock(h.totpCode(secret)), "secret.throttled")
		wantThrottled(t, h, h.heldAPI(ownerDevice)("totp", h.totpCode(secret)), "secret.throttled")
		// A stranger's counter is another: the owner's guesses never lock
		// the owner out of other devices' budgets, nor the reverse.
		wantProblem(t, h.heldAPI("")("totp", h.wrongCode(secret)), http.StatusUnauthorized, "totp.wrong")
	})
}

// secondNode starts another node on h's PostgreSQL schema, on the same
// clock: two nodes behind one load balancer.
func secondNode(h *harness) *harness {
	h.t.Helper()
	cfg := h.n.Config
	cfg.Data = h.t.TempDir()
	n, err := node.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), h.clock)
	if err != nil {
		h.t.Fatalf("second node: %v", err)
	}
	h.t.Cleanup(func() { n.Close() })
	srv := httptest.NewServer(n.Web.Handler())
	h.t.Cleanup(srv.Close)
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &harness{t: h.t, n: n, clock: h.clock, srv: srv, raw: h.raw, c: c}
}

// TestSecretTwoNodesShareCount: guesses spread over two nodes on one
// PostgreSQL database are one count: the free tries are spent once, and
// concurrent guesses on both nodes never get more.
func TestSecretTwoNodesShareCount(t *testing.T) {
	if os.Getenv(storetest.PostgresEnv) == "" {
		t.Skip("two nodes need PostgreSQL: set " + storetest.PostgresEnv)
	}
	h := newHarness(t, "postgres")
	other := secondNode(h)
	_, secret := secretOwner(h)
	one, two := h.heldAPI(""), other.heldAPI("")
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			verify := one
			if i%2 == 1 {
				verify = two
			}
			r := verify("totp", h.wrongCode(secret))
			switch r.status {
			case http.StatusUnauthorized:
				mu.Lock()
				checked++
				mu.Unlock()
			case http.StatusTooManyRequests:
			default:
				t.Errorf("status %d: %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	if want := throttle.DefaultPolicy.Free + 1; checked != want {
		t.Fatalf("%d codes checked across two nodes, want %d", checked, want)
	}
	wantThrottled(t, h, one("totp", h.totpCode(secret)), "secret.throttled")
	wantThrottled(t, other, two("totp", h.totpCode(secret)), "secret.throttled")
}

// TestSecretLongTokensPerIP: secrets that name no account before they are
// looked up — a transfer's binding code, a support status link — are
// counted per IP: within ten wrong tries the next is refused with 429 and
// Retry-After, right or wrong.
func TestSecretLongTokensPerIP(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		limitedAt := func(try func() *response) int {
			t.Helper()
			for i := range 30 {
				if r := try(); r.status == http.StatusTooManyRequests {
					if r.header.Get("Retry-After") == "" {
						t.Fatalf("429 without Retry-After")
					}
					return i + 1
				}
			}
			return 0
		}
		n := limitedAt(func() *response {
			return h.do(request{method: "POST", path: "/api/v1/transfers/receive",
				json: map[string]any{"code": "ZZZZZ-ZZZZZ", "device_id": "new-phone-0002-install"}})
		})
		if n == 0 || n > 11 {
			t.Errorf("binding codes: first 429 at try %d, want within 11", n)
		}
		n = limitedAt(func() *response {
			return h.do(request{method: "GET", path: "/support/case/cas_none/not-the-token"})
		})
		if n != desk.LinkFailuresPerIPHour+1 {
			t.Errorf("status links: first 429 at try %d, want %d", n, desk.LinkFailuresPerIPHour+1)
		}
	})
}

// TestSecretCodesSurviveNewCode: the emailed code of a held sign-in allows
// five checks, and asking for a new code — even in a new held sign-in —
// does not give fresh guesses: past five wrong codes the right one waits.
func TestSecretCodesSurviveNewCode(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaroOn(h, ownerDevice)
		h.verifyContacts(taro.ID)
		held := func() func(path string, body map[string]any) *response {
			r := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro", "password": goodPassword}}).
				wantStatus(t, http.StatusAccepted)
			p := r.object(t)["pending_signin"].(map[string]any)
			return func(path string, body map[string]any) *response {
				body["secret"] = p["secret"]
				return h.do(request{method: "POST", path: "/api/v1/signins/" + p["id"].(string) + path, lang: "en", json: body})
			}
		}
		wrongOf := func(c string) string {
			b := []byte(c)
			b[0] = '0' + (b[0]-'0'+1)%10
			return string(b)
		}
		call := held()
		call("/code", map[string]any{"method": "email"}).wantStatus(t, http.StatusAccepted)
		code := h.sentCode("taro@example.com", "code.new_device")
		for range 5 {
			wantProblem(t, call("/verify", map[string]any{"method": "code", "code": wrongOf(code)}), http.StatusBadRequest, "code.wrong")
		}
		wantProblem(t, call("/verify", map[string]any{"method": "code", "code": code}), http.StatusBadRequest, "code.expired")

		h.clock.Advance(time.Minute) // the resend cooldown
		call = held()
		call("/code", map[string]any{"method": "email"}).wantStatus(t, http.StatusAccepted)
		code = h.sentCode("taro@example.com", "code.new_device")
		// Six failures so far (the dead code's check counted): the delay
		// has passed, one more try, then the right code waits.
		wantProblem(t, call("/verify", map[string]any{"method": "code", "code": wrongOf(code)}), http.StatusBadRequest, "code.wrong")
		wantThrottled(t, h, call("/verify", map[string]any{"method": "code", "code": code}), "code.too_many_failures")
		if n := h.count("SELECT COUNT(*) FROM notices WHERE account_id = ? AND topic = ?", taro.ID, monban.TopicSignInGuessing); n != 1 {
			t.Errorf("%d guessing notices, want 1", n)
		}
	})
}

// TestSecretLoginHelpUnknownSameCount: wrong login-help codes are answered
// alike for an identifier that names an account and one that does not,
// through the free tries, the dead code and the delay.
func TestSecretLoginHelpUnknownSameCount(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaroOn(h, ownerDevice)
		h.verifyContacts(taro.ID)
		answers := func(ident string) []string {
			r := h.do(request{method: "POST", path: "/api/v1/recoveries", json: map[string]any{"identifier": ident, "channel": "sms"}}).
				wantStatus(t, http.StatusAccepted)
			var rec struct{ ID string }
			decode(t, r.body, &rec)
			var out []string
			for range 15 {
				r := h.do(request{method: "POST", path: "/api/v1/recoveries/" + rec.ID + "/code", json: map[string]any{"code": "000000"}})
				p := r.problem(t)
				out = append(out, strconv.Itoa(r.status)+" "+p.Key)
			}
			return out
		}
		known, unknown := answers("taro"), answers("jiro")
		if strings.Join(known, ",") != strings.Join(unknown, ",") {
			t.Fatalf("known %v\nunknown %v", known, unknown)
		}
		if known[len(known)-1] != "429 code.too_many_failures" {
			t.Errorf("no delay after 15 wrong codes: %v", known)
		}
	})
}
