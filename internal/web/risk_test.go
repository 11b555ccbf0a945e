package web_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/risk"
)

// Signals, locks and their ways out, and the operators' rollback and
// breaker API, over HTTP on every database. Every refusal leaves the store
// as it was.

// riskRules: a gift-card sum locks with every self-service way out; any
// "test.review" signal locks pending review (support only); any
// "test.second" signal asks for a second factor; a deliberately faulty
// rule locks on every "follow".
const riskRules = `
version: "t.1"
breaker: {window: 10m, baseline: 24h, multiple: 10, min_locks: 1000}
rules:
  - id: gift-card
    on: [purchase]
    when: 'sum("purchase.amount", "24h", {"instrument": "gift_card"}) >= 50000'
    action: lock
    category: payment
    ways_out: [code, password, password_reset]
  - id: review
    on: [test.review]
    when: 'true'
    action: lock_review
    category: policy
  - id: second
    on: [test.second]
    when: 'true'
    action: lock
    category: sign_in
    ways_out: [second_factor]
  - id: faulty
    on: [follow]
    when: 'true'
    action: lock
    category: unusual_activity
    ways_out: [code]
`

func (h *harness) rules(yaml string) {
	h.t.Helper()
	rs, err := risk.Parse([]byte(yaml))
	if err != nil {
		h.t.Fatal(err)
	}
	h.n.Risk.SetRules(rs)
}

// riskSnapshot counts what signals and locks change.
type riskSnapshot struct {
	snapshot
	Signals, Buckets, Decisions, Locks, ActiveLocks, Notices, Messages, Events int
}

func (h *harness) riskSnapshot() riskSnapshot {
	h.t.Helper()
	return riskSnapshot{snapshot: h.snapshot(),
		Signals:     h.count("SELECT COUNT(*) FROM risk_signals"),
		Buckets:     h.count("SELECT COUNT(*) FROM risk_buckets"),
		Decisions:   h.count("SELECT COUNT(*) FROM risk_decisions"),
		Locks:       h.count("SELECT COUNT(*) FROM locks"),
		ActiveLocks: h.count("SELECT COUNT(*) FROM locks WHERE lifted_at = 0"),
		Notices:     h.count("SELECT COUNT(*) FROM notices"),
		Messages:    h.count("SELECT COUNT(*) FROM messages"),
		Events:      h.count("SELECT COUNT(*) FROM webhook_events"),
	}
}

