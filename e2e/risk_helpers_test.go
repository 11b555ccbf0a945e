package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
)

// withRules writes a rules file into the node's configuration.
func withRules(t *testing.T, yaml string) func(*node.Config) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *node.Config) { c.RulesFile = p }
}

// postJSON sends body to path with a bearer token and decodes the answer.
func postJSON(t *testing.T, srv *server, path, bearer string, body any, want int) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Language", "ja")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d %v, want %d", path, resp.StatusCode, out, want)
	}
	return out
}

// riskPerson is an account made through the API, its phone verified by a
// code from the dev outbox, as a person who signed up earlier.
type riskPerson struct {
	id, username, phoneE164 string
	token                   string // the app session made at sign-up
}

func newRiskPerson(t *testing.T, srv *server, username, email, phone, e164 string) riskPerson {
	t.Helper()
	reg := postJSON(t, srv, "/api/v1/accounts", "", map[string]string{"username": username, "email": email,
		"phone": phone, "password": passphrase}, http.StatusCreated)
	tok, _ := reg["token"].(string)
	flow := postJSON(t, srv, "/api/v1/flows", tok, map[string]string{"kind": "phone"}, http.StatusCreated)
	sc := &codesScenario{t: t, srv: srv}
	msgs := sc.waitOutbox(e164, 1)
	postJSON(t, srv, "/api/v1/flows/"+flow["id"].(string)+"/verify", tok, map[string]string{"code": msgs[0].Code}, http.StatusOK)
	return riskPerson{id: reg["account_id"].(string), username: username, phoneE164: e164, token: tok}
}

// sendSignals posts a batch of host-app signals with an API key.
func sendSignals(t *testing.T, srv *server, key string, sigs []map[string]any) []any {
	t.Helper()
	out := postJSON(t, srv, "/api/v1/signals", key, map[string]any{"signals": sigs}, http.StatusAccepted)
	res, _ := out["results"].([]any)
	return res
}

// signInLocked signs in through the sign-in page (where a lock may wait),
// answering the new-device check with the code from the dev outbox.
func signInLocked(a *tab, srv *server, p riskPerson) {
	a.open("/signin")
	a.fill("#identifier", p.username)
	a.fill("#password", passphrase)
	a.follow("#submit")
	if path, _ := a.page(); path != "/signin/verify" {
		return
	}
	if a.count("#send-sms") > 0 {
		a.follow("#send-sms")
	}
	sc := &codesScenario{t: a.b.t, srv: srv}
	m := waitPurpose(sc, p.phoneE164, string(monban.PurposeNewDevice), string(monban.PurposeSignIn))
	a.fill("#code", m.Code)
	a.follow("#verify-code")
}

// waitPurpose waits for a code to dest for one of purposes and returns the
// newest.
func waitPurpose(sc *codesScenario, dest string, purposes ...string) devMessage {
	sc.t.Helper()
	var found devMessage
	waitFor(sc.t, "a "+strings.Join(purposes, "/")+" code to "+dest, func() bool {
		for _, m := range sc.outboxTo(dest) {
			if slices.Contains(purposes, m.Purpose) && m.Code != "" {
				found = m
				return true
			}
		}
		return false
	})
	return found
}
