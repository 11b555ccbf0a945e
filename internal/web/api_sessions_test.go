package web_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

// taro is the sign-in fixture: one account with all three identifiers.
func registerTaro(h *harness) account {
	return h.register(map[string]any{"username": "taro", "email": "taro@example.com", "phone": "090-1234-5678", "password": goodPassword})
}

func TestSignIn(t *testing.T) {
	tests := []struct {
		name       string
		identifier string
		password   string
		deviceID   string
		ok         bool
		newDevice  bool
	}{
		{name: "username with @", identifier: "@taro", password: goodPassword, ok: true, newDevice: true},
		{name: "username full-width", identifier: "ｔａｒｏ", password: goodPassword, ok: true, newDevice: true},
		{name: "email in capitals", identifier: "TARO@EXAMPLE.COM", password: goodPassword, ok: true, newDevice: true},
		{name: "phone in national format", identifier: "090-1234-5678", password: goodPassword, ok: true, newDevice: true},
		{name: "phone without dashes", identifier: "09012345678", password: goodPassword, ok: true, newDevice: true},
		{name: "phone international", identifier: "+81 90 1234 5678", password: goodPassword, ok: true, newDevice: true},
		{name: "app device, first time", identifier: "taro", password: goodPassword, deviceID: "ios-0123456789abcdef", ok: true, newDevice: true},
		{name: "app device, known", identifier: "taro", password: goodPassword, deviceID: "ios-0123456789abcdef", ok: true},
		{name: "wrong password", identifier: "taro", password: otherPassword},
		{name: "password in wrong case", identifier: "taro", password: "VIOLET HARBOR QUIETLY SINGS"},
		{name: "unknown username", identifier: "nobody", password: goodPassword},
		{name: "unknown phone", identifier: "080-9999-0000", password: goodPassword},
		{name: "malformed identifier", identifier: "??", password: goodPassword},
	}
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaro(h)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := h.snapshot()
				auditBefore := h.auditActions(taro.ID)
				r := h.do(request{method: "POST", path: "/api/v1/sessions",
					json: map[string]any{"identifier": tt.identifier, "password": tt.password, "device_id": tt.deviceID}})
				want := before
				var wantAudit []string
				if tt.ok {
					r.wantStatus(t, http.StatusCreated)
					a := accountOf(t, r)
					if a.ID != taro.ID {
						t.Errorf("signed in to %s, want %s", a.ID, taro.ID)
					}
					if tt.deviceID != "" && a.DeviceID != "app_"+tt.deviceID {
						t.Errorf("device %s, want app_%s", a.DeviceID, tt.deviceID)
					}
					if !h.authorised(a.Token) {
						t.Error("new token refused")
					}
					want.Sessions++
					want.ActiveSessions++
					if tt.newDevice {
						want.Devices++
					}
					want.Audit++
					wantAudit = []string{monban.AuditSignedIn}
					if tt.newDevice {
						// No verified contact: the password alone signs a new
						// device in, and the audit says so.
						want.Audit++
						wantAudit = []string{monban.AuditSignInUnchecked, monban.AuditSignedIn}
					}
				} else {
					p := r.wantStatus(t, http.StatusUnauthorized).problem(t)
					if p.Key != "signin.failed" || p.Code != "unauthorized" {
						t.Errorf("problem %+v", p)
					}
					// Every failed sign-in is audited: in taro's log for a
					// wrong password, without an account for an unknown name
					// (which also keeps the two answers equally slow).
					want.Audit++
					if tt.identifier == "taro" {
						wantAudit = []string{monban.AuditSignInFailed}
					}
				}
				if got := h.snapshot(); got != want {
					t.Errorf("store %+v, want %+v", got, want)
				}
				if got := h.auditActions(taro.ID)[len(auditBefore):]; !slices.Equal(got, wantAudit) {
					t.Errorf("new audit entries %v, want %v", got, wantAudit)
				}
			})
		}
	})
}

// TestSignInEnumeration: an unknown identifier, a wrong password, a
// disabled account and a malformed identifier get the same answer, byte for
// byte, apart from the request id.
func TestSignInEnumeration(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		registerTaro(h)
		off := h.register(map[string]any{"username": "hanako", "password": goodPassword})
		h.exec("UPDATE accounts SET status = 'disabled' WHERE id = ?", off.ID)
		for _, lang := range []string{"ja", "en"} {
			attempts := []struct{ name, identifier, password string }{
				{"wrong password", "taro", otherPassword},
				{"unknown identifier", "nobody", goodPassword},
				{"unknown email", "nobody@example.com", goodPassword},
				{"disabled account, right password", "hanako", goodPassword},
				{"malformed identifier", "??", goodPassword},
			}
			var first *response
			for _, a := range attempts {
				r := h.do(request{method: "POST", path: "/api/v1/sessions", lang: lang,
					json: map[string]any{"identifier": a.identifier, "password": a.password}})
				r.wantStatus(t, http.StatusUnauthorized)
				if first == nil {
					first = r
					continue
				}
				if !bytes.Equal(r.body, first.body) {
					t.Errorf("%s %s: body differs from %s:\n%s\n%s", lang, a.name, attempts[0].name, r.body, first.body)
				}
				if got, want := comparableHeader(r.header), comparableHeader(first.header); !equalHeader(got, want) {
					t.Errorf("%s %s: headers differ:\n%v\n%v", lang, a.name, got, want)
				}
			}
		}
	})
}

