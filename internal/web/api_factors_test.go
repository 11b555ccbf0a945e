package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
)

// Managing second factors from an app (api_factors.go): the same rules,
// audit entries and notices as the security page.

// factorState is what a factor change may touch, beyond the snapshot.
type factorState struct {
	Factors, Confirmed, RecoveryCodes, Notices int
	TwoStep                                    bool
}

func (h *harness) factorState(accountID string) factorState {
	h.t.Helper()
	s := factorState{
		Factors:       h.count("SELECT COUNT(*) FROM factors WHERE account_id = ?", accountID),
		Confirmed:     h.count("SELECT COUNT(*) FROM factors WHERE account_id = ? AND confirmed_at <> 0", accountID),
		RecoveryCodes: h.count("SELECT COUNT(*) FROM recovery_codes WHERE account_id = ?", accountID),
		Notices:       h.count("SELECT COUNT(*) FROM notices WHERE account_id = ?", accountID),
	}
	s.TwoStep = h.count("SELECT COUNT(*) FROM accounts WHERE id = ? AND two_step = TRUE", accountID) == 1
	return s
}

type factorList struct {
	TwoStep bool `json:"two_step"`
	Factors []struct {
		ID, Kind, Name string
		Remaining      *int `json:"remaining"`
	} `json:"factors"`
}

func (h *harness) factors(token string) factorList {
	h.t.Helper()
	var l factorList
	decode(h.t, h.do(request{method: "GET", path: "/api/v1/factors", bearer: token}).wantStatus(h.t, http.StatusOK).body, &l)
	return l
}

// beginTOTP starts adding an authenticator app and returns its id and
// secret.
func (h *harness) beginTOTP(token string) (id, secret string) {
	h.t.Helper()
	var en struct {
		ID, Secret string
		OtpauthURI string `json:"otpauth_uri"`
	}
	decode(h.t, h.do(request{method: "POST", path: "/api/v1/factors/totp", bearer: token}).
		wantStatus(h.t, http.StatusCreated).body, &en)
	if en.ID == "" || en.Secret == "" {
		h.t.Fatalf("enrolment %+v", en)
	}
	return en.ID, en.Secret
}

// wantProblem checks a problem+json answer's status and message key.
func wantProblem(t *testing.T, r *response, status int, key string) {
	t.Helper()
	if p := r.wantStatus(t, status).problem(t); p.Key != key {
		t.Errorf("problem key %q, want %q (%s)", p.Key, key, p.Detail)
	}
}

