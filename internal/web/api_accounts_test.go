package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

type storedID struct {
	Kind     string `json:"kind"`
	Value    string `json:"value"`
	Verified bool   `json:"verified"`
}

func TestRegister(t *testing.T) {
	cat := catalog(t)
	tests := []struct {
		name  string
		setup func(h *harness) // accounts that exist before
		body  map[string]any
		// success
		ids []storedID
		// failure
		status int
		key    string
		field  string
		params map[string]any
	}{
		{name: "username with @ and capitals",
			body: map[string]any{"username": "@Taro", "password": goodPassword},
			ids:  []storedID{{"username", "taro", false}}},
		{name: "full-width username, email and phone",
			body: map[string]any{"username": "＠Ｔａｒｏ＿１", "email": "ＴＡＲＯ@Example.COM", "phone": "０９０－１２３４－５６７８", "password": goodPassword},
			ids:  []storedID{{"username", "taro_1", false}, {"email", "taro@example.com", false}, {"phone", "+819012345678", false}}},
		{name: "email only, spaces trimmed",
			body: map[string]any{"email": "  Hanako@Example.jp\u3000", "password": goodPassword},
			ids:  []storedID{{"email", "hanako@example.jp", false}}},
		{name: "phone in international format",
			body: map[string]any{"phone": "+81 80 1111 2222", "password": goodPassword},
			ids:  []storedID{{"phone", "+818011112222", false}}},

		{name: "invalid phone", body: map[string]any{"phone": "090-1234", "password": goodPassword},
			status: 400, key: "phone.invalid", field: "phone"},
		{name: "landline refused", body: map[string]any{"phone": "03-1234-5678", "password": goodPassword},
			status: 400, key: "phone.not_mobile", field: "phone"},
		{name: "050 IP phone refused", body: map[string]any{"phone": "050-1234-5678", "password": goodPassword},
			status: 400, key: "phone.not_mobile", field: "phone"},
		{name: "invalid email", body: map[string]any{"email": "taro@", "password": goodPassword},
			status: 400, key: "email.invalid", field: "email"},
		{name: "invalid username", body: map[string]any{"username": "taro yamada", "password": goodPassword},
			status: 400, key: "username.invalid", field: "username"},
		{name: "username too short", body: map[string]any{"username": "ab", "password": goodPassword},
			status: 400, key: "username.length", field: "username", params: map[string]any{"min": 3, "max": 30}},
		{name: "no identifier", body: map[string]any{"username": " ", "password": goodPassword},
			status: 400, key: "register.identifier_required", field: "username"},
		{name: "username taken",
			setup:  func(h *harness) { h.register(map[string]any{"username": "taro", "password": goodPassword}) },
			body:   map[string]any{"username": "@TARO", "email": "new@example.com", "password": otherPassword},
			status: 409, key: "identifier.taken", field: "username"},
		{name: "email taken",
			setup:  func(h *harness) { h.register(map[string]any{"email": "taro@example.com", "password": goodPassword}) },
			body:   map[string]any{"username": "jiro", "email": "Taro@Example.com", "password": otherPassword},
			status: 409, key: "identifier.taken", field: "email"},
		{name: "short password", body: map[string]any{"username": "taro", "password": "short pass"},
			status: 400, key: "password.too_short", field: "password", params: map[string]any{"min": 15}},
		{name: "common password", body: map[string]any{"username": "taro", "password": "password12345678"},
			status: 400, key: "password.common", field: "password"},
		{name: "password with the username", body: map[string]any{"username": "hanako_yamada", "password": "hanako_yamada is my name"},
			status: 400, key: "password.context", field: "password", params: map[string]any{"word": "hanako_yamada"}},
		{name: "password with the service name", body: map[string]any{"username": "taro", "password": "my monban password is long"},
			status: 400, key: "password.context", field: "password", params: map[string]any{"word": "monban"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachDB(t, func(t *testing.T, h *harness) {
				if tt.setup != nil {
					tt.setup(h)
				}
				before := h.snapshot()
				if tt.status != 0 {
					for _, lang := range []string{"en", "ja"} {
						r := h.do(request{method: "POST", path: "/api/v1/accounts", json: tt.body, lang: lang}).wantStatus(t, tt.status)
						p := r.problem(t)
						if p.Key != tt.key || p.Field != tt.field {
							t.Errorf("%s: key %q field %q, want %q %q", lang, p.Key, p.Field, tt.key, tt.field)
						}
						if want := cat.T(lang, tt.key, tt.params); p.Detail != want {
							t.Errorf("%s: detail %q, want %q", lang, p.Detail, want)
						}
					}
					h.unchanged(before)
					return
				}
				r := h.do(request{method: "POST", path: "/api/v1/accounts", json: tt.body}).wantStatus(t, http.StatusCreated)
				if cc := r.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q", cc)
				}
				a := accountOf(t, r)
				if got := r.object(t)["expires_at"]; got != t0.Add(absoluteTimeout).Format(time.RFC3339) {
					t.Errorf("expires_at %v, want %v", got, t0.Add(absoluteTimeout))
				}
				after := h.snapshot()
				want := before
				want.Accounts++
				want.Identifiers += len(tt.ids)
				want.Sessions++
				want.ActiveSessions++
				want.Devices++
				want.Audit += 2
				if after != want {
					t.Errorf("store: %+v, want %+v", after, want)
				}
				if got := h.auditActions(a.ID); !slices.Equal(got, []string{monban.AuditRegistered, monban.AuditSignedIn}) {
					t.Errorf("audit %v", got)
				}
				acc := h.do(request{method: "GET", path: "/api/v1/account", bearer: a.Token}).wantStatus(t, http.StatusOK)
				var got struct {
					ID          string     `json:"id"`
					Status      string     `json:"status"`
					Identifiers []storedID `json:"identifiers"`
				}
				decode(t, acc.body, &got)
				if got.ID != a.ID || got.Status != "active" {
					t.Errorf("account %+v, want id %s active", got, a.ID)
				}
				sortIDs(got.Identifiers)
				wantIDs := slices.Clone(tt.ids)
				sortIDs(wantIDs)
				if !slices.Equal(got.Identifiers, wantIDs) {
					t.Errorf("identifiers %+v, want %+v", got.Identifiers, wantIDs)
				}
			})
		})
	}
}

func sortIDs(ids []storedID) {
	slices.SortFunc(ids, func(a, b storedID) int { return strings.Compare(a.Kind+a.Value, b.Kind+b.Value) })
}

// TestRegisterLanguage stores the language asked for, or the request's.
func TestRegisterLanguage(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		for _, c := range []struct {
			user, lang, accept, want string
		}{
			{"taro", "", "", "ja"},
			{"jiro", "", "en-US,en;q=0.9", "en"},
			{"saburo", "en", "ja", "en"},
		} {
			r := h.do(request{method: "POST", path: "/api/v1/accounts", lang: c.accept,
				json: map[string]any{"username": c.user, "password": goodPassword, "lang": c.lang}}).wantStatus(t, http.StatusCreated)
			a := accountOf(t, r)
			got := h.do(request{method: "GET", path: "/api/v1/account", bearer: a.Token}).wantStatus(t, http.StatusOK).object(t)["lang"]
			if got != c.want {
				t.Errorf("%s: lang %v, want %s", c.user, got, c.want)
			}
		}
	})
}