// comparableHeader drops the request id, which differs on purpose, and Date,
// which is the wall clock's second and says nothing about the account.
func comparableHeader(h http.Header) http.Header {
	c := h.Clone()
	c.Del("X-Request-Id")
	c.Del("Date")
	return c
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestSharedPhone: one phone number, several accounts.
func TestSharedPhone(t *testing.T) {
	const phone = "080-1111-2222"
	t.Run("different passwords pick the account", func(t *testing.T) {
		t.Parallel()
		eachDB(t, func(t *testing.T, h *harness) {
			alice := h.register(map[string]any{"username": "alice", "phone": phone, "password": goodPassword})
			bob := h.register(map[string]any{"username": "bobby", "phone": phone, "password": otherPassword})
			if got := h.signIn(phone, goodPassword); got.ID != alice.ID {
				t.Errorf("first password signed in to %s, want alice %s", got.ID, alice.ID)
			}
			if got := h.signIn("+818011112222", otherPassword); got.ID != bob.ID {
				t.Errorf("second password signed in to %s, want bob %s", got.ID, bob.ID)
			}
			r := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": phone, "password": "neither of the two passwords"}})
			r.wantStatus(t, http.StatusUnauthorized)
			for _, id := range []string{alice.ID, bob.ID} {
				if got := h.auditActions(id); got[len(got)-1] != monban.AuditSignInFailed {
					t.Errorf("%s: audit %v, want a failed sign-in last", id, got)
				}
			}
		})
	})
	t.Run("same password asks which account", func(t *testing.T) {
		t.Parallel()
		eachDB(t, func(t *testing.T, h *harness) {
			kazu := h.register(map[string]any{"username": "kazu", "email": "kazu@example.com", "phone": phone, "password": goodPassword})
			mika := h.register(map[string]any{"username": "mika", "phone": phone, "password": goodPassword})
			before := h.snapshot()
			r := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": phone, "password": goodPassword}})
			r.wantStatus(t, http.StatusMultipleChoices)
			var choose struct {
				Choices []struct {
					AccountID string `json:"account_id"`
					Username  string `json:"username"`
					Email     string `json:"email"`
				} `json:"choose_account"`
			}
			decode(t, r.body, &choose)
			if len(choose.Choices) != 2 {
				t.Fatalf("choices %+v, want 2", choose.Choices)
			}
			byID := map[string]string{}
			for _, c := range choose.Choices {
				byID[c.AccountID] = c.Username + "|" + c.Email
			}
			if byID[kazu.ID] != "kazu|kazu@example.com" || byID[mika.ID] != "mika|" {
				t.Errorf("choices %+v", choose.Choices)
			}
			h.unchanged(before) // no session before the choice

			r = h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": phone, "password": goodPassword, "account_id": mika.ID}})
			if got := accountOf(t, r.wantStatus(t, http.StatusCreated)); got.ID != mika.ID {
				t.Errorf("picked mika, signed in to %s", got.ID)
			}
			// An account the password does not prove is no choice.
			r = h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": phone, "password": goodPassword, "account_id": "acc_other"}})
			r.wantStatus(t, http.StatusMultipleChoices)
		})
	})
}

func TestSessionsListAndRevoke(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		first := registerTaro(h)
		second := h.signIn("taro", goodPassword)
		other := h.register(map[string]any{"username": "hanako", "password": otherPassword})

		r := h.do(request{method: "GET", path: "/api/v1/sessions", bearer: first.Token}).wantStatus(t, http.StatusOK)
		var list struct {
			Sessions []struct {
				ID        string    `json:"id"`
				Kind      string    `json:"kind"`
				ExpiresAt time.Time `json:"expires_at"`
				Current   bool      `json:"current"`
			} `json:"sessions"`
		}
		decode(t, r.body, &list)
		if len(list.Sessions) != 2 {
			t.Fatalf("sessions %+v, want 2", list.Sessions)
		}
		for _, s := range list.Sessions {
			if s.Current != (s.ID == first.SessionID) || s.Kind != "app" || !s.ExpiresAt.Equal(t0.Add(idleTimeout)) {
				t.Errorf("session %+v", s)
			}
			if s.ID == other.SessionID {
				t.Error("another account's session listed")
			}
		}

		// Another account's session: 404, nothing changed, still usable.
		before := h.snapshot()
		p := h.do(request{method: "DELETE", path: "/api/v1/sessions/" + other.SessionID, bearer: first.Token}).
			wantStatus(t, http.StatusNotFound).problem(t)
		if p.Key != "error.not_found" {
			t.Errorf("key %q", p.Key)
		}
		h.unchanged(before)
		if !h.authorised(other.Token) {
			t.Error("the other account's session was revoked")
		}
		h.do(request{method: "DELETE", path: "/api/v1/sessions/ses_nonexistent", bearer: first.Token}).wantStatus(t, http.StatusNotFound)
		h.unchanged(before)

		// Own other session: revoked.
		h.do(request{method: "DELETE", path: "/api/v1/sessions/" + second.SessionID, bearer: first.Token}).wantStatus(t, http.StatusNoContent)
		if h.authorised(second.Token) {
			t.Error("revoked token still works")
		}
		if !h.authorised(first.Token) {
			t.Error("revoking another session ended this one")
		}
		if got := h.auditActions(first.ID); got[len(got)-1] != monban.AuditSessionRevoked {
			t.Errorf("audit %v, want session revoked last", got)
		}
		want := before
		want.ActiveSessions--
		want.Audit++
		if got := h.snapshot(); got != want {
			t.Errorf("store %+v, want %+v", got, want)
		}

		// Sign out.
		h.do(request{method: "DELETE", path: "/api/v1/session", bearer: first.Token}).wantStatus(t, http.StatusNoContent)
		if h.authorised(first.Token) {
			t.Error("token works after sign-out")
		}
		if got := h.auditActions(first.ID); got[len(got)-1] != monban.AuditSignedOut {
			t.Errorf("audit %v, want signed out last", got)
		}
		h.do(request{method: "DELETE", path: "/api/v1/session", bearer: first.Token}).wantStatus(t, http.StatusUnauthorized)

		got := h.auditActions(first.ID)
		wantAudit := []string{monban.AuditRegistered, monban.AuditSignedIn, monban.AuditSignInUnchecked, monban.AuditSignedIn,
			monban.AuditSessionRevoked, monban.AuditSignedOut}
		if !slices.Equal(got, wantAudit) {
			t.Errorf("audit %v, want %v", got, wantAudit)
		}
	})
}

