package web_test

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

// TestReauthThrottled: re-authentication is throttled like a sign-in, on
// the page and in the API, each on its session's device: after six wrong
// passwords the seventh try, right or not, is refused with the next
// allowed time in Japanese and English and changes nothing; after the
// delay the right password works. Every wrong password is audited.
func TestReauthThrottled(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		cat := catalog(t)
		taro := registerTaro(h)
		b := newBrowser(h)
		b.knownDevice(taro.ID)
		tok := b.form("/signin")
		b.post("/signin", url.Values{"csrf": {tok}, "identifier": {"taro"}, "password": {goodPassword}}, nil).wantStatus(t, http.StatusSeeOther)

		api := func(pw, lang string) *response {
			return h.do(request{method: "POST", path: "/api/v1/session/reauth", bearer: taro.Token, lang: lang,
				json: map[string]any{"password": pw}})
		}
		page := func(pw, lang string) *response {
			b.lang = lang
			tok := b.form("/account/reauth?next=/account/security")
			return b.post("/account/reauth", url.Values{"csrf": {tok}, "next": {"/account/security"}, "password": {pw}}, nil)
		}
		for range 6 {
			wantProblem(t, api(otherPassword, "ja"), http.StatusUnauthorized, "reauth.wrong_password")
			page(otherPassword, "ja").wantStatus(t, http.StatusUnauthorized)
		}
		retry := h.clock.Now().Add(30 * time.Second)
		before := h.snapshot()
		for _, lang := range []string{"ja", "en"} {
			at := retry.In(time.FixedZone("JST", 9*3600)).Format(map[string]string{"ja": "15:04:05", "en": "15:04:05 MST"}[lang]) // under a minute: to the second
			want := cat.T(lang, "signin.throttled", map[string]any{"time": at})
			r := api(goodPassword, lang).wantStatus(t, http.StatusTooManyRequests)
			if p := r.problem(t); p.Key != "signin.throttled" || p.RetryAt == nil || !p.RetryAt.Equal(retry) || p.Detail != want {
				t.Errorf("%s API: %+v, want signin.throttled until %v: %q", lang, p, retry, want)
			}
			if r.header.Get("Retry-After") != "30" {
				t.Errorf("%s API: Retry-After %q", lang, r.header.Get("Retry-After"))
			}
			r = page(goodPassword, lang).wantStatus(t, http.StatusTooManyRequests)
			if body := string(r.body); !strings.Contains(body, template.HTMLEscapeString(want)) {
				t.Errorf("%s page does not say %q:\n%s", lang, want, body)
			}
		}
		h.unchanged(before)

		h.clock.Set(retry)
		api(goodPassword, "ja").wantStatus(t, http.StatusOK)
		if r := page(goodPassword, "ja").wantStatus(t, http.StatusSeeOther); r.header.Get("Location") != "/account/security" {
			t.Errorf("page went to %s", r.header.Get("Location"))
		}
		acts := h.auditActions(taro.ID)
		if n := len(slices.DeleteFunc(slices.Clone(acts), func(a string) bool { return a != monban.AuditReauthFailed })); n != 12 {
			t.Errorf("%d %s entries, want 12: %v", n, monban.AuditReauthFailed, acts)
		}
		if !slices.Equal(acts[len(acts)-2:], []string{monban.AuditReauthenticated, monban.AuditReauthenticated}) {
			t.Errorf("audit ends %v", acts[len(acts)-2:])
		}
	})
}
