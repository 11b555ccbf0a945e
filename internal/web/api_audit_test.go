package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// ndjson splits a JSON-lines body into objects.
func ndjson(t *testing.T, r *response) []map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") {
		t.Fatalf("Content-Type %q; body %s", ct, r.body)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func actionsOf(lines []map[string]any) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l["action"].(string))
	}
	return out
}

// TestAuditExport: admin API keys export a time range of the whole audit
// log; an account holder downloads only their own activity, by API and
// from the account page.
func TestAuditExport(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		admin, _, err := h.n.Keys.CreateAdmin(ctx, "ops")
		if err != nil {
			t.Fatal(err)
		}
		plain, _, err := h.n.Keys.Create(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute)
		taro := registerTaro(h)
		h.clock.Advance(time.Minute)
		hanako := h.register(map[string]any{"username": "hanako", "password": goodPassword})
		h.clock.Advance(time.Minute)
		h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro", "password": otherPassword}}).
			wantStatus(t, http.StatusUnauthorized)

		since := url.QueryEscape(t0.Format(time.RFC3339))
		path := "/api/v1/admin/audit?since=" + since
		for _, c := range []struct {
			name, key, path string
			status          int
			problem         string
		}{
			{"no key", "", path, 401, "apikey.missing"},
			{"not an admin key", plain, path, 403, "apikey.not_admin"},
			{"no since", admin, "/api/v1/admin/audit", 400, "audit.range"},
			{"bad since", admin, "/api/v1/admin/audit?since=yesterday", 400, "audit.range"},
			{"until before since", admin, path + "&until=" + url.QueryEscape(t0.Add(-time.Hour).Format(time.RFC3339)), 400, "audit.range"},
		} {
			if p := h.do(request{method: "GET", path: c.path, bearer: c.key}).wantStatus(t, c.status).problem(t); p.Key != c.problem {
				t.Errorf("%s: %s, want %s", c.name, p.Key, c.problem)
			}
		}
		all := ndjson(t, h.do(request{method: "GET", path: path, bearer: admin}).wantStatus(t, http.StatusOK))
		if len(all) < 5 || all[0]["action"] != "apikey.created" || all[0]["id"] == nil {
			t.Fatalf("whole log: %v", all)
		}
		// A range: the first two minutes after the keys hold taro's sign-up only.
		r := h.do(request{method: "GET", bearer: admin, path: "/api/v1/admin/audit?since=" +
			url.QueryEscape(t0.Add(time.Minute).Format(time.RFC3339)) + "&until=" + url.QueryEscape(t0.Add(2*time.Minute).Format(time.RFC3339))})
		lines := ndjson(t, r.wantStatus(t, http.StatusOK))
		if len(lines) == 0 {
			t.Fatal("empty range")
		}
		for _, l := range lines {
			if l["account_id"] != taro.ID {
				t.Errorf("range holds %v", l)
			}
		}
		if got := ndjson(t, h.do(request{method: "GET", path: path + "&account=" + hanako.ID, bearer: admin}).wantStatus(t, http.StatusOK)); len(got) == 0 || got[0]["account_id"] != hanako.ID {
			t.Errorf("hanako's: %v", got)
		}

		// The account holder's own activity: theirs only, no internal ids.
		own := ndjson(t, h.do(request{method: "GET", path: "/api/v1/account/activity", bearer: taro.Token}).wantStatus(t, http.StatusOK))
		acts := strings.Join(actionsOf(own), " ")
		if !strings.Contains(acts, "account.registered") || !strings.Contains(acts, "session.sign_in_failed") {
			t.Errorf("taro's activity: %v", acts)
		}
		for _, l := range own {
			if l["id"] != nil || l["account_id"] != nil || l["at"] == nil {
				t.Errorf("own line %v", l)
			}
		}
		h.do(request{method: "GET", path: "/api/v1/account/activity"}).wantStatus(t, http.StatusUnauthorized)

		// From the account page: signed out it asks to sign in; signed in it
		// downloads the same lines.
		if r := h.do(request{method: "GET", path: "/account/activity.jsonl"}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin" {
			t.Errorf("signed out: %d %s", r.status, r.header.Get("Location"))
		}
		r = h.do(request{method: "GET", path: "/account/activity.jsonl", cookies: []*http.Cookie{{Name: "monban_session", Value: taro.Token}}})
		page := ndjson(t, r.wantStatus(t, http.StatusOK))
		if len(page) != len(own) || !strings.HasPrefix(r.header.Get("Content-Disposition"), `attachment; filename="monban-activity-`) {
			t.Errorf("download: %d lines (want %d), %q", len(page), len(own), r.header.Get("Content-Disposition"))
		}
	})
}
