package web_test

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/seal"
)

// Login help, contact changes and their undo, through the pages and the
// API: enumeration safety first, then the journeys.

// sentParams opens the newest message of template to dest and returns its
// parameters (the code, the restore link…), as the person would read them.
func (h *harness) sentParams(dest, template string) map[string]any {
	h.t.Helper()
	var payload []byte
	err := h.raw.QueryRow(rebind(h, `SELECT payload FROM messages WHERE destination = ? AND template = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`), dest, template).Scan(&payload)
	if err != nil {
		h.t.Fatalf("no %s message to %s: %v", template, dest, err)
	}
	secret, _ := hex.DecodeString(testSecret)
	box, err := seal.New(secret)
	if err != nil {
		h.t.Fatal(err)
	}
	plain, err := box.Open(payload)
	if err != nil {
		h.t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(plain, &p); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) sentCode(dest, template string) string {
	h.t.Helper()
	c, _ := h.sentParams(dest, template)["code"].(string)
	if c == "" {
		h.t.Fatalf("message %s to %s has no code", template, dest)
	}
	return c
}

// registerTaroOn registers taro from an app install, so that later sign-ins
// from it are from a device the account knows (no new-device check).
func registerTaroOn(h *harness, device string) account {
	return h.register(map[string]any{"username": "taro", "email": "taro@example.com", "phone": "090-1234-5678",
		"password": goodPassword, "device_id": device})
}

// signInStatus signs in through the API from device ("" for a new one) and
// returns the status: 201 signed in, 202 password right but a second
// proof needed, 401, 429…
func (h *harness) signInStatus(ident, pw, device string) int {
	h.t.Helper()
	body := map[string]any{"identifier": ident, "password": pw}
	if device != "" {
		body["device_id"] = device
	}
	return h.do(request{method: "POST", path: "/api/v1/sessions", json: body}).status
}

func (h *harness) countMessages(dest, template string) int {
	h.t.Helper()
	var n int
	if err := h.raw.QueryRow(rebind(h, `SELECT COUNT(*) FROM messages WHERE destination = ? AND template = ?`),
		dest, template).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// verifyContacts marks the account's email and phone verified, as the codes
// issue's flows would.
func (h *harness) verifyContacts(accountID string) {
	h.t.Helper()
	h.exec("UPDATE identifiers SET verified = ? WHERE account_id = ? AND kind <> 'username'", true, accountID)
}

// browserForm is a browser's device cookie and the CSRF token bound to it.
type browserForm struct {
	cookies []*http.Cookie
	csrf    string
}

func (h *harness) browser() browserForm {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+"/help/signin", nil)
	resp, err := h.c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	m := csrfField.FindStringSubmatch(b.String())
	if m == nil {
		h.t.Fatalf("no csrf field on /help/signin")
	}
	return browserForm{cookies: resp.Cookies(), csrf: m[1]}
}

func (bf browserForm) post(h *harness, path string, fields url.Values) *response {
	h.t.Helper()
	fields.Set("csrf", bf.csrf)
	return h.do(request{method: "POST", path: path, form: fields, cookies: bf.cookies, lang: "ja"})
}

func (bf browserForm) get(h *harness, path string) *response {
	h.t.Helper()
	return h.do(request{method: "GET", path: path, cookies: bf.cookies, lang: "ja"})
}

// same fails unless two answers are identical once each one's own
// identifiers (recovery ids, the identifier shown) are blanked.
func same(t *testing.T, what string, a, b *response, blankA, blankB []string) {
	t.Helper()
	norm := func(r *response, blanks []string) string {
		s := string(r.body)
		for _, x := range blanks {
			if x != "" {
				s = strings.ReplaceAll(s, x, "…")
			}
		}
		return s
	}
	if a.status != b.status {
		t.Fatalf("%s: status %d for a known account, %d for an unknown one", what, a.status, b.status)
	}
	for _, hd := range []string{"Content-Type", "Retry-After", "Location"} {
		ha, hb := a.header.Get(hd), b.header.Get(hd)
		for _, x := range blankA {
			ha = strings.ReplaceAll(ha, x, "…")
		}
		for _, x := range blankB {
			hb = strings.ReplaceAll(hb, x, "…")
		}
		if ha != hb {
			t.Fatalf("%s: header %s %q vs %q", what, hd, ha, hb)
		}
	}
	if na, nb := norm(a, blankA), norm(b, blankB); na != nb {
		t.Fatalf("%s: bodies differ:\nknown:   %s\nunknown: %s", what, na, nb)
	}
}

var recoveryPath = regexp.MustCompile(`^/help/signin/(rcv_[a-z0-9]+)$`)

// TestLoginHelpEnumeration: every identify and recover answer — pages and
// API, first request, code entry, limits — is the same for an identifier
// that names an account and one that does not.
func TestLoginHelpEnumeration(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaro(h)
		h.verifyContacts(taro.ID)
		// An account with no verified contact can recover nothing, and
		// must look the same too.
		h.register(map[string]any{"username": "jiro", "email": "jiro@example.com", "password": goodPassword})
		pairs := []struct {
			name           string
			known, unknown string
			shownK, shownU string
		}{
			{"username with @", "@taro", "@nobody_here", "@taro", "@nobody_here"},
			{"full-width username", "＠ＴＡＲＯ", "＠ＮＯＢＯＤＹ", "@taro", "@nobody"},
			{"email", "taro@example.com", "hanako@example.com", "t***@example.com", "h***@example.com"},
			{"phone", "090-1234-5678", "090-8765-4321", "090-****-5678", "090-****-4321"},
			{"unverified contacts", "jiro", "saburo", "@jiro", "@saburo"},
		}
		for _, p := range pairs {
			bf := h.browser()
			var ids [2]string
			var steps [2]*response
			var codes [2]*response
			for i, ident := range []string{p.known, p.unknown} {
				r := bf.post(h, "/help/signin", url.Values{"identifier": {ident}, "channel": {"email"}})
				if r.status != http.StatusSeeOther {
					t.Fatalf("%s: POST /help/signin %q: %d %s", p.name, ident, r.status, r.body)
				}
				m := recoveryPath.FindStringSubmatch(r.header.Get("Location"))
				if m == nil {
					t.Fatalf("%s: redirect to %q", p.name, r.header.Get("Location"))
				}
				ids[i] = m[1]
				steps[i] = bf.get(h, "/help/signin/"+ids[i])
				codes[i] = bf.post(h, "/help/signin/"+ids[i]+"/code", url.Values{"code": {"000000"}})
			}
			blankK, blankU := []string{ids[0], p.shownK}, []string{ids[1], p.shownU}
			same(t, p.name+": code page", steps[0], steps[1], blankK, blankU)
			same(t, p.name+": wrong code", codes[0], codes[1], blankK, blankU)

			var apiIDs [2]string
			var api, apiCode [2]*response
			for i, ident := range []string{p.known, p.unknown} {
				api[i] = h.do(request{method: "POST", path: "/api/v1/recoveries", lang: "en",
					json: map[string]any{"identifier": ident, "channel": "email"}})
				var body struct{ ID string }
				decode(t, api[i].body, &body)
				apiIDs[i] = body.ID
				apiCode[i] = h.do(request{method: "POST", path: "/api/v1/recoveries/" + body.ID + "/code", lang: "en",
					json: map[string]any{"code": "12345678"}})
			}
			blankK, blankU = []string{apiIDs[0], p.shownK}, []string{apiIDs[1], p.shownU}
			same(t, p.name+": API start", api[0], api[1], blankK, blankU)
			if api[0].status != http.StatusAccepted {
				t.Fatalf("API start: %d %s", api[0].status, api[0].body)
			}
			same(t, p.name+": API wrong code", apiCode[0], apiCode[1], blankK, blankU)
		}
		// Only the real account with a verified contact got codes (resends
		// within the cooldown were refused silently, alike).
		if n := h.countMessages("taro@example.com", "code.recovery"); n == 0 {
			t.Errorf("no recovery code to taro's email")
		}
		if n := h.countMessages("+819012345678", "code.recovery"); n == 0 {
			t.Errorf("no recovery code to taro's phone")
		}
		if n := h.countMessages("jiro@example.com", "code.recovery"); n != 0 {
			t.Errorf("%d codes to an unverified address", n)
		}

		// The per-identifier limit: refused at the same moment, alike.
		h.clock.Advance(time.Hour)
		var last [2]*response
		for range 6 {
			for i, ident := range []string{"taro@example.com", "hanako@example.com"} {
				last[i] = h.do(request{method: "POST", path: "/api/v1/recoveries", lang: "ja",
					json: map[string]any{"identifier": ident}})
			}
		}
		same(t, "limit", last[0], last[1], nil, nil)
		if last[0].status != http.StatusTooManyRequests || !strings.Contains(last[0].problem(t).Detail, "以降にお試しください") {
			t.Fatalf("sixth request in the hour: %d %s, want 429 naming the time", last[0].status, last[0].body)
		}
	})
}

