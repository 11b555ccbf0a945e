package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban/internal/throttle"
)

// TestSecretLockPasswordSharesBudget: the lock's password way out spends
// the password's budget of the session's device, shared with the sign-in
// form on that device; a stranger's counter is another.
func TestSecretLockPasswordSharesBudget(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := lockedTaro(t, h, false) // on ownerDevice
		signIn := func(device, pw string) *response {
			return h.do(request{method: "POST", path: "/api/v1/sessions", lang: "en",
				json: map[string]any{"identifier": "taro", "password": pw, "device_id": device}})
		}
		unlock := func(pw string) *response {
			return h.do(request{method: "POST", path: "/api/v1/lock/password", bearer: taro.Token, lang: "en", json: map[string]any{"password": pw}})
		}
		free := throttle.DefaultPolicy.Free + 1
		for i := range free {
			if i%2 == 0 {
				signIn(ownerDevice, wrongPassword(i)).wantStatus(t, http.StatusUnauthorized)
			} else {
				wantProblem(t, unlock(wrongPassword(i)), http.StatusUnauthorized, "lock.password_wrong")
			}
		}
		wantThrottled(t, h, unlock(goodPassword), "signin.throttled")
		wantThrottled(t, h, signIn(ownerDevice, goodPassword), "signin.throttled")
		if !h.lockOf(taro.Token, "en").Locked {
			t.Fatal("a refused try lifted the lock")
		}
		signIn("", wrongPassword(99)).wantStatus(t, http.StatusUnauthorized)
		h.clock.Advance(time.Minute)
		unlock(goodPassword).wantStatus(t, http.StatusOK)
		if h.lockOf(taro.Token, "en").Locked {
			t.Fatal("the right password after the delay did not lift the lock")
		}
	})
}

// TestSecretPhoneBehindMask: the full number behind the masked one is a
// guess: five wrong numbers are free, the sixth is still checked, then each
// waits, in the person's language with the time and the support desk; a
// malformed number spends nothing; the owner's right number works once the
// delay is over.
func TestSecretPhoneBehindMask(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.verifyContacts(registerTaroOn(h, "taro-old-phone-0001").ID)
		id, secret := transferAPI(t, h, false)
		check := func(phone, lang string) *response {
			return h.do(request{method: "POST", path: "/api/v1/transfers/" + id + "/phone", lang: lang,
				json: map[string]any{"secret": secret, "phone": phone}})
		}
		for i := range throttle.PhonePolicy.Free + 1 {
			wantProblem(t, check("12", "en"), http.StatusBadRequest, "transfer.phone_invalid")
			if m := check(wrongPhone(i), "en").wantStatus(t, http.StatusOK).object(t); m["matches"] != false {
				t.Fatalf("wrong number %d: %v", i+1, m)
			}
		}
		for _, tc := range []struct{ lang, support string }{{"en", "support can help"}, {"ja", "サポート窓口"}} {
			r := check("09012345678", tc.lang)
			wantThrottled(t, h, r, "transfer.phone_throttled")
			if d := r.problem(t).Detail; !strings.Contains(d, "/support/new?category=transfer") || !strings.Contains(d, tc.support) {
				t.Errorf("%s detail %q names no support", tc.lang, d)
			}
		}
		wantProblem(t, check("12", "en"), http.StatusBadRequest, "transfer.phone_invalid")
		h.clock.Advance(30 * time.Second)
		if m := check("09012345678", "en").wantStatus(t, http.StatusOK).object(t); m["matches"] != true {
			t.Fatalf("the right number after the delay: %v", m)
		}
	})
}

// TestSecretDeskUnknownAgentAlike: a username that names no agent is
// throttled on a counter of its own exactly like an agent's: the same
// answers at the same tries.
func TestSecretDeskUnknownAgentAlike(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		deskAgentStep(t, h) // creates agent1
		statuses := map[string][]int{}
		for _, name := range []string{"agent1", "nobody"} {
			b := newBrowser(h)
			b.lang = "en"
			csrf := b.form("/desk")
			for i := range throttle.DeskPasswordPolicy.Free + 2 {
				r := b.post("/desk/signin", url.Values{"csrf": {csrf}, "username": {name}, "password": {wrongPassword(i)}}, nil)
				statuses[name] = append(statuses[name], r.status)
			}
		}
		want := []int{401, 401, 401, 401, 401, 401, 429}
		for name, got := range statuses {
			if !slices.Equal(got, want) {
				t.Errorf("%s: statuses %v, want %v", name, got, want)
			}
		}
	})
}
