package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// failLastCode plays the carrier's report that the newest code message to
// dest failed, through the dev outbox's receipt form, as a carrier's
// callback would: the message is first "sent" (accepted by the dev
// provider), then reported failed. dest "" is the newest code message.
func failLastCode(t *testing.T, h *harness, b *browser, csrf, dest string) {
	t.Helper()
	var id string
	if err := h.raw.QueryRow(rebind(h, `SELECT id FROM messages WHERE (destination = ? OR ? = '') AND template LIKE 'code.%'
		ORDER BY created_at DESC, id DESC LIMIT 1`), dest, dest).Scan(&id); err != nil {
		t.Fatalf("no code message to %s: %v", dest, err)
	}
	h.exec("UPDATE messages SET status = 'sent', provider = 'dev', sent_at = ? WHERE id = ?", h.clock.Now().UnixMicro(), id)
	b.post("/dev/outbox/"+id+"/receipt", url.Values{"csrf": {csrf}, "status": {"failed"}}, nil).wantStatus(t, http.StatusSeeOther)
}

// reachWays returns the kinds of the ways out in a status answer.
func reachWays(t *testing.T, st map[string]any) []string {
	t.Helper()
	r, _ := st["reach"].(map[string]any)
	if r == nil {
		t.Fatalf("status answer without reach: %v", st)
	}
	var out []string
	for _, w := range r["ways"].([]any) {
		out = append(out, w.(map[string]any)["kind"].(string))
	}
	return out
}

func statusJSON(t *testing.T, b *browser, path string) map[string]any {
	t.Helper()
	return b.do(request{method: "GET", path: path, header: map[string]string{"Accept": "application/json"}}).
		wantStatus(t, http.StatusOK).object(t)
}

