package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban/internal/factors"
)

// knownDevice records the browser's device as one that signed in to the
// account before, so its next sign-in is one step (as after sign-up in
// that browser).
func (b *browser) knownDevice(accountID string) {
	b.h.t.Helper()
	b.form("/signin") // the page issues the device cookie
	c := b.cookies["monban_device"]
	if c == nil {
		b.h.t.Fatal("no device cookie")
		return
	}
	id, _, _ := strings.Cut(c.Value, ".")
	b.h.exec(`INSERT INTO devices (account_id, id, kind, label, created_at, last_seen_at, trusted_until)
		VALUES (?, ?, 'web', 'test', 1, 1, 0)`, accountID, id)
}

// heldFixture registers taro with a verified email, so a new device needs
// a second proof.
func heldFixture(h *harness) account {
	a := h.register(map[string]any{"username": "taro", "email": "taro@example.jp", "password": goodPassword})
	h.exec("UPDATE identifiers SET verified = TRUE WHERE account_id = ? AND kind = 'email'", a.ID)
	return a
}

// TestHeldSignInRecoveryCode: a new browser is held after the password;
// the verify page offers the bound ways; a wrong recovery code is refused
// on the page, a right one signs in at level 2, and the same code never
// works twice.
func TestHeldSignInRecoveryCode(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		a := heldFixture(h)
		codes, err := h.n.Factors.GenerateRecoveryCodes(context.Background(),
			factors.Actor{AccountID: a.ID, SessionID: a.SessionID, AuthAt: h.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		signIn := func() *browser {
			b := newBrowser(h)
			b.lang = "en"
			tok := b.form("/signin")
			r := b.post("/signin", url.Values{"csrf": {tok}, "identifier": {"taro"}, "password": {goodPassword}}, nil).
				wantStatus(t, http.StatusSeeOther)
			if loc := r.header.Get("Location"); loc != "/signin/verify" {
				t.Fatalf("sign-in went to %s, want /signin/verify", loc)
			}
			return b
		}
		b := signIn()
		page := string(b.do(request{method: "GET", path: "/signin/verify"}).wantStatus(t, http.StatusOK).body)
		for _, want := range []string{`id="send-email"`, `id="ask-approval"`, `id="open-recovery_code"`} {
			if !strings.Contains(page, want) {
				t.Errorf("verify page lacks %s", want)
			}
		}
		if strings.Contains(page, `id="send-sms"`) {
			t.Error("SMS offered without a verified phone")
		}
		tok := csrfField.FindStringSubmatch(page)[1]
		r := b.post("/signin/verify", url.Values{"csrf": {tok}, "method": {"recovery_code"}, "code": {"AAAA-BBBB-CCCC-DDDD"}}, nil)
		r.wantStatus(t, http.StatusUnauthorized)
		if !strings.Contains(string(r.body), "recovery code is not right") {
			t.Errorf("wrong code page: %s", r.body)
		}
		r = b.post("/signin/verify", url.Values{"csrf": {tok}, "method": {"recovery_code"}, "code": {strings.ToLower(codes[3])}, "remember": {"1"}}, nil)
		r.wantStatus(t, http.StatusSeeOther)
		if r.header.Get("Location") != "/account" {
			t.Fatalf("went to %s", r.header.Get("Location"))
		}
		b.do(request{method: "GET", path: "/account"}).wantStatus(t, http.StatusOK)
		// The device is now known and trusted: signing in again is one step.
		tok = b.form("/signin")
		r = b.post("/signin", url.Values{"csrf": {tok}, "identifier": {"taro"}, "password": {goodPassword}}, nil)
		if loc := r.header.Get("Location"); loc != "/account" {
			t.Errorf("known device went to %s, want /account", loc)
		}
		// The code is spent.
		b2 := signIn()
		page = string(b2.do(request{method: "GET", path: "/signin/verify"}).wantStatus(t, http.StatusOK).body)
		tok = csrfField.FindStringSubmatch(page)[1]
		b2.post("/signin/verify", url.Values{"csrf": {tok}, "method": {"recovery_code"}, "code": {codes[3]}}, nil).
			wantStatus(t, http.StatusUnauthorized)
		// The held sign-in expires after 10 minutes.
		h.clock.Advance(11 * time.Minute)
		r = b2.post("/signin/verify", url.Values{"csrf": {tok}, "method": {"recovery_code"}, "code": {codes[4]}}, nil)
		if r.status != http.StatusConflict || !strings.Contains(string(r.body), "expired") {
			t.Errorf("expired: %d %s", r.status, r.body)
		}
	})
}