// TestFactorsAPITOTPTwoStep: an app adds an authenticator app (nothing
// counts until its first code; a wrong code changes nothing), turns 2-step
// on, and the next sign-in needs a code from that app.
func TestFactorsAPITOTPTwoStep(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		const device = "taro-phone-0001-install"
		taro := registerTaroOn(h, device)
		h.verifyContacts(taro.ID)

		r := h.do(request{method: "POST", path: "/api/v1/factors/totp", bearer: taro.Token}).wantStatus(t, http.StatusCreated)
		var en struct {
			ID, Secret string
			OtpauthURI string `json:"otpauth_uri"`
		}
		decode(t, r.body, &en)
		u, err := url.Parse(en.OtpauthURI)
		if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != en.Secret || !strings.HasPrefix(en.ID, "fac") {
			t.Fatalf("enrolment %s", r.body)
		}
		// Not active yet: not listed, 2-step cannot rely on it.
		if l := h.factors(taro.Token); len(l.Factors) != 0 || l.TwoStep {
			t.Fatalf("before the first code: %+v", l)
		}

		before, state := h.snapshot(), h.factorState(taro.ID)
		for _, lang := range []string{"ja", "en"} {
			r = h.do(request{method: "POST", path: "/api/v1/factors/totp/" + en.ID + "/confirm", bearer: taro.Token, lang: lang,
				json: map[string]any{"code": "000000", "name": "Pixel"}})
			wantProblem(t, r, http.StatusUnauthorized, "totp.wrong")
			if p := r.problem(t); p.Field != "code" || (lang == "ja") == strings.Contains(p.Detail, "code") {
				t.Errorf("%s problem %+v", lang, p)
			}
		}
		h.unchanged(before)
		if got := h.factorState(taro.ID); got != state {
			t.Errorf("a wrong code changed %+v to %+v", state, got)
		}

		r = h.do(request{method: "POST", path: "/api/v1/factors/totp/" + en.ID + "/confirm", bearer: taro.Token,
			json: map[string]any{"code": h.totpCode(en.Secret), "name": "Pixel"}}).wantStatus(t, http.StatusOK)
		var l factorList
		decode(t, r.body, &l)
		if len(l.Factors) != 1 || l.Factors[0].ID != en.ID || l.Factors[0].Kind != "totp" || l.Factors[0].Name != "Pixel" {
			t.Fatalf("after confirming: %s", r.body)
		}
		if strings.Contains(string(r.body), en.Secret) || strings.Contains(string(h.do(request{method: "GET",
			path: "/api/v1/factors", bearer: taro.Token}).body), en.Secret) {
			t.Error("the factor list shows the secret")
		}
		if got := h.auditActions(taro.ID); !slices.Equal(got[len(got)-2:], []string{monban.AuditFactorAdded, monban.AuditFactorRenamed}) {
			t.Errorf("audit %v does not end with the factor added and named", got)
		}
		if h.countMessages("taro@example.com", "notice.factor.changed") != 1 || h.countMessages("+819012345678", "notice.factor.changed") != 1 {
			t.Error("no factor.changed notice by email and SMS")
		}
		// Confirming again is refused.
		wantProblem(t, h.do(request{method: "POST", path: "/api/v1/factors/totp/" + en.ID + "/confirm", bearer: taro.Token,
			json: map[string]any{"code": h.totpCode(en.Secret)}}), http.StatusConflict, "totp.already_confirmed")

		r = h.do(request{method: "PUT", path: "/api/v1/two-step", bearer: taro.Token, json: map[string]any{"on": true}})
		if decode(t, r.wantStatus(t, http.StatusOK).body, &l); !l.TwoStep {
			t.Fatalf("2-step not on: %s", r.body)
		}

		// The next sign-in, even from the known device, waits for the app.
		r = h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro",
			"password": goodPassword, "device_id": device}}).wantStatus(t, http.StatusAccepted)
		p := r.object(t)["pending_signin"].(map[string]any)
		if p["reason"] != "two_step" || !slices.Contains(p["ways"].([]any), any("totp")) {
			t.Fatalf("pending sign-in %v", p)
		}
		verify := func(code string) *response {
			return h.do(request{method: "POST", path: "/api/v1/signins/" + p["id"].(string) + "/verify",
				json: map[string]any{"secret": p["secret"], "method": "totp", "code": code}})
		}
		wantProblem(t, verify("000000"), http.StatusUnauthorized, "totp.wrong")
		h.clock.Advance(30 * time.Second) // the confirming code's step is spent
		if a := accountOf(t, verify(h.totpCode(en.Secret)).wantStatus(t, http.StatusCreated)); a.ID != taro.ID {
			t.Errorf("signed in as %s", a.ID)
		}
	})
}

// TestFactorsAPITwoStepCodesOnly: without an app or passkey, turning 2-step
// on needs codes_only, the API's form of the page's warning.
func TestFactorsAPITwoStepCodesOnly(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaro(h)
		h.verifyContacts(taro.ID)
		state := h.factorState(taro.ID)
		wantProblem(t, h.do(request{method: "PUT", path: "/api/v1/two-step", bearer: taro.Token, json: map[string]any{"on": true}}),
			http.StatusConflict, "twostep.codes_only")
		wantProblem(t, h.do(request{method: "PUT", path: "/api/v1/two-step", bearer: taro.Token, json: map[string]any{}}),
			http.StatusBadRequest, "request.field_missing")
		if got := h.factorState(taro.ID); got != state {
			t.Errorf("refusals changed %+v to %+v", state, got)
		}
		var l factorList
		decode(t, h.do(request{method: "PUT", path: "/api/v1/two-step", bearer: taro.Token,
			json: map[string]any{"on": true, "codes_only": true}}).wantStatus(t, http.StatusOK).body, &l)
		if !l.TwoStep || !slices.Contains(h.auditActions(taro.ID), monban.AuditTwoStepOn) {
			t.Errorf("2-step on with codes: %+v, audit %v", l, h.auditActions(taro.ID))
		}
	})
}