// TestReachSignInVerify: at the new-device check and at 2-step sign-in, a
// failed SMS makes the status say failed (the page's sentence too, never
// "sent"), the other ways are offered (approval only while another device
// is signed in, and its link never by SMS to the phone that failed), and a
// voice call right after the failed SMS is accepted.
func TestReachSignInVerify(t *testing.T) {
	const phone = "+819012345678"
	kinds := []struct {
		name      string
		twoStep   bool
		signedIn  bool // another device of the account is signed in
		wantWays  string
		template  string
		wantReach string
	}{
		{name: "new-device check, no other device", wantWays: "voice,email,support", template: "code.new_device"},
		{name: "2-step sign-in, no other device", twoStep: true, wantWays: "voice,email,support", template: "code.sign_in"},
		{name: "2-step sign-in, another device signed in", twoStep: true, signedIn: true,
			wantWays: "voice,email,approval,support", template: "code.sign_in"},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, h *harness) {
				a := h.register(map[string]any{"username": "taro", "email": "taro@example.jp", "phone": "090-1234-5678", "password": goodPassword})
				h.verifyContacts(a.ID)
				if k.twoStep {
					h.exec("UPDATE accounts SET two_step = ? WHERE id = ?", true, a.ID)
				}
				if !k.signedIn {
					h.exec("UPDATE sessions SET revoked_at = 1 WHERE account_id = ?", a.ID)
				}
				b := newBrowser(h)
				tok := b.form("/signin")
				r := b.post("/signin", url.Values{"csrf": {tok}, "identifier": {"taro"}, "password": {goodPassword}}, nil).
					wantStatus(t, http.StatusSeeOther)
				if loc := r.header.Get("Location"); loc != "/signin/verify" {
					t.Fatalf("sign-in went to %s", loc)
				}
				page := string(b.do(request{method: "GET", path: "/signin/verify"}).wantStatus(t, http.StatusOK).body)
				if got := strings.Contains(page, `id="ask-approval"`); got != k.signedIn {
					t.Errorf("approval offered %v, want %v (another device signed in: %v)", got, k.signedIn, k.signedIn)
				}
				b.post("/signin/verify/send", url.Values{"csrf": {tok}, "way": {"sms"}}, nil).wantStatus(t, http.StatusSeeOther)
				failLastCode(t, h, b, tok, phone)

				st := statusJSON(t, b, "/signin/verify/status")
				if st["status"] != "failed" || st["offer_others"] != true {
					t.Errorf("status %v offer_others %v, want failed, true", st["status"], st["offer_others"])
				}
				if s, _ := st["sentence"].(string); !strings.Contains(s, "への SMS は届きませんでした") {
					t.Errorf("sentence %q, want the SMS not delivered", s)
				}
				if got := strings.Join(reachWays(t, st), ","); got != k.wantWays {
					t.Errorf("ways %s, want %s", got, k.wantWays)
				}
				page = string(b.do(request{method: "GET", path: "/signin/verify"}).wantStatus(t, http.StatusOK).body)
				if strings.Contains(page, "SMS でコードを送りました") || strings.Contains(page, "送信済み") {
					t.Errorf("the page still says sent after the SMS failed")
				}
				if !strings.Contains(page, `id="not-delivered" role="alert">`) || !strings.Contains(page, "コードが届いていません") {
					t.Errorf("no visible not-delivered box")
				}

				if k.signedIn {
					// The approval link goes by email, not to the phone that failed.
					b.post("/signin/verify/approval", url.Values{"csrf": {tok}}, nil).wantStatus(t, http.StatusSeeOther)
					if n := h.countMessages(phone, "notice.signin.approval"); n != 0 {
						t.Errorf("%d approval links by SMS to the phone that failed", n)
					}
					if n := h.countMessages("taro@example.jp", "notice.signin.approval"); n != 1 {
						t.Errorf("%d approval links by email, want 1", n)
					}
				}
				// A voice call right after the failed SMS is another channel.
				r = b.post("/signin/verify/send", url.Values{"csrf": {tok}, "way": {"voice"}}, nil)
				if r.status != http.StatusSeeOther {
					t.Fatalf("voice after a failed SMS: %d %s", r.status, r.body)
				}
				var n int
				h.raw.QueryRow(rebind(h, `SELECT COUNT(*) FROM messages WHERE destination = ? AND channel = 'voice' AND template = ?`),
					phone, k.template).Scan(&n)
				if n != 1 {
					t.Errorf("%d voice messages, want 1", n)
				}
			})
		})
	}
}

// TestReachSignUpVerify: on the sign-up verification page a failed SMS
// makes the status say failed, the voice call to the same number and the
// address still to verify are offered, and the voice call is accepted at
// once (the cooldown is per channel).
func TestReachSignUpVerify(t *testing.T) {
	const phone = "+819012345678"
	eachDB(t, func(t *testing.T, h *harness) {
		a := h.register(map[string]any{"username": "taro", "email": "taro@example.jp", "phone": "090-1234-5678", "password": goodPassword})
		b := signedInBrowser(h, a.Token)
		b.lang = "ja"
		csrf := b.form("/verify/confirm?kind=phone")
		r := b.post("/verify/start", url.Values{"csrf": {csrf}, "kind": {"phone"}, "channel": {"sms"}}, nil).wantStatus(t, http.StatusSeeOther)
		flow := r.header.Get("Location")
		failLastCode(t, h, b, csrf, phone)
		st := statusJSON(t, b, flow+"/status")
		if st["status"] != "failed" || st["offer_others"] != true {
			t.Errorf("status %v offer_others %v, want failed, true", st["status"], st["offer_others"])
		}
		if got := strings.Join(reachWays(t, st), ","); got != "voice,email,support" {
			t.Errorf("ways %s, want voice,email,support", got)
		}
		api := h.do(request{method: "GET", path: "/api/v1/flows/" + strings.TrimPrefix(flow, "/verify/"), bearer: a.Token}).
			wantStatus(t, http.StatusOK).object(t)
		if rc, _ := api["reach"].(map[string]any); rc["status"] != "failed" || rc["undelivered"] != true {
			t.Errorf("API reach %v, want the same failed status as the page", api["reach"])
		}
		page := string(b.do(request{method: "GET", path: flow}).wantStatus(t, http.StatusOK).body)
		if strings.Contains(page, "SMS でコードを送りました") || !strings.Contains(page, "への SMS は届きませんでした") {
			t.Errorf("the page's sentence does not follow the failed status")
		}
		// The failed SMS frees its own channel too: the resend goes at once,
		// before the 30 s cooldown.
		if next := st["reach"].(map[string]any)["next_send"].([]any)[0].(map[string]any); next["channel"] != "sms" ||
			next["at"] != h.clock.Now().UTC().Format(time.RFC3339Nano) {
			t.Errorf("next SMS %v, want now", next)
		}
		r = b.post(flow+"/resend", url.Values{"csrf": {csrf}}, nil)
		if r.status != http.StatusSeeOther {
			t.Fatalf("resend after a failed SMS: %d %s", r.status, r.body)
		}
		r = b.post("/verify/start", url.Values{"csrf": {csrf}, "kind": {"phone"}, "channel": {"voice"}}, nil)
		if r.status != http.StatusSeeOther {
			t.Fatalf("voice after a failed SMS: %d %s", r.status, r.body)
		}
	})
}

