package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/seal"
)

// caseMail is one desk.case email as queued: where it goes and the status
// link it carries.
type caseMail struct{ to, ref, link string }

// caseMails opens every queued desk.case email's payload.
func caseMails(t *testing.T, h *harness) []caseMail {
	t.Helper()
	secret, err := (&node.Config{Secret: testSecret}).SecretBytes()
	if err != nil {
		t.Fatal(err)
	}
	box, err := seal.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := h.raw.Query(rebind(h, "SELECT destination, payload FROM messages WHERE template = ? ORDER BY created_at, id"), "desk.case")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []caseMail
	for rows.Next() {
		var to string
		var sealed []byte
		if err := rows.Scan(&to, &sealed); err != nil {
			t.Fatal(err)
		}
		b, err := box.Open(sealed)
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]string
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, caseMail{to: to, ref: p["case_ref"], link: p["status_url"]})
	}
	return out
}

// TestAccessSupportMerge: a support request joins an open case only from a
// contact already proven for it — the reply address that filed it, or a
// signed-in session of the account into a case filed signed in. Anyone
// else typing the owner's identifier opens a case of their own, is told
// the same words as for a fresh request, and is mailed no link to the
// owner's case; agents see the two cases linked.
func TestAccessSupportMerge(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.register(map[string]any{"username": "hanako_own", "email": "hanako@example.jp", "password": goodPassword})
		file := func(b *browser, ident, contact string) *response {
			t.Helper()
			csrf := b.form("/support/new")
			f := supportForm(csrf, solvePoW(t, b), ident, monban.CaseLocked)
			f.Set("contact", contact)
			return b.post("/support/new", f, nil).wantStatus(t, http.StatusOK)
		}
		norm := func(b []byte) string {
			return statusPattern.ReplaceAllString(refPattern.ReplaceAllString(string(b), "REF"), "LINK")
		}
		owner, stranger := newBrowser(h), newBrowser(h)
		owner.lang, stranger.lang = "ja", "ja"

		first := file(owner, "hanako_own", "Hanako.Home@example.jp")
		ref := refPattern.FindString(string(first.body))
		ownerLink := statusPattern.FindString(string(first.body))
		// The owner's repeat, from the same address (typed differently),
		// joins the case and says so.
		again := file(owner, "@hanako_own", "hanako.home@example.jp")
		if want := catalog(t).T("ja", "support.merged", map[string]any{"ref": ref}); !strings.Contains(string(again.body), want) {
			t.Fatalf("the owner's repeat lacks %q:\n%s", want, again.body)
		}
		// A stranger with the owner's username: a new case, the words of
		// a fresh request, and a link to that new case only.
		theirs := file(stranger, "hanako_own", "mallory@example.com")
		theirRef := refPattern.FindString(string(theirs.body))
		if theirRef == "" || theirRef == ref || norm(theirs.body) != norm(first.body) {
			t.Fatalf("stranger answered as merged or differently (ref %s, owner's %s):\n%s", theirRef, ref, theirs.body)
		}
		if link := statusPattern.FindString(string(theirs.body)); link == ownerLink {
			t.Fatal("the stranger was shown the owner's status link")
		}
		// Nor does an unknown identifier read differently.
		unknown := file(stranger, "nobody_own", "mallory@example.com")
		if norm(unknown.body) != norm(theirs.body) {
			t.Fatalf("unknown identifier answered differently:\n%s\n----\n%s", theirs.body, unknown.body)
		}

		// The owner's link went to the owner's address only; the stranger's
		// case mail names the stranger's case.
		for _, m := range caseMails(t, h) {
			if m.ref == ref && m.to != "hanako.home@example.jp" {
				t.Errorf("the owner's case %s was mailed to %s", ref, m.to)
			}
			if m.to == "mallory@example.com" && (m.ref == ref || strings.Contains(m.link, strings.Split(ownerLink, "/")[3])) {
				t.Errorf("the stranger was mailed the owner's case: %+v", m)
			}
		}
		// The owner's case holds the owner's two requests only; the
		// stranger's status page shows their own words, not the owner's.
		var ownerCase string
		if err := h.raw.QueryRow(rebind(h, "SELECT id FROM cases WHERE ref = ?"), ref).Scan(&ownerCase); err != nil {
			t.Fatal(err)
		}
		var n int
		_ = h.raw.QueryRow(rebind(h, "SELECT COUNT(*) FROM case_messages WHERE case_id = ? AND kind = 'request'"), ownerCase).Scan(&n)
		if n != 2 {
			t.Fatalf("owner's case has %d requests, want 2", n)
		}
		page := stranger.do(request{method: "GET", path: statusPattern.FindString(string(theirs.body))}).wantStatus(t, http.StatusOK)
		if strings.Contains(string(page.body), ref) {
			t.Fatal("the stranger's status page names the owner's case")
		}
		// A reply through the stranger's status page lands in their case.
		link := statusPattern.FindString(string(theirs.body))
		csrf := stranger.form(link)
		stranger.post(link+"/reply", url.Values{"csrf": {csrf}, "body": {"見せて"}}, nil).wantStatus(t, http.StatusSeeOther)
		_ = h.raw.QueryRow(rebind(h, "SELECT COUNT(*) FROM case_messages WHERE case_id = ?"), ownerCase).Scan(&n)
		if n != 2 {
			t.Fatalf("owner's case thread has %d entries after the stranger's reply, want 2", n)
		}

		// Agents see the two cases of the account linked.
		ag, _ := deskSignIn(t, h, "suzuki_own", monban.RoleAgent)
		q := ag.do(request{method: "GET", path: "/desk"}).wantStatus(t, http.StatusOK)
		if !strings.Contains(string(q.body), catalog(t).T("ja", "desk.linked", nil)) {
			t.Fatalf("the queue does not show the linked cases:\n%s", q.body)
		}
		cp := ag.do(request{method: "GET", path: "/desk/cases/" + ownerCase}).wantStatus(t, http.StatusOK)
		if !strings.Contains(string(cp.body), `id="linked-cases"`) || !strings.Contains(string(cp.body), theirRef) {
			t.Fatalf("the owner's case page does not link %s:\n%s", theirRef, cp.body)
		}

		// A day later, signed in: a request from another address opens a
		// case filed signed in; a second one signed in joins it and is
		// answered at the address that filed it; the same address without
		// sign-in proves nothing beyond its own case.
		h.clock.Advance(25 * time.Hour)
		tok := owner.form("/signin")
		owner.post("/signin", url.Values{"csrf": {tok}, "identifier": {"hanako_own"}, "password": {goodPassword}}, nil).wantStatus(t, http.StatusSeeOther)
		signed := file(owner, "hanako_own", "work@example.jp")
		signedRef := refPattern.FindString(string(signed.body))
		if signedRef == ref || signedRef == "" {
			t.Fatalf("signed-in request from a new address joined %s", signedRef)
		}
		joined := file(owner, "hanako_own", "other@example.jp")
		if want := catalog(t).T("ja", "support.merged", map[string]any{"ref": signedRef}); !strings.Contains(string(joined.body), want) {
			t.Fatalf("a second signed-in request did not join %s:\n%s", signedRef, joined.body)
		}
		anon := file(stranger, "hanako_own", "other@example.jp")
		if strings.Contains(string(anon.body), signedRef) {
			t.Fatal("a request without sign-in joined the case filed signed in")
		}
		for _, m := range caseMails(t, h) {
			if m.ref == signedRef && m.to != "work@example.jp" {
				t.Errorf("case %s filed from work@ was mailed to %s", signedRef, m.to)
			}
		}
		// Agents see which case was filed signed in.
		var signedCase string
		if err := h.raw.QueryRow(rebind(h, "SELECT id FROM cases WHERE ref = ?"), signedRef).Scan(&signedCase); err != nil {
			t.Fatal(err)
		}
		ag, _ = deskSignIn(t, h, "tanaka_own", monban.RoleAgent)
		if p := ag.do(request{method: "GET", path: "/desk/cases/" + signedCase}).wantStatus(t, http.StatusOK); !strings.Contains(string(p.body), `id="filed-signed-in"`) {
			t.Error("the case filed signed in is not shown so")
		}
		if p := ag.do(request{method: "GET", path: "/desk/cases/" + ownerCase}).wantStatus(t, http.StatusOK); strings.Contains(string(p.body), `id="filed-signed-in"`) {
			t.Error("a case filed without sign-in is shown as filed signed in")
		}
	})
}