// TestApprovalAPI: an app held on a new device asks for approval; the
// trusted app session sees the prompt, approves it once (a replay is
// refused), and the waiting app gets its session; a denial ends another.
func TestApprovalAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		owner := heldFixture(h)
		hold := func(device string) (id, secret string) {
			r := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro",
				"password": goodPassword, "device_id": device}}).wantStatus(t, http.StatusAccepted)
			p := r.object(t)["pending_signin"].(map[string]any)
			ways := p["ways"].([]any)
			if len(ways) < 2 {
				t.Fatalf("ways %v", ways)
			}
			return p["id"].(string), p["secret"].(string)
		}
		id, secret := hold("new-phone-device-1")
		h.do(request{method: "POST", path: "/api/v1/signins/" + id + "/approval", json: map[string]any{"secret": "wrong"}}).
			wantStatus(t, http.StatusUnauthorized)
		h.do(request{method: "POST", path: "/api/v1/signins/" + id + "/approval", json: map[string]any{"secret": secret}}).
			wantStatus(t, http.StatusAccepted)
		list := h.do(request{method: "GET", path: "/api/v1/approvals", bearer: owner.Token}).wantStatus(t, http.StatusOK).object(t)
		if ps := list["approvals"].([]any); len(ps) != 1 || ps[0].(map[string]any)["id"] != id {
			t.Fatalf("approvals %v", list)
		}
		poll := func() *response {
			return h.do(request{method: "POST", path: "/api/v1/signins/" + id, json: map[string]any{"secret": secret}})
		}
		if st := poll().wantStatus(t, http.StatusOK).object(t)["pending_signin"].(map[string]any)["state"]; st != "pending" {
			t.Errorf("state %v", st)
		}
		h.do(request{method: "POST", path: "/api/v1/approvals/" + id, bearer: owner.Token, json: map[string]any{"decision": "approve"}}).
			wantStatus(t, http.StatusNoContent)
		p := h.do(request{method: "POST", path: "/api/v1/approvals/" + id, bearer: owner.Token, json: map[string]any{"decision": "deny"}}).
			wantStatus(t, http.StatusConflict).problem(t)
		if p.Key != "approval.decided" {
			t.Errorf("replay: %+v", p)
		}
		a := accountOf(t, poll().wantStatus(t, http.StatusCreated))
		if a.ID != owner.ID {
			t.Errorf("signed in as %s", a.ID)
		}
		poll().wantStatus(t, http.StatusOK) // completed: no second session
		if h.snapshot().Sessions != 2 {
			t.Errorf("sessions %d, want 2", h.snapshot().Sessions)
		}

		id, secret = hold("new-phone-device-2")
		h.do(request{method: "POST", path: "/api/v1/signins/" + id + "/approval", json: map[string]any{"secret": secret}}).
			wantStatus(t, http.StatusAccepted)
		h.do(request{method: "POST", path: "/api/v1/approvals/" + id, bearer: owner.Token, json: map[string]any{"decision": "deny"}}).
			wantStatus(t, http.StatusNoContent)
		st := poll().wantStatus(t, http.StatusOK).object(t)["pending_signin"].(map[string]any)["state"]
		if st != "denied" {
			t.Errorf("after deny: %v", st)
		}
		if got := h.auditActions(owner.ID); !contains(got, "signin.denied") {
			t.Errorf("audit %v lacks signin.denied", got)
		}
		// A prompt that expired cannot be approved.
		id, secret = hold("new-phone-device-3")
		h.do(request{method: "POST", path: "/api/v1/signins/" + id + "/approval", json: map[string]any{"secret": secret}}).
			wantStatus(t, http.StatusAccepted)
		h.clock.Advance(6 * time.Minute)
		p = h.do(request{method: "POST", path: "/api/v1/approvals/" + id, bearer: owner.Token, json: map[string]any{"decision": "approve"}}).
			wantStatus(t, http.StatusConflict).problem(t)
		if p.Key != "approval.expired" {
			t.Errorf("expired prompt: %+v", p)
		}
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestApprovalLinkSent: asking for approval sends the one-time link to the
// verified contacts in the prompt's transaction (the message center keeps
// the device and address, never the link); the link's page approves once,
// and a second use is refused.
func TestApprovalLinkSent(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		owner := heldFixture(h)
		r := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro",
			"password": goodPassword, "device_id": "new-tablet-device-1"}}).wantStatus(t, http.StatusAccepted)
		p := r.object(t)["pending_signin"].(map[string]any)
		id, secret := p["id"].(string), p["secret"].(string)
		if n := h.countMessages("taro@example.jp", "notice.signin.approval"); n != 0 {
			t.Fatalf("%d approval messages before asking", n)
		}
		h.do(request{method: "POST", path: "/api/v1/signins/" + id + "/approval", json: map[string]any{"secret": secret}}).
			wantStatus(t, http.StatusAccepted)
		params := h.sentParams("taro@example.jp", "notice.signin.approval")
		link, _ := params["approve_url"].(string)
		prefix := h.n.Config.PublicURL + "/approve/" + id + "."
		if !strings.HasPrefix(link, prefix) || len(link) < len(prefix)+40 {
			t.Fatalf("approve_url %q, want %s<secret>", link, prefix)
		}
		if params["ref"] == "" || params["until"] == "" {
			t.Errorf("params %v lack the reference or the deadline", params)
		}
		var stored string
		h.raw.QueryRow(rebind(h, `SELECT params FROM notices WHERE account_id = ? AND topic = 'signin.approval'`), owner.ID).Scan(&stored)
		if stored == "" || strings.Contains(stored, "/approve/") {
			t.Errorf("message-center params %q: want the notice without its link", stored)
		}

		path := strings.TrimPrefix(link, h.n.Config.PublicURL)
		b := newBrowser(h)
		b.lang = "en"
		tok := b.form(path)
		b.post(path, url.Values{"csrf": {tok}, "decision": {"approve"}}, nil).wantStatus(t, http.StatusOK)
		b.post(path, url.Values{"csrf": {tok}, "decision": {"deny"}}, nil).wantStatus(t, http.StatusConflict)
		poll := h.do(request{method: "POST", path: "/api/v1/signins/" + id, json: map[string]any{"secret": secret}})
		if a := accountOf(t, poll.wantStatus(t, http.StatusCreated)); a.ID != owner.ID {
			t.Errorf("signed in as %s", a.ID)
		}
		if got := h.auditActions(owner.ID); !contains(got, "signin.approved") {
			t.Errorf("audit %v lacks signin.approved", got)
		}
	})
}