// TestSignInThrottle: failed sign-ins slow down with the next allowed time
// on the page and in the API, alike for unknown identifiers; the owner's
// device that signed in before is not slowed; a password reset clears it.
func TestSignInThrottle(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.register(map[string]any{"username": "taro", "email": "taro@example.com", "password": goodPassword, "device_id": "taro-phone-0001-install"})
		var known, unknown *response
		for range 6 {
			known = h.do(request{method: "POST", path: "/api/v1/sessions", lang: "ja", json: map[string]any{"identifier": "@taro", "password": "wrong password guess 1"}})
			unknown = h.do(request{method: "POST", path: "/api/v1/sessions", lang: "ja", json: map[string]any{"identifier": "@ghost", "password": "wrong password guess 1"}})
		}
		same(t, "sixth failure", known, unknown, nil, nil)
		known = h.do(request{method: "POST", path: "/api/v1/sessions", lang: "ja", json: map[string]any{"identifier": "@taro", "password": goodPassword}})
		unknown = h.do(request{method: "POST", path: "/api/v1/sessions", lang: "ja", json: map[string]any{"identifier": "@ghost", "password": goodPassword}})
		same(t, "throttled", known, unknown, nil, nil)
		known.wantStatus(t, http.StatusTooManyRequests)
		p := known.problem(t)
		retry := t0.Add(30 * time.Second)
		wantTime := retry.In(time.FixedZone("JST", 9*3600)).Format("15:04:05") // under a minute: to the second
		if p.Key != "signin.throttled" || p.RetryAt == nil || !p.RetryAt.Equal(retry) || !strings.Contains(p.Detail, wantTime+" 以降にお試しください") {
			t.Fatalf("throttled answer %+v, want signin.throttled until %v (%s)", p, retry, wantTime)
		}
		if known.header.Get("Retry-After") != "30" {
			t.Errorf("Retry-After = %q", known.header.Get("Retry-After"))
		}
		// The page says the same.
		bf := h.browser()
		page := bf.post(h, "/signin", url.Values{"identifier": {"taro"}, "password": {goodPassword}})
		if page.status != http.StatusTooManyRequests || !strings.Contains(string(page.body), wantTime+" 以降にお試しください") {
			t.Fatalf("sign-in page: %d, want 429 naming %s", page.status, wantTime)
		}
		// The owner's own device is not slowed by the stranger's failures.
		own := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro", "password": goodPassword, "device_id": "taro-phone-0001-install"}})
		if own.status == http.StatusTooManyRequests {
			t.Fatalf("owner's device throttled: %s", own.body)
		}
		// After the delay the next try goes through to the password check.
		h.clock.Advance(30 * time.Second)
		h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro", "password": "still wrong guess"}}).wantStatus(t, http.StatusUnauthorized)
		h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro", "password": goodPassword}}).wantStatus(t, http.StatusTooManyRequests)
	})
}