// TestAccessTransferInProgress: "a transfer is in progress, until …" is
// told only to someone who proved the password. A stranger typing the
// name of an account mid-transfer gets the answer an unknown name gets.
func TestAccessTransferInProgress(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaroOn(h, "taro-old-phone-0001")
		h.verifyContacts(taro.ID)
		h.transferPost("/api/v1/transfers", "", map[string]any{"identifier": "taro", "password": goodPassword,
			"device_id": "taro-new-phone-0002"}, http.StatusCreated)
		guess := map[string]any{"identifier": "taro", "password": "not the password at all", "device_id": "stranger-device-0003"}
		stranger := h.do(request{method: "POST", path: "/api/v1/transfers", json: guess, lang: "en"})
		guess["identifier"] = "nobody_at_all"
		nobody := h.do(request{method: "POST", path: "/api/v1/transfers", json: guess, lang: "en"})
		if stranger.status != http.StatusUnauthorized || stranger.status != nobody.status ||
			strings.ReplaceAll(string(stranger.body), "taro", "X") != strings.ReplaceAll(string(nobody.body), "nobody_at_all", "X") {
			t.Fatalf("a stranger's start for an account mid-transfer:\n%d %s\nan unknown name's:\n%d %s",
				stranger.status, stranger.body, nobody.status, nobody.body)
		}
		if strings.Contains(string(stranger.body), "in_progress") || stranger.header.Get("Retry-After") != "" {
			t.Fatalf("the stranger was told a transfer is in progress: %s", stranger.body)
		}
		// The owner, with the password, is told (and until when).
		busy := h.transferPost("/api/v1/transfers", "", map[string]any{"identifier": "taro", "password": goodPassword,
			"device_id": "taro-tablet-device-0004"}, http.StatusConflict)
		if busy["key"] != "transfer.in_progress" || busy["retry_at"] == nil {
			t.Fatalf("the owner's second start: %v", busy)
		}
	})
}

// TestAccessSupportBudget: requests in someone's name from other addresses
// do not use up the owner's own daily requests.
func TestAccessSupportBudget(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.register(map[string]any{"username": "jiro_budget", "email": "jiro@example.jp", "password": goodPassword})
		b := newBrowser(h)
		file := func(contact string) *response {
			t.Helper()
			f := supportForm(b.form("/support/new"), solvePoW(t, b), "jiro_budget", monban.CaseLocked)
			f.Set("contact", contact)
			return b.post("/support/new", f, nil)
		}
		for i := range 5 { // a day's worth for the account, from strangers' addresses
			file(fmt.Sprintf("stranger%d@example.com", i)).wantStatus(t, http.StatusOK)
		}
		h.clock.Advance(time.Hour) // past the per-address hourly limit
		file("jiro.home@example.jp").wantStatus(t, http.StatusOK)
		// One address's own budget still ends at five a day.
		for range 4 {
			file("jiro.home@example.jp").wantStatus(t, http.StatusOK)
		}
		h.clock.Advance(time.Hour)
		if r := file("jiro.home@example.jp"); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Fatalf("sixth request from one address in a day: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
		}
	})
}
