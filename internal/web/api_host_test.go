package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestIntrospect(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		key, k, err := h.n.Keys.Create(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		other, _, err := h.n.Keys.Create(ctx, "blog")
		if err != nil {
			t.Fatal(err)
		}
		taro := registerTaro(h)
		ended := h.signIn("taro", goodPassword)
		h.do(request{method: "DELETE", path: "/api/v1/session", bearer: ended.Token}).wantStatus(t, http.StatusNoContent)

		introspect := func(apiKey, token string) *response {
			return h.do(request{method: "POST", path: "/api/v1/introspect", bearer: apiKey, json: map[string]any{"token": token}})
		}

		// Active token.
		r := introspect(key, taro.Token).wantStatus(t, http.StatusOK)
		var who struct {
			Active      bool       `json:"active"`
			AccountID   string     `json:"account_id"`
			SessionID   string     `json:"session_id"`
			DeviceID    string     `json:"device_id"`
			AuthLevel   int        `json:"auth_level"`
			Methods     []string   `json:"methods"`
			ExpiresAt   time.Time  `json:"expires_at"`
			Identifiers []storedID `json:"identifiers"`
		}
		decode(t, r.body, &who)
		if !who.Active || who.AccountID != taro.ID || who.SessionID != taro.SessionID || who.DeviceID != taro.DeviceID ||
			who.AuthLevel != 1 || len(who.Methods) != 1 || who.Methods[0] != "pwd" || !who.ExpiresAt.Equal(t0.Add(idleTimeout)) ||
			len(who.Identifiers) != 3 {
			t.Errorf("introspection %s", r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", r.header)
		}

		// Inactive tokens are an answer, not an error.
		for name, tok := range map[string]string{"signed out": ended.Token, "unknown": "mbs_unknown", "not a token": "hello"} {
			r := introspect(key, tok).wantStatus(t, http.StatusOK)
			if string(r.body) != "{\"active\":false}\n" {
				t.Errorf("%s: %s", name, r.body)
			}
		}
		h.clock.Advance(idleTimeout)
		if r := introspect(key, taro.Token).wantStatus(t, http.StatusOK); string(r.body) != "{\"active\":false}\n" {
			t.Errorf("idle token: %s", r.body)
		}

		// API key problems.
		before := h.snapshot()
		for _, c := range []struct {
			name, apiKey, key string
		}{
			{"no key", "", "apikey.missing"},
			{"unknown key", "mbk_unknown", "apikey.invalid"},
			{"a session token as key", taro.Token, "apikey.invalid"},
		} {
			p := introspect(c.apiKey, taro.Token).wantStatus(t, http.StatusUnauthorized).problem(t)
			if p.Key != c.key {
				t.Errorf("%s: key %q, want %q", c.name, p.Key, c.key)
			}
		}
		h.unchanged(before)

		// Revoked key: refused at once on this node; the other key still works.
		if err := h.n.Keys.Revoke(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if p := introspect(key, taro.Token).wantStatus(t, http.StatusUnauthorized).problem(t); p.Key != "apikey.invalid" {
			t.Errorf("revoked key: %q", p.Key)
		}
		introspect(other, taro.Token).wantStatus(t, http.StatusOK)

		// A key but no token.
		if p := introspect(other, "").wantStatus(t, http.StatusBadRequest).problem(t); p.Key != "request.token_required" || p.Field != "token" {
			t.Errorf("no token: %+v", p)
		}
	})
}