// TestFactorsAPIRecoveryCodes: new codes are shown once and void the old
// set: an old code no longer finishes a sign-in, a new one does.
func TestFactorsAPIRecoveryCodes(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := heldFixture(h)
		newCodes := func() []string {
			var c struct{ Codes []string }
			r := h.do(request{method: "POST", path: "/api/v1/factors/recovery-codes", bearer: taro.Token}).wantStatus(t, http.StatusCreated)
			if r.header.Get("Cache-Control") != "no-store" {
				t.Error("recovery codes may be cached")
			}
			if decode(t, r.body, &c); len(c.Codes) != 10 {
				t.Fatalf("codes %s", r.body)
			}
			return c.Codes
		}
		old := newCodes()
		fresh := newCodes()
		if slices.Contains(fresh, old[0]) {
			t.Fatal("the new set repeats an old code")
		}
		st := h.factorState(taro.ID)
		if st.RecoveryCodes != 10 || st.Factors != 1 || st.Notices != 2 {
			t.Errorf("after two sets: %+v", st)
		}
		if l := h.factors(taro.Token); len(l.Factors) != 1 || l.Factors[0].Remaining == nil || *l.Factors[0].Remaining != 10 {
			t.Errorf("list %+v", l)
		}
		if n := strings.Count(strings.Join(h.auditActions(taro.ID), " "), monban.AuditRecoveryCodesNew); n != 2 {
			t.Errorf("%d %s audit entries, want 2", n, monban.AuditRecoveryCodesNew)
		}

		// A new device is held (verified email); codes finish it.
		r := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro",
			"password": goodPassword, "device_id": "new-phone-device-0001"}}).wantStatus(t, http.StatusAccepted)
		p := r.object(t)["pending_signin"].(map[string]any)
		verify := func(code string) *response {
			return h.do(request{method: "POST", path: "/api/v1/signins/" + p["id"].(string) + "/verify",
				json: map[string]any{"secret": p["secret"], "method": "recovery_code", "code": code}})
		}
		wantProblem(t, verify(old[0]), http.StatusUnauthorized, "recovery_code.wrong")
		accountOf(t, verify(fresh[0]).wantStatus(t, http.StatusCreated))
	})
}

// TestFactorsAPIReauth: after the recent-sign-in window, removing a factor
// needs the password again, exactly as the security page does; removing
// the last app turns 2-step off and tells the person.
func TestFactorsAPIReauth(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaro(h)
		id, secret := h.beginTOTP(taro.Token)
		h.do(request{method: "POST", path: "/api/v1/factors/totp/" + id + "/confirm", bearer: taro.Token,
			json: map[string]any{"code": h.totpCode(secret)}}).wantStatus(t, http.StatusOK)
		h.do(request{method: "PUT", path: "/api/v1/two-step", bearer: taro.Token, json: map[string]any{"on": true}}).
			wantStatus(t, http.StatusOK)
		// A browser signs in too (a remembered device, so its second step
		// is the app's code).
		b := newBrowser(h)
		b.knownDevice(taro.ID)
		tok := b.form("/signin")
		b.post("/signin", url.Values{"csrf": {tok}, "identifier": {"taro"}, "password": {goodPassword}}, nil).wantStatus(t, http.StatusSeeOther)
		h.clock.Advance(30 * time.Second)
		tok = b.form("/signin/verify")
		b.post("/signin/verify", url.Values{"csrf": {tok}, "method": {"totp"}, "code": {h.totpCode(secret)}}, nil).wantStatus(t, http.StatusSeeOther)

		h.clock.Advance(11 * time.Minute)
		before, state := h.snapshot(), h.factorState(taro.ID)
		// The page sends the browser to re-authenticate …
		tok = b.form("/account/security")
		r := b.post("/account/factors/"+id+"/remove", url.Values{"csrf": {tok}}, nil).wantStatus(t, http.StatusSeeOther)
		if !strings.HasPrefix(r.header.Get("Location"), "/account/reauth") {
			t.Fatalf("page went to %s, want /account/reauth", r.header.Get("Location"))
		}
		// … and the API refuses the same change the same way.
		for _, rq := range []request{
			{method: "DELETE", path: "/api/v1/factors/" + id},
			{method: "POST", path: "/api/v1/factors/totp"},
			{method: "POST", path: "/api/v1/factors/recovery-codes"},
			{method: "PUT", path: "/api/v1/two-step", json: map[string]any{"on": false}},
		} {
			rq.bearer = taro.Token
			wantProblem(t, h.do(rq), http.StatusForbidden, "reauth.required")
		}
		wantProblem(t, h.do(request{method: "POST", path: "/api/v1/session/reauth", bearer: taro.Token,
			json: map[string]any{"password": otherPassword}}), http.StatusUnauthorized, "reauth.wrong_password")
		before.Audit++ // the wrong password is audited, nothing else
		h.unchanged(before)
		if got := h.factorState(taro.ID); got != state {
			t.Errorf("refusals changed %+v to %+v", state, got)
		}

		r = h.do(request{method: "POST", path: "/api/v1/session/reauth", bearer: taro.Token,
			json: map[string]any{"password": goodPassword}}).wantStatus(t, http.StatusOK)
		if until := r.object(t)["recent_until"]; until != h.clock.Now().Add(10*time.Minute).UTC().Format(time.RFC3339) {
			t.Errorf("recent_until %v", until)
		}
		var l factorList
		decode(t, h.do(request{method: "DELETE", path: "/api/v1/factors/" + id, bearer: taro.Token}).wantStatus(t, http.StatusOK).body, &l)
		if l.TwoStep || len(l.Factors) != 0 {
			t.Errorf("after removing the last app: %+v", l)
		}
		got := h.auditActions(taro.ID)
		if !slices.Equal(got[len(got)-2:], []string{monban.AuditReauthenticated, monban.AuditFactorRemoved}) {
			t.Errorf("audit ends %v", got[len(got)-2:])
		}
		if st := h.factorState(taro.ID); st.TwoStep || st.Factors != 0 || st.Notices != state.Notices+1 {
			t.Errorf("after removal %+v (before %+v)", st, state)
		}
		wantProblem(t, h.do(request{method: "DELETE", path: "/api/v1/factors/" + id, bearer: taro.Token}), http.StatusNotFound, "factor.not_found")
	})
}