// TestLoginHelpResetsPassword: a full-width "@" username, the code from the
// email, a new password; every session ends, the delay is gone, every
// contact is told, and the attempt cannot be used twice.
func TestLoginHelpResetsPassword(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		const phone = "taro-phone-0001-install"
		taro := registerTaroOn(h, phone)
		h.verifyContacts(taro.ID)
		for range 7 {
			h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro", "password": "not the password"}})
		}
		h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro", "password": goodPassword}}).
			wantStatus(t, http.StatusTooManyRequests)

		r := h.do(request{method: "POST", path: "/api/v1/recoveries", json: map[string]any{"identifier": "＠Ｔａｒｏ"}}).wantStatus(t, http.StatusAccepted)
		var rec struct{ ID, Step string }
		decode(t, r.body, &rec)
		code := h.sentCode("taro@example.com", "code.recovery")
		h.do(request{method: "POST", path: "/api/v1/recoveries/" + rec.ID + "/password", json: map[string]any{"password": otherPassword}}).
			wantStatus(t, http.StatusConflict)
		r = h.do(request{method: "POST", path: "/api/v1/recoveries/" + rec.ID + "/code", json: map[string]any{"code": code}}).wantStatus(t, http.StatusOK)
		decode(t, r.body, &rec)
		if rec.Step != "password" {
			t.Fatalf("after the code: step %q, want password", rec.Step)
		}
		if p := h.do(request{method: "POST", path: "/api/v1/recoveries/" + rec.ID + "/password", json: map[string]any{"password": "short"}}).
			wantStatus(t, http.StatusBadRequest).problem(t); p.Key != "password.too_short" {
			t.Fatalf("short password: %s", p.Key)
		}
		h.do(request{method: "POST", path: "/api/v1/recoveries/" + rec.ID + "/password", json: map[string]any{"password": otherPassword}}).wantStatus(t, http.StatusOK)
		if h.authorised(taro.Token) {
			t.Fatal("the old session survived the reset")
		}
		if st := h.signInStatus("taro", otherPassword, phone); st != http.StatusCreated {
			t.Fatalf("sign-in with the new password from taro's phone: %d", st)
		}
		if st := h.signInStatus("taro", goodPassword, phone); st != http.StatusUnauthorized {
			t.Fatalf("old password: %d", st)
		}
		for _, dest := range []string{"taro@example.com", "+819012345678"} {
			if h.countMessages(dest, "notice.password.changed") != 1 {
				t.Errorf("no password.changed notice to %s", dest)
			}
		}
		if p := h.do(request{method: "POST", path: "/api/v1/recoveries/" + rec.ID + "/password", json: map[string]any{"password": "a different long passphrase"}}).
			problem(t); p.Key != "recovery.step" {
			t.Fatalf("second reset with the same attempt: %s", p.Key)
		}
		acts := strings.Join(h.auditActions(taro.ID), " ")
		if !strings.Contains(acts, "recovery.started") || !strings.Contains(acts, "password.reset") {
			t.Errorf("audit %s", acts)
		}
	})
}

