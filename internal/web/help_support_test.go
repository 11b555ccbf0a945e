package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestLoginHelpLeadsToSupport: where login help cannot go on — no code
// arrives, or 2-step is on and neither the app nor a recovery code is at
// hand — the page links to a support request without sign-in, the
// category chosen; the form it opens has it selected.
func TestLoginHelpLeadsToSupport(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaroOn(h, "taro-phone-0002-install")
		h.verifyContacts(taro.ID)
		h.enrolTOTP(taro.ID)
		h.clock.Advance(time.Minute)
		const link = `href="/support/new?category=cant_sign_in"`

		b := newBrowser(h)
		b.lang = "ja"
		csrf := b.form("/help/signin")
		r := b.post("/help/signin", url.Values{"csrf": {csrf}, "identifier": {"taro"}, "channel": {"sms"}}, nil).
			wantStatus(t, http.StatusSeeOther)
		step := r.header.Get("Location")
		page := b.do(request{method: "GET", path: step}).wantStatus(t, http.StatusOK)
		if !strings.Contains(string(page.body), `name="code"`) || !strings.Contains(string(page.body), link) {
			t.Fatalf("the code step offers no support request:\n%s", page.body)
		}
		csrf = csrfField.FindStringSubmatch(string(page.body))[1]
		b.post(step+"/code", url.Values{"csrf": {csrf}, "code": {h.sentCode("+819012345678", "code.recovery")}}, nil).
			wantStatus(t, http.StatusSeeOther)
		page = b.do(request{method: "GET", path: step}).wantStatus(t, http.StatusOK)
		if !strings.Contains(string(page.body), `id="verify-recovery-code"`) || !strings.Contains(string(page.body), link) {
			t.Fatalf("the 2-step step offers no support request:\n%s", page.body)
		}
		form := b.do(request{method: "GET", path: "/support/new?category=cant_sign_in"}).wantStatus(t, http.StatusOK)
		if !strings.Contains(string(form.body), `<option value="cant_sign_in" selected>`) {
			t.Fatalf("the support form does not preselect cant_sign_in:\n%s", form.body)
		}
	})
}
