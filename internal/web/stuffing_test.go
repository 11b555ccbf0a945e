package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCredentialStuffing: many failed sign-ins from many loopback
// addresses against a set of accounts, with each account's real password
// down the attackers' lists of leaked candidates. The throttle lets so few
// guesses through that none of the attackers gets in (a right password
// from an unknown device meets the new-device check besides); the
// owners still sign in from their own devices, during and after the
// attack. Requests are served in process so that each can come from its
// own RemoteAddr (forwarded headers are not trusted).
func TestCredentialStuffing(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		const accounts = 6
		owners := make([]string, accounts)
		for i := range owners {
			owners[i] = fmt.Sprintf("owner-device-%04d-install", i)
			h.register(map[string]any{"username": fmt.Sprintf("victim%d", i), "password": fmt.Sprintf("%s %d", goodPassword, i),
				"device_id": owners[i]})
		}
		handler := h.n.Web.Handler()
		signIn := func(ip, user, pw, device string) int {
			body, _ := json.Marshal(map[string]any{"identifier": user, "password": pw, "device_id": device})
			req := httptest.NewRequest("POST", "/api/v1/sessions", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = ip + ":40000"
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			return rec.Code
		}
		// 120 attacker addresses, 30 rounds ten seconds apart. Each account
		// has a list of 200 leaked candidates with the real password at
		// position 100; the attackers share the lists, move to the next
		// candidate only when a try was really checked (not 429), and in each
		// round every address tries every account, plus an account that
		// does not exist.
		const realAt = 100
		next := make([]int, accounts) // the next candidate per account
		checked := map[string]int{}   // tries that reached the password check, per account
		statuses := map[int]int{}
		for round := range 30 {
			for a := range 120 {
				ip := fmt.Sprintf("127.0.%d.%d", a/250, 1+a%250)
				for i := range accounts {
					user := fmt.Sprintf("victim%d", i)
					pw := fmt.Sprintf("leaked candidate %d", next[i])
					if next[i] == realAt {
						pw = fmt.Sprintf("%s %d", goodPassword, i)
					}
					st := signIn(ip, user, pw, "")
					statuses[st]++
					if st == http.StatusCreated || st == http.StatusOK {
						t.Fatalf("round %d: attacker %s got into %s (status %d)", round, ip, user, st)
					}
					if st != http.StatusTooManyRequests {
						checked[user]++
						next[i]++
					}
				}
				signIn(ip, "nobody_at_all", "leaked candidate", "")
			}
			// The owners keep signing in from their own devices.
			if round%5 == 4 {
				for i, dev := range owners {
					if st := signIn("127.9.9.9", fmt.Sprintf("victim%d", i), fmt.Sprintf("%s %d", goodPassword, i), dev); st != http.StatusCreated {
						t.Fatalf("round %d: owner of victim%d refused from their device: %d", round, i, st)
					}
				}
			}
			h.clock.Advance(10 * time.Second)
		}
		// Five free tries, then a growing delay: 30 rounds of 10 s allow a
		// handful more checks per account, not thousands.
		for user, n := range checked {
			if n > 12 {
				t.Errorf("%s: %d password checks reached the hasher, want ≤ 12", user, n)
			}
		}
		if statuses[http.StatusTooManyRequests] < 20000 {
			t.Errorf("statuses %v: want the flood answered 429", statuses)
		}
		t.Logf("attack answers: %v; password checks per account: %v", statuses, checked)
	})
}