// TestContactChangeTakeover is seed 004's comment: an attacker with the
// password changes the email, then the password; the owner's "this wasn't
// me" link, sent to the old address, gets the account back.
func TestContactChangeTakeover(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		const phone = "taro-phone-0001-install"
		owner := registerTaroOn(h, phone)
		h.verifyContacts(owner.ID)
		// The attacker holds a session of the account (stolen, or signed in
		// with the password from a device that passed the checks).
		attacker := owner

		change := func(pw string) *response {
			return h.do(request{method: "POST", path: "/api/v1/contact-changes", bearer: attacker.Token,
				json: map[string]any{"kind": "email", "value": "evil@example.net", "password": pw}})
		}
		// A wrong password changes nothing but the audit log, where it is a
		// failed re-authentication as on every other sensitive change.
		before := h.snapshot()
		if p := change("guessing the password").wantStatus(t, http.StatusUnauthorized).problem(t); p.Key != "reauth.wrong_password" {
			t.Fatalf("wrong password: %s", p.Key)
		}
		want := before
		want.Audit++
		h.unchanged(want)
		if acts := h.auditActions(owner.ID); acts[len(acts)-1] != monban.AuditReauthFailed {
			t.Fatalf("audit ends %v, want %s", acts[len(acts)-1:], monban.AuditReauthFailed)
		}
		if n := h.countMessages("evil@example.net", "code.contact_change"); n != 0 {
			t.Fatalf("%d codes sent to the new address after a wrong password", n)
		}
		r := change(goodPassword).wantStatus(t, http.StatusCreated)
		var chg struct {
			ID, Destination string
			Completed       bool
		}
		decode(t, r.body, &chg)
		if chg.Destination != "e***@example.net" || chg.Completed {
			t.Fatalf("change %+v", chg)
		}
		code := h.sentCode("evil@example.net", "code.contact_change")
		h.do(request{method: "POST", path: "/api/v1/contact-changes/" + chg.ID + "/verify", bearer: attacker.Token,
			json: map[string]any{"code": code}}).wantStatus(t, http.StatusOK)
		if h.countMessages("evil@example.net", "notice.contact.changed") != 0 {
			t.Error("the new address got the undo link")
		}
		restore, _ := h.sentParams("taro@example.com", "notice.contact.changed")["restore_url"].(string)
		if phone, _ := h.sentParams("+819012345678", "notice.contact.changed")["restore_url"].(string); phone != restore || restore == "" {
			t.Fatalf("restore links %q / %q", restore, phone)
		}
		token := restore[strings.LastIndex(restore, "/")+1:]

		// The attacker now resets the password through the new address.
		r = h.do(request{method: "POST", path: "/api/v1/recoveries", json: map[string]any{"identifier": "evil@example.net"}}).wantStatus(t, http.StatusAccepted)
		var rec struct{ ID, Step string }
		decode(t, r.body, &rec)
		h.do(request{method: "POST", path: "/api/v1/recoveries/" + rec.ID + "/code", json: map[string]any{"code": h.sentCode("evil@example.net", "code.recovery")}}).wantStatus(t, http.StatusOK)
		h.do(request{method: "POST", path: "/api/v1/recoveries/" + rec.ID + "/password", json: map[string]any{"password": "attacker owns this account now"}}).wantStatus(t, http.StatusOK)
		if st := h.signInStatus("evil@example.net", "attacker owns this account now", ""); st != http.StatusAccepted && st != http.StatusCreated {
			t.Fatalf("the attacker's new password: %d", st)
		}

		// Days later the owner follows the link from the old address.
		h.clock.Advance(3 * 24 * time.Hour)
		r = h.do(request{method: "POST", path: "/api/v1/contact-changes/undo", json: map[string]any{"token": token}}).wantStatus(t, http.StatusOK)
		decode(t, r.body, &rec)
		if rec.Step != "code" {
			t.Fatalf("after undo: step %q", rec.Step)
		}
		if h.snapshot().ActiveSessions != 0 {
			t.Fatal("a session survived the undo")
		}
		if st := h.signInStatus("evil@example.net", "attacker owns this account now", ""); st != http.StatusUnauthorized {
			t.Fatalf("attacker's address after undo: %d", st)
		}
		if st := h.signInStatus("taro@example.com", "attacker owns this account now", ""); st != http.StatusUnauthorized {
			t.Fatalf("attacker's password after undo: %d", st)
		}
		h.do(request{method: "POST", path: "/api/v1/recoveries/" + rec.ID + "/code", json: map[string]any{"code": h.sentCode("taro@example.com", "code.recovery")}}).wantStatus(t, http.StatusOK)
		h.do(request{method: "POST", path: "/api/v1/recoveries/" + rec.ID + "/password", json: map[string]any{"password": otherPassword}}).wantStatus(t, http.StatusOK)
		if st := h.signInStatus("taro@example.com", otherPassword, phone); st != http.StatusCreated {
			t.Fatalf("owner signs in from their phone: %d", st)
		}
		// The link works once, and not after 14 days.
		if p := h.do(request{method: "POST", path: "/api/v1/contact-changes/undo", json: map[string]any{"token": token}}).
			wantStatus(t, http.StatusBadRequest).problem(t); p.Key != "undo.invalid" {
			t.Fatalf("second undo: %s", p.Key)
		}
		acts := strings.Join(h.auditActions(owner.ID), " ")
		for _, a := range []string{"contact.changed", "contact.change_undone", "password.reset"} {
			if !strings.Contains(acts, a) {
				t.Errorf("audit lacks %s: %s", a, acts)
			}
		}
	})
}