// TestReachLockedCode: the unlock-by-code page polls its own status, which
// says failed after the carrier's report, and the page's sentence follows.
func TestReachLockedCode(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		b := signedInBrowser(h, lockedTaro(t, h, false).Token)
		b.lang = "ja"
		csrf := b.form("/locked")
		r := b.post("/locked/code", url.Values{"csrf": {csrf}}, nil).wantStatus(t, http.StatusSeeOther)
		page := r.header.Get("Location")
		body := string(b.do(request{method: "GET", path: page}).wantStatus(t, http.StatusOK).body)
		if !strings.Contains(body, `data-reach-url="`+page+`/status"`) {
			t.Fatalf("the unlock code page does not poll its status")
		}
		failLastCode(t, h, b, csrf, "")
		st := statusJSON(t, b, page+"/status")
		if st["status"] != "failed" || st["offer_others"] != true {
			t.Errorf("status %v offer_others %v, want failed, true", st["status"], st["offer_others"])
		}
		if ways := reachWays(t, st); ways[len(ways)-1] != "support" || contains(ways, "approval") {
			t.Errorf("ways %v: want support last and no approval", ways)
		}
		body = string(b.do(request{method: "GET", path: page}).wantStatus(t, http.StatusOK).body)
		if !strings.Contains(body, "届きませんでした") || strings.Contains(body, "でコードを送りました") {
			t.Errorf("the sentence does not follow the failed status")
		}
	})
}

// TestReachContactChange: the code to a new address has the same live
// status; when it fails, support is the way out (no other contact stands
// in for the new one).
func TestReachContactChange(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		b := signedInBrowser(h, registerTaro(h).Token)
		b.lang = "ja"
		csrf := b.form("/account/contact?kind=email")
		r := b.post("/account/contact", url.Values{"csrf": {csrf}, "kind": {"email"}, "value": {"new@example.com"},
			"password": {goodPassword}}, nil).wantStatus(t, http.StatusSeeOther)
		page := r.header.Get("Location")
		failLastCode(t, h, b, csrf, "new@example.com")
		st := statusJSON(t, b, page+"/status")
		if st["status"] != "failed" || strings.Join(reachWays(t, st), ",") != "support" {
			t.Errorf("status %v ways %v, want failed, support", st["status"], reachWays(t, st))
		}
		body := string(b.do(request{method: "GET", path: page}).wantStatus(t, http.StatusOK).body)
		if !strings.Contains(body, "へのメールは届きませんでした") {
			t.Errorf("the sentence does not follow the failed status")
		}
	})
}
