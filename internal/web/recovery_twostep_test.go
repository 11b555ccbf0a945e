package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/monban-dev/monban/internal/factors"
)

// enrolTOTP gives the account a confirmed authenticator app and 2-step on,
// as the security page would, and returns the app's secret.
func (h *harness) enrolTOTP(accountID string) string {
	h.t.Helper()
	ctx := context.Background()
	a := factors.Actor{AccountID: accountID, SessionID: "ses_test", AuthAt: h.clock.Now()}
	en, err := h.n.Factors.EnrolTOTP(ctx, a, "taro")
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.n.Factors.ConfirmTOTP(ctx, a, en.FactorID, h.totpCode(en.Secret), "phone app"); err != nil {
		h.t.Fatal(err)
	}
	if err := h.n.Factors.SetTwoStep(ctx, a, true); err != nil {
		h.t.Fatal(err)
	}
	return en.Secret
}

func (h *harness) totpCode(secret string) string {
	h.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, h.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) recoveryStep(id string, path string, body map[string]any, want int) string {
	h.t.Helper()
	r := h.do(request{method: "POST", path: "/api/v1/recoveries/" + id + path, json: body}).wantStatus(h.t, want)
	if want != http.StatusOK {
		return ""
	}
	var rec struct{ Step string }
	decode(h.t, r.body, &rec)
	return rec.Step
}

// TestLoginHelpTwoStep: with 2-step on, the emailed code alone is not
// enough (two independent proofs, NIST SP 800-63B-4 §4.2); the
// authenticator app or a recovery code is the second, and the new password
// may then be as short as 8 characters.
func TestLoginHelpTwoStep(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaroOn(h, "taro-phone-0001-install")
		h.verifyContacts(taro.ID)
		secret := h.enrolTOTP(taro.ID)
		h.clock.Advance(time.Minute)

		r := h.do(request{method: "POST", path: "/api/v1/recoveries", json: map[string]any{"identifier": "taro", "channel": "sms"}}).
			wantStatus(t, http.StatusAccepted)
		var rec struct{ ID string }
		decode(t, r.body, &rec)
		if step := h.recoveryStep(rec.ID, "/code", map[string]any{"code": h.sentCode("+819012345678", "code.recovery")}, http.StatusOK); step != "second" {
			t.Fatalf("after the SMS code: step %q, want second", step)
		}
		// The code alone cannot set a password.
		h.recoveryStep(rec.ID, "/password", map[string]any{"password": otherPassword}, http.StatusConflict)
		h.recoveryStep(rec.ID, "/second", map[string]any{"kind": "totp", "code": "000000"}, http.StatusUnauthorized)
		if step := h.recoveryStep(rec.ID, "/second", map[string]any{"kind": "totp", "code": h.totpCode(secret)}, http.StatusOK); step != "password" {
			t.Fatalf("after the app's code: step %q", step)
		}
		h.recoveryStep(rec.ID, "/password", map[string]any{"password": "plum tea"}, http.StatusOK)
		if st := h.signInStatus("taro", "plum tea", "taro-phone-0001-install"); st != http.StatusAccepted && st != http.StatusCreated {
			t.Fatalf("sign-in with the 8-character password: %d", st)
		}
	})
}

// TestUndoRemovesAttackerFactors: an attacker who changed the email and
// then turned 2-step on with their own app cannot keep the owner out: the
// undo removes what was added since the change and 2-step goes off.
func TestUndoRemovesAttackerFactors(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		owner := registerTaroOn(h, "taro-phone-0001-install")
		h.verifyContacts(owner.ID)
		r := h.do(request{method: "POST", path: "/api/v1/contact-changes", bearer: owner.Token,
			json: map[string]any{"kind": "email", "value": "evil@example.net", "password": goodPassword}}).wantStatus(t, http.StatusCreated)
		var chg struct{ ID string }
		decode(t, r.body, &chg)
		h.do(request{method: "POST", path: "/api/v1/contact-changes/" + chg.ID + "/verify", bearer: owner.Token,
			json: map[string]any{"code": h.sentCode("evil@example.net", "code.contact_change")}}).wantStatus(t, http.StatusOK)
		h.clock.Advance(time.Minute)
		h.enrolTOTP(owner.ID)
		restore, _ := h.sentParams("taro@example.com", "notice.contact.changed")["restore_url"].(string)
		token := restore[len(restore)-43:]
		r = h.do(request{method: "POST", path: "/api/v1/contact-changes/undo", json: map[string]any{"token": token}}).wantStatus(t, http.StatusOK)
		var rec struct{ ID string }
		decode(t, r.body, &rec)
		var factorsLeft int
		if err := h.raw.QueryRow(rebind(h, "SELECT COUNT(*) FROM factors WHERE account_id = ?"), owner.ID).Scan(&factorsLeft); err != nil {
			t.Fatal(err)
		}
		if factorsLeft != 0 {
			t.Fatalf("%d factors left after the undo", factorsLeft)
		}
		if step := h.recoveryStep(rec.ID, "/code", map[string]any{"code": h.sentCode("taro@example.com", "code.recovery")}, http.StatusOK); step != "password" {
			t.Fatalf("after the code: step %q, want password (2-step off again)", step)
		}
	})
}