// TestFactorsAPIOtherAccount: another account's factor id is not found,
// whatever the change, and nothing of either account changes.
func TestFactorsAPIOtherAccount(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaro(h)
		hanako := h.register(map[string]any{"username": "hanako", "password": goodPassword})
		pending, _ := h.beginTOTP(hanako.Token)
		id, secret := h.beginTOTP(hanako.Token)
		h.do(request{method: "POST", path: "/api/v1/factors/totp/" + id + "/confirm", bearer: hanako.Token,
			json: map[string]any{"code": h.totpCode(secret)}}).wantStatus(t, http.StatusOK)
		before, taroState, hanakoState := h.snapshot(), h.factorState(taro.ID), h.factorState(hanako.ID)
		tests := []struct {
			name string
			req  request
		}{
			{"remove", request{method: "DELETE", path: "/api/v1/factors/" + id}},
			{"rename", request{method: "PATCH", path: "/api/v1/factors/" + id, json: map[string]any{"name": "mine"}}},
			{"confirm", request{method: "POST", path: "/api/v1/factors/totp/" + pending + "/confirm", json: map[string]any{"code": h.totpCode(secret)}}},
			{"remove unknown", request{method: "DELETE", path: "/api/v1/factors/fac_nonexistent"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.req.bearer = taro.Token
				wantProblem(t, h.do(tt.req), http.StatusNotFound, "factor.not_found")
			})
		}
		h.unchanged(before)
		if got := h.factorState(taro.ID); got != taroState {
			t.Errorf("taro %+v, was %+v", got, taroState)
		}
		if got := h.factorState(hanako.ID); got != hanakoState {
			t.Errorf("hanako %+v, was %+v", got, hanakoState)
		}
		if l := h.factors(hanako.Token); len(l.Factors) != 1 || l.Factors[0].Name != "Authenticator" {
			t.Errorf("hanako's factors %+v", l)
		}
	})
}