func TestDevices(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		a := h.register(map[string]any{"username": "taro", "password": goodPassword, "device_id": "android-install-0001"})
		h.signIn("taro", goodPassword) // a second, unnamed device
		r := h.do(request{method: "GET", path: "/api/v1/devices", bearer: a.Token}).wantStatus(t, http.StatusOK)
		var list struct {
			Devices []struct {
				ID      string `json:"id"`
				Kind    string `json:"kind"`
				Current bool   `json:"current"`
			} `json:"devices"`
		}
		decode(t, r.body, &list)
		if len(list.Devices) != 2 {
			t.Fatalf("devices %+v", list.Devices)
		}
		for _, d := range list.Devices {
			if d.Current != (d.ID == "app_android-install-0001") || d.Kind != "app" {
				t.Errorf("device %+v", d)
			}
		}
	})
}

func TestSessionTimeouts(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		eachDB(t, func(t *testing.T, h *harness) {
			a := registerTaro(h)
			h.clock.Advance(idleTimeout - time.Minute)
			if !h.authorised(a.Token) {
				t.Fatal("refused before the idle timeout")
			}
			// Use moved the idle window.
			h.clock.Advance(idleTimeout - time.Minute)
			if !h.authorised(a.Token) {
				t.Fatal("refused although used within the idle timeout")
			}
			h.clock.Advance(idleTimeout)
			before := h.snapshot()
			if h.authorised(a.Token) {
				t.Fatal("accepted after the idle timeout")
			}
			h.unchanged(before)
		})
	})
	t.Run("absolute", func(t *testing.T) {
		t.Parallel()
		eachDB(t, func(t *testing.T, h *harness) {
			a := registerTaro(h)
			step := idleTimeout / 2
			for h.clock.Now().Add(step).Before(t0.Add(absoluteTimeout)) {
				h.clock.Advance(step)
				if !h.authorised(a.Token) {
					t.Fatalf("refused at %v, before the absolute timeout", h.clock.Now().Sub(t0))
				}
			}
			h.clock.Set(t0.Add(absoluteTimeout))
			if h.authorised(a.Token) {
				t.Fatal("accepted at the absolute timeout although in use")
			}
		})
	})
}