// TestUndoLinkExpires: fourteen days, then the link is refused and changes
// nothing.
func TestUndoLinkExpires(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		owner := registerTaro(h)
		h.verifyContacts(owner.ID)
		r := h.do(request{method: "POST", path: "/api/v1/contact-changes", bearer: owner.Token,
			json: map[string]any{"kind": "phone", "value": "080-2222-3333", "password": goodPassword}}).wantStatus(t, http.StatusCreated)
		var chg struct{ ID string }
		decode(t, r.body, &chg)
		h.do(request{method: "POST", path: "/api/v1/contact-changes/" + chg.ID + "/verify", bearer: owner.Token,
			json: map[string]any{"code": h.sentCode("+818022223333", "code.contact_change")}}).wantStatus(t, http.StatusOK)
		restore, _ := h.sentParams("+819012345678", "notice.contact.changed")["restore_url"].(string)
		token := restore[strings.LastIndex(restore, "/")+1:]
		h.clock.Advance(14*24*time.Hour + time.Second)
		before := h.snapshot()
		bf := h.browser()
		page := bf.get(h, "/help/undo/"+token)
		if page.status != http.StatusBadRequest || !strings.Contains(string(page.body), "期限") {
			t.Fatalf("expired link page: %d", page.status)
		}
		h.do(request{method: "POST", path: "/api/v1/contact-changes/undo", json: map[string]any{"token": token}}).wantStatus(t, http.StatusBadRequest)
		h.unchanged(before) // sessions included: none was revoked
	})
}