// TestFactorsAPIPasskey: registration starts with WebAuthn creation
// options for this relying party; a response that is not an attestation is
// refused and adds nothing, and its ceremony is spent. (No software
// authenticator in the tests: the browser journey J4 registers a real one.)
func TestFactorsAPIPasskey(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaro(h)
		r := h.do(request{method: "POST", path: "/api/v1/factors/passkeys/options", bearer: taro.Token}).wantStatus(t, http.StatusOK)
		var opts struct {
			CeremonyID string `json:"ceremony_id"`
			PublicKey  struct {
				Challenge string
				RP        struct{ ID string }
				User      struct{ ID, Name string }
				Selection struct {
					ResidentKey      string `json:"residentKey"`
					UserVerification string `json:"userVerification"`
				} `json:"authenticatorSelection"`
			} `json:"publicKey"`
		}
		decode(t, r.body, &opts)
		pk := opts.PublicKey
		if opts.CeremonyID == "" || len(pk.Challenge) < 32 || pk.RP.ID != "monban.localhost" || pk.User.ID == "" || pk.User.Name != "taro" ||
			pk.Selection.ResidentKey != "required" || pk.Selection.UserVerification != "required" {
			t.Fatalf("creation options %s", r.body)
		}

		before, state := h.snapshot(), h.factorState(taro.ID)
		finish := func(body string) *response {
			return h.do(request{method: "POST", path: "/api/v1/factors/passkeys", bearer: taro.Token, body: body})
		}
		wantProblem(t, finish(`{"ceremony_id": "`+opts.CeremonyID+`", "credential": `), http.StatusBadRequest, "request.malformed_json")
		wantProblem(t, finish(`{"ceremony_id": "`+opts.CeremonyID+`", "credential": {"id": "AAAA", "type": "public-key", "response": {}}}`),
			http.StatusUnauthorized, "passkey.failed")
		wantProblem(t, finish(`{"ceremony_id": "`+opts.CeremonyID+`", "credential": {}}`), http.StatusBadRequest, "passkey.expired")
		h.unchanged(before)
		if got := h.factorState(taro.ID); got != state {
			t.Errorf("failed registrations changed %+v to %+v", state, got)
		}
	}, func(c *node.Config) { c.PublicURL = "http://monban.localhost:8080" })
}

// TestFactorsAPIPasskeysOff: a dev server whose public URL is an IP
// address (outside dev mode it would not start), or one with passkeys: off,
// has no relying party and says so.
func TestFactorsAPIPasskeysOff(t *testing.T) {
	for name, edit := range map[string]func(*node.Config){
		"IP in dev":    func(c *node.Config) { c.PublicURL = "http://127.0.0.1:8080" },
		"passkeys off": func(c *node.Config) { c.Passkeys = "off" },
	} {
		t.Run(name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, h *harness) {
				taro := registerTaro(h)
				wantProblem(t, h.do(request{method: "POST", path: "/api/v1/factors/passkeys/options", bearer: taro.Token}),
					http.StatusBadRequest, "passkey.unavailable")
			}, edit)
		})
	}
}

// TestFactorsAPISession: every factor route needs the app's session.
func TestFactorsAPISession(t *testing.T) {
	routes := []request{
		{method: "GET", path: "/api/v1/factors"},
		{method: "POST", path: "/api/v1/session/reauth", json: map[string]any{"password": goodPassword}},
		{method: "POST", path: "/api/v1/factors/totp"},
		{method: "POST", path: "/api/v1/factors/totp/fac_x/confirm", json: map[string]any{"code": "123456"}},
		{method: "POST", path: "/api/v1/factors/recovery-codes"},
		{method: "POST", path: "/api/v1/factors/passkeys/options"},
		{method: "POST", path: "/api/v1/factors/passkeys", json: map[string]any{"ceremony_id": "cer_x", "credential": map[string]any{}}},
		{method: "PATCH", path: "/api/v1/factors/fac_x", json: map[string]any{"name": "x"}},
		{method: "DELETE", path: "/api/v1/factors/fac_x"},
		{method: "PUT", path: "/api/v1/two-step", json: map[string]any{"on": false}},
	}
	eachDB(t, func(t *testing.T, h *harness) {
		registerTaro(h)
		before := h.snapshot()
		for _, rq := range routes {
			t.Run(rq.method+" "+rq.path, func(t *testing.T) {
				wantProblem(t, h.do(rq), http.StatusUnauthorized, "session.missing")
				rq.bearer = "mbs_not-a-session"
				wantProblem(t, h.do(rq), http.StatusUnauthorized, "session.invalid")
			})
		}
		h.unchanged(before)
	})
}