func (h *harness) riskUnchanged(before riskSnapshot) {
	h.t.Helper()
	if after := h.riskSnapshot(); after != before {
		h.t.Errorf("store changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// signal posts one signal ({"signals": […]} when body has that key).
func (h *harness) signal(key string, body any) *response {
	h.t.Helper()
	return h.do(request{method: "POST", path: "/api/v1/signals", bearer: key, json: body})
}

type signalAnswer struct {
	Accepted int `json:"accepted"`
	Results  []struct {
		Action string `json:"action"`
		LockID string `json:"lock_id"`
	} `json:"results"`
}

func (h *harness) hostKey(admin bool) string {
	h.t.Helper()
	create := h.n.Keys.Create
	if admin {
		create = h.n.Keys.CreateAdmin
	}
	key, _, err := create(context.Background(), fmt.Sprintf("key-%v", admin))
	if err != nil {
		h.t.Fatal(err)
	}
	return key
}

type lockAnswer struct {
	Locked bool `json:"locked"`
	Lock   struct {
		Kind     string   `json:"kind"`
		Category string   `json:"category"`
		Title    string   `json:"title"`
		Reason   string   `json:"reason"`
		WaysOut  []string `json:"ways_out"`
		Phone    string   `json:"phone"`
		Support  string   `json:"support_url"`
		ResetURL string   `json:"password_reset_url"`
	} `json:"lock"`
}

func (h *harness) lockOf(token, lang string) lockAnswer {
	h.t.Helper()
	var a lockAnswer
	decode(h.t, h.do(request{method: "GET", path: "/api/v1/lock", bearer: token, lang: lang}).wantStatus(h.t, http.StatusOK).body, &a)
	return a
}

// liftedHow returns how the account's newest lock was lifted ("" while in force).
func (h *harness) liftedHow(accountID string) string {
	h.t.Helper()
	var how string
	if err := h.raw.QueryRow(rebind(h, `SELECT lifted_how FROM locks WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT 1`),
		accountID).Scan(&how); err != nil {
		h.t.Fatal(err)
	}
	return how
}

func TestSignalsAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.rules(riskRules)
		key := h.hostKey(false)
		taro := registerTaro(h)

		// One signal, then a batch.
		var a signalAnswer
		decode(t, h.signal(key, map[string]any{"account_id": taro.ID, "type": "purchase", "amount": 3000, "currency": "jpy",
			"instrument": "card"}).wantStatus(t, http.StatusAccepted).body, &a)
		if a.Accepted != 1 || len(a.Results) != 1 || a.Results[0].Action != "allow" {
			t.Fatalf("one signal: %+v", a)
		}
		decode(t, h.signal(key, map[string]any{"signals": []map[string]any{
			{"account_id": taro.ID, "type": "page.view", "ip": "198.51.100.7"},
			{"account_id": taro.ID, "type": "purchase", "amount": 1000, "currency": "JPY", "instrument": "card"},
		}}).wantStatus(t, http.StatusAccepted).body, &a)
		if a.Accepted != 2 || len(a.Results) != 2 {
			t.Fatalf("batch: %+v", a)
		}
		if n := h.count("SELECT COUNT(*) FROM risk_signals WHERE account_id = ?", taro.ID); n != 3 {
			t.Fatalf("%d signals stored, want 3", n)
		}

		// An unknown account: accepted and ignored, answered as a known
		// account with nothing matched — the API does not tell which
		// account ids exist.
		before := h.riskSnapshot()
		known := h.signal(key, map[string]any{"account_id": taro.ID, "type": "test.nothing"}).wantStatus(t, http.StatusAccepted)
		before.Signals++
		before.Buckets = h.count("SELECT COUNT(*) FROM risk_buckets")
		unknown := h.signal(key, map[string]any{"account_id": "acc_nobody", "type": "test.nothing"}).wantStatus(t, http.StatusAccepted)
		if string(known.body) != string(unknown.body) {
			t.Errorf("known %s, unknown %s", known.body, unknown.body)
		}
		h.riskUnchanged(before)

		// Refusals: clear problems, nothing stored.
		big := make([]map[string]any, 1001)
		for i := range big {
			big[i] = map[string]any{"account_id": taro.ID, "type": "follow"}
		}
		before = h.riskSnapshot()
		for _, c := range []struct {
			name, key, body string
			json            any
			status          int
			problem         string
		}{
			{name: "malformed", key: key, body: `{"account_id": `, status: 400, problem: "request.malformed_json"},
			{name: "not an object", key: key, body: `[1, 2]`, status: 400, problem: "request.field_type"},
			{name: "no account", key: key, json: map[string]any{"type": "follow"}, status: 400, problem: "request.field_missing"},
			{name: "bad type", key: key, json: map[string]any{"account_id": taro.ID, "type": "Follow Me!"}, status: 400, problem: "signal.type"},
			{name: "negative amount", key: key, json: map[string]any{"account_id": taro.ID, "type": "purchase", "amount": -1}, status: 400, problem: "signal.amount"},
			{name: "far future", key: key, json: map[string]any{"account_id": taro.ID, "type": "follow", "at": t0.Add(24 * time.Hour)}, status: 400, problem: "signal.time"},
			{name: "one bad in a batch", key: key, json: map[string]any{"signals": []map[string]any{
				{"account_id": taro.ID, "type": "follow"}, {"account_id": taro.ID, "type": ""}}}, status: 400, problem: "signal.type"},
			{name: "one and a batch", key: key, json: map[string]any{"account_id": taro.ID, "type": "follow",
				"signals": []map[string]any{{"account_id": taro.ID, "type": "follow"}}}, status: 400, problem: "request.unknown_field"},
			{name: "oversized batch", key: key, json: map[string]any{"signals": big}, status: 400, problem: "request.too_many_items"},
			{name: "no key", json: map[string]any{"account_id": taro.ID, "type": "follow"}, status: 401, problem: "apikey.missing"},
			{name: "unknown key", key: "mbk_unknown", json: map[string]any{"account_id": taro.ID, "type": "follow"}, status: 401, problem: "apikey.invalid"},
			{name: "a session token as key", key: taro.Token, json: map[string]any{"account_id": taro.ID, "type": "follow"}, status: 401, problem: "apikey.invalid"},
		} {
			r := h.do(request{method: "POST", path: "/api/v1/signals", bearer: c.key, body: c.body, json: c.json})
			if r.status != c.status {
				t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
				continue
			}
			if p := r.problem(t); p.Key != c.problem {
				t.Errorf("%s: problem %q, want %q", c.name, p.Key, c.problem)
			}
		}
		h.riskUnchanged(before)
	})
}

func TestLockWaysOutAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.rules(riskRules)
		key := h.hostKey(false)
		taro := registerTaro(h)
		h.verifyContacts(taro.ID)
		if a := h.lockOf(taro.Token, "en"); a.Locked {
			t.Fatalf("locked before any signal")
		}
		giftCard := map[string]any{"account_id": taro.ID, "type": "purchase", "amount": 50000, "currency": "JPY", "instrument": "gift_card"}
		var sa signalAnswer
		decode(t, h.signal(key, giftCard).wantStatus(t, http.StatusAccepted).body, &sa)
		if sa.Results[0].Action != "lock" || sa.Results[0].LockID == "" {
			t.Fatalf("gift card: %+v", sa)
		}

		// The person and the host app see the lock: category, never the rule.
		a := h.lockOf(taro.Token, "ja")
		if !a.Locked || a.Lock.Category != "payment" || a.Lock.Kind != "lock" || a.Lock.Phone != "090-****-5678" ||
			!slices.Equal(a.Lock.WaysOut, []string{"code", "password", "password_reset", "support"}) ||
			a.Lock.Support == "" || a.Lock.ResetURL == "" || a.Lock.Title == "" || !strings.ContainsAny(a.Lock.Reason, "おのに") {
			t.Fatalf("lock (ja): %+v", a)
		}
		r := h.do(request{method: "GET", path: "/api/v1/lock", bearer: taro.Token, lang: "en"})
		if strings.Contains(string(r.body), "gift-card") || strings.Contains(string(r.body), "t.1") {
			t.Errorf("the lock answer names the rule: %s", r.body)
		}
		r = h.do(request{method: "POST", path: "/api/v1/introspect", bearer: key, json: map[string]any{"token": taro.Token}}).
			wantStatus(t, http.StatusOK)
		if w := r.object(t); w["locked"] != true || w["lock"].(map[string]any)["category"] != "payment" {
			t.Errorf("introspection: %s", r.body)
		}
		if p := h.do(request{method: "GET", path: "/api/v1/account", bearer: taro.Token}).wantStatus(t, http.StatusForbidden).problem(t); p.Key != "account.locked" {
			t.Errorf("a locked session used the account API: %+v", p)
		}

		// Refusals change nothing: a wrong password, a wrong code, a way
		// this lock does not offer, no session.
		flowR := h.do(request{method: "POST", path: "/api/v1/lock/code", bearer: taro.Token}).wantStatus(t, http.StatusCreated)
		flowID, _ := flowR.object(t)["id"].(string)
		if flowID == "" {
			t.Fatalf("unlock flow: %s", flowR.body)
		}
		code := h.sentCode("+819012345678", "code.unlock")
		before := h.riskSnapshot()
		for _, c := range []struct {
			name, path, token string
			body              map[string]any
			status            int
			problem           string
		}{
			{"wrong password", "/api/v1/lock/password", taro.Token, map[string]any{"password": otherPassword}, 401, "lock.password_wrong"},
			{"wrong code", "/api/v1/lock/code/" + flowID + "/verify", taro.Token, map[string]any{"code": "000000"}, 400, "code.wrong"},
			{"second factor not offered", "/api/v1/lock/totp", taro.Token, map[string]any{"code": "123456"}, 403, "lock.way_not_allowed"},
			{"no session", "/api/v1/lock/password", "", map[string]any{"password": goodPassword}, 401, "session.missing"},
		} {
			r := h.do(request{method: "POST", path: c.path, bearer: c.token, json: c.body})
			if r.status != c.status {
				t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
				continue
			}
			if p := r.problem(t); c.problem != "" && p.Key != c.problem {
				t.Errorf("%s: problem %q, want %q", c.name, p.Key, c.problem)
			}
		}
		before.Audit = h.count("SELECT COUNT(*) FROM audit_events") // a wrong code and a wrong password are audited
		// A wrong password is a failed sign-in for the risk rules, as at
		// re-authentication: one signal of that type, nothing else.
		if n := h.count("SELECT COUNT(*) FROM risk_signals WHERE type = '" + string(monban.SignalSignInFailure) + "'"); n != 1 {
			t.Errorf("%d failed sign-in signals after one wrong password, want 1", n)
		}
		before.Signals++
		before.Buckets = h.count("SELECT COUNT(*) FROM risk_buckets")
		h.riskUnchanged(before)

		// The code way out, end to end through the dev outbox.
		h.do(request{method: "POST", path: "/api/v1/lock/code/" + flowID + "/verify", bearer: taro.Token,
			json: map[string]any{"code": code}}).wantStatus(t, http.StatusOK)
		if a := h.lockOf(taro.Token, "en"); a.Locked || h.liftedHow(taro.ID) != "code" {
			t.Fatalf("after the code: %+v, lifted %q", a, h.liftedHow(taro.ID))
		}
		if !h.authorised(taro.Token) {
			t.Fatal("the session does not work after the unlock")
		}
		if n := h.count("SELECT COUNT(*) FROM notices WHERE account_id = ? AND topic = 'account.unlocked'", taro.ID); n != 1 {
			t.Errorf("%d unlock notices", n)
		}
		if !slices.Contains(h.auditActions(taro.ID), "account.unlocked") {
			t.Errorf("no unlock audit entry: %v", h.auditActions(taro.ID))
		}
		before = h.riskSnapshot()
		if p := h.do(request{method: "POST", path: "/api/v1/lock/password", bearer: taro.Token,
			json: map[string]any{"password": goodPassword}}).wantStatus(t, http.StatusConflict).problem(t); p.Key != "lock.not_active" {
			t.Errorf("unlock without a lock: %+v", p)
		}
		h.riskUnchanged(before)

		// Locked again (the day's gift cards now sum 100,000 yen): the
		// password step-up.
		h.clock.Advance(time.Minute)
		h.signal(key, giftCard).wantStatus(t, http.StatusAccepted)
		h.do(request{method: "POST", path: "/api/v1/lock/password", bearer: taro.Token,
			json: map[string]any{"password": goodPassword}}).wantStatus(t, http.StatusOK)
		if h.liftedHow(taro.ID) != "password" {
			t.Fatalf("lifted %q, want password", h.liftedHow(taro.ID))
		}

		// A review lock offers support only.
		h.signal(key, map[string]any{"account_id": taro.ID, "type": "test.review"}).wantStatus(t, http.StatusAccepted)
		a = h.lockOf(taro.Token, "en")
		if !slices.Equal(a.Lock.WaysOut, []string{"support"}) || a.Lock.Kind != "lock_review" {
			t.Fatalf("review lock: %+v", a)
		}
		before = h.riskSnapshot()
		h.do(request{method: "POST", path: "/api/v1/lock/password", bearer: taro.Token,
			json: map[string]any{"password": goodPassword}}).wantStatus(t, http.StatusForbidden)
		h.do(request{method: "POST", path: "/api/v1/lock/code", bearer: taro.Token}).wantStatus(t, http.StatusForbidden)
		h.riskUnchanged(before)
	})
}

// TestLockLiftedByPasswordReset: login help that sets a new password lifts
// a lock whose ways out include a password reset.
func TestLockLiftedByPasswordReset(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.rules(riskRules)
		key := h.hostKey(false)
		taro := registerTaroOn(h, "taro-phone-0001-install")
		h.verifyContacts(taro.ID)
		h.signal(key, map[string]any{"account_id": taro.ID, "type": "purchase", "amount": 60000, "currency": "JPY",
			"instrument": "gift_card"}).wantStatus(t, http.StatusAccepted)
		if !h.lockOf(taro.Token, "en").Locked {
			t.Fatal("not locked")
		}
		r := h.do(request{method: "POST", path: "/api/v1/recoveries", json: map[string]any{"identifier": "taro", "channel": "sms"}}).
			wantStatus(t, http.StatusAccepted)
		var rec struct{ ID string }
		decode(t, r.body, &rec)
		h.recoveryStep(rec.ID, "/code", map[string]any{"code": h.sentCode("+819012345678", "code.recovery")}, http.StatusOK)
		h.recoveryStep(rec.ID, "/password", map[string]any{"password": otherPassword}, http.StatusOK)
		if how := h.liftedHow(taro.ID); how != "password_reset" {
			t.Fatalf("after the reset the lock is lifted %q", how)
		}
		r = h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro",
			"password": otherPassword, "device_id": "taro-phone-0001-install"}}).wantStatus(t, http.StatusCreated)
		if h.lockOf(accountOf(t, r).Token, "en").Locked {
			t.Fatal("still locked after the reset")
		}
	})
}

// TestLockLiftedBySecondFactor: a lock that asks for a second step is
// lifted by a code from the authenticator app (API) — and the lock page
// links to the page that does the same.
func TestLockLiftedBySecondFactor(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.rules(riskRules)
		key := h.hostKey(false)
		taro := registerTaroOn(h, "taro-phone-0001-install")
		h.verifyContacts(taro.ID)
		secret := h.enrolTOTP(taro.ID)
		h.clock.Advance(time.Minute)
		h.signal(key, map[string]any{"account_id": taro.ID, "type": "test.second"}).wantStatus(t, http.StatusAccepted)
		if a := h.lockOf(taro.Token, "en"); !slices.Equal(a.Lock.WaysOut, []string{"second_factor", "support"}) {
			t.Fatalf("lock: %+v", a)
		}
		before := h.riskSnapshot()
		h.do(request{method: "POST", path: "/api/v1/lock/totp", bearer: taro.Token, json: map[string]any{"code": "000000"}}).
			wantStatus(t, http.StatusUnauthorized)
		h.riskUnchanged(before)

		// The lock page's button goes to the second-factor page.
		page := h.do(request{method: "GET", path: "/locked", cookies: []*http.Cookie{{Name: "monban_session", Value: taro.Token}}}).
			wantStatus(t, http.StatusOK)
		if !strings.Contains(string(page.body), `href="/locked/second-factor"`) {
			t.Errorf("the lock page does not link to /locked/second-factor")
		}
		second := h.do(request{method: "GET", path: "/locked/second-factor", cookies: []*http.Cookie{{Name: "monban_session", Value: taro.Token}}}).
			wantStatus(t, http.StatusOK)
		if !strings.Contains(string(second.body), `action="/locked/second-factor"`) {
			t.Errorf("no authenticator form on the second-factor page")
		}

		h.do(request{method: "POST", path: "/api/v1/lock/totp", bearer: taro.Token, json: map[string]any{"code": h.totpCode(secret)}}).
			wantStatus(t, http.StatusOK)
		if how := h.liftedHow(taro.ID); how != "second_factor" {
			t.Fatalf("lifted %q", how)
		}
	})
}

type rollbackAnswer struct {
	DryRun  bool     `json:"dry_run"`
	Total   int      `json:"total"`
	Lifted  int      `json:"lifted"`
	Skipped int      `json:"skipped"`
	Done    bool     `json:"done"`
	Sample  []string `json:"sample_accounts"`
}

// TestAdminRollbackAPI: a faulty rule locks three people; the admin API
// previews, lifts (a notice, a webhook event and an audit entry each) and
// re-runs idempotently; the breaker API lists tripped rules; refusals
// change nothing.
func TestAdminRollbackAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.rules(strings.Replace(riskRules, "min_locks: 1000", "min_locks: 3", 1))
		key, admin := h.hostKey(false), h.hostKey(true)
		var ids, tokens []string
		for _, name := range []string{"taro", "hanako", "jiro"} {
			a := h.register(map[string]any{"username": name, "email": name + "@example.com", "password": goodPassword})
			ids, tokens = append(ids, a.ID), append(tokens, a.Token)
			h.signal(key, map[string]any{"account_id": a.ID, "type": "follow"}).wantStatus(t, http.StatusAccepted)
		}
		if n := h.count("SELECT COUNT(*) FROM locks WHERE lifted_at = 0 AND rule_id = 'faulty'"); n != 3 {
			t.Fatalf("%d locks", n)
		}
		// Three locks in ten minutes against no baseline tripped the breaker.
		r := h.do(request{method: "GET", path: "/api/v1/admin/breakers", bearer: admin}).wantStatus(t, http.StatusOK)
		if got := fmt.Sprint(r.object(t)["tripped"]); got != "[faulty@t.1]" {
			t.Errorf("breakers: %s", r.body)
		}

		rollback := func(bearer string, body map[string]any) *response {
			return h.do(request{method: "POST", path: "/api/v1/admin/locks/rollback", bearer: bearer, json: body})
		}
		before := h.riskSnapshot()
		for _, c := range []struct {
			name, key string
			body      map[string]any
			status    int
			problem   string
		}{
			{"host key", key, map[string]any{"rule": "faulty"}, 403, "apikey.not_admin"},
			{"no key", "", map[string]any{"rule": "faulty"}, 401, "apikey.missing"},
			{"no rule", admin, map[string]any{}, 400, "request.field_missing"},
			{"unknown field", admin, map[string]any{"rule": "faulty", "everything": true}, 400, "request.unknown_field"},
		} {
			r := rollback(c.key, c.body)
			if r.status != c.status {
				t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
				continue
			}
			if p := r.problem(t); p.Key != c.problem {
				t.Errorf("%s: problem %q, want %q", c.name, p.Key, c.problem)
			}
		}
		h.do(request{method: "GET", path: "/api/v1/admin/breakers", bearer: key}).wantStatus(t, http.StatusForbidden)

		// Dry run: counts and samples, lifts nothing.
		var ra rollbackAnswer
		decode(t, rollback(admin, map[string]any{"rule": "faulty", "version": "t.1", "dry_run": true}).wantStatus(t, http.StatusOK).body, &ra)
		if !ra.DryRun || ra.Total != 3 || ra.Lifted != 0 || len(ra.Sample) != 3 {
			t.Fatalf("dry run: %+v", ra)
		}
		h.riskUnchanged(before)

		decode(t, rollback(admin, map[string]any{"rule": "faulty"}).wantStatus(t, http.StatusOK).body, &ra)
		if ra.Total != 3 || ra.Lifted != 3 || !ra.Done {
			t.Fatalf("rollback: %+v", ra)
		}
		for _, id := range ids {
			if how := h.liftedHow(id); how != "rollback" {
				t.Errorf("%s lifted %q", id, how)
			}
			if n := h.count("SELECT COUNT(*) FROM notices WHERE account_id = ? AND topic = 'account.unlocked'", id); n != 1 {
				t.Errorf("%s: %d unlock notices", id, n)
			}
			if n := h.count("SELECT COUNT(*) FROM audit_events WHERE account_id = ? AND action = 'account.unlocked'", id); n != 1 {
				t.Errorf("%s: %d unlock audit entries", id, n)
			}
			if n := h.count("SELECT COUNT(*) FROM webhook_events WHERE account_id = ? AND type = 'account.unlocked'", id); n != 1 {
				t.Errorf("%s: %d unlock webhook events", id, n)
			}
		}

		// The unlock says it was the service's mistake, in the person's words.
		for _, lang := range []string{"ja", "en"} {
			var list struct {
				Notices []struct{ Topic, Summary string }
			}
			decode(t, h.do(request{method: "GET", path: "/api/v1/notices", bearer: tokens[0], lang: lang}).wantStatus(t, http.StatusOK).body, &list)
			want := catalog(t).T(lang, "notice.account.unlocked_rollback", nil)
			found := false
			for _, n := range list.Notices {
				found = found || n.Topic == "account.unlocked" && n.Summary == want
			}
			if !found {
				t.Errorf("%s: no apology in the message center: %+v", lang, list.Notices)
			}
		}

		// Re-run: nothing left, nothing written.
		before = h.riskSnapshot()
		decode(t, rollback(admin, map[string]any{"rule": "faulty"}).wantStatus(t, http.StatusOK).body, &ra)
		if ra.Total != 0 || ra.Lifted != 0 || !ra.Done {
			t.Fatalf("re-run: %+v", ra)
		}
		h.riskUnchanged(before)
	})
}

// A sign-in from a new device reports "device.new" and "signin.success"
// as one batch: both are stored, and a rule evaluated on one of them reads
// the buckets with the other already counted.
func TestSignInSignalsOneBatch(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.rules(`
version: "t.batch"
rules:
  - id: new-device-sign-in
    on: [device.new]
    when: 'count("signin.success", "1h") >= 2'
    action: lock
    category: sign_in
    ways_out: [code]
`)
		taro := registerTaro(h)
		first := h.signIn("taro", goodPassword)
		types := func() []string {
			rows, err := h.raw.Query(rebind(h, `SELECT type FROM risk_signals WHERE account_id = ? AND device_id = ? ORDER BY type`),
				taro.ID, first.DeviceID)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				out = append(out, s)
			}
			return out
		}
		if got := types(); !slices.Equal(got, []string{"device.new", "signin.success"}) {
			t.Fatalf("signals of the new device = %v", got)
		}
		if n := h.count("SELECT COUNT(*) FROM locks WHERE account_id = ?", taro.ID); n != 0 {
			t.Fatalf("%d locks after one sign-in, want 0", n)
		}
		// The second new device: its "device.new" is evaluated with its own
		// "signin.success" already in the buckets, so the count is 2.
		h.signIn("taro", goodPassword)
		if n := h.count("SELECT COUNT(*) FROM locks WHERE account_id = ?", taro.ID); n != 1 {
			t.Fatalf("%d locks after two sign-ins from new devices, want 1", n)
		}
		want := []string{monban.AuditRegistered, monban.AuditSignedIn, monban.AuditSignInUnchecked, monban.AuditSignedIn,
			monban.AuditSignInUnchecked, monban.AuditSignedIn, monban.AuditLocked}
		if got := h.auditActions(taro.ID); !slices.Equal(got, want) {
			t.Errorf("audit = %v, want %v", got, want)
		}
	})
}
