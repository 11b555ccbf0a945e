package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/altcha-org/altcha-lib-go"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/monban-dev/monban"
)

// solvePoW fetches a challenge and solves it as the page's script does.
func solvePoW(t *testing.T, b *browser) string {
	t.Helper()
	r := b.do(request{method: "GET", path: "/support/challenge"}).wantStatus(t, http.StatusOK)
	var c altcha.Challenge
	decode(t, r.body, &c)
	sol, err := altcha.SolveChallenge(c.Challenge, c.Salt, altcha.Algorithm(c.Algorithm), int(c.MaxNumber), 0, nil)
	if err != nil || sol == nil {
		t.Fatalf("solve: %v", err)
	}
	p, _ := json.Marshal(altcha.Payload{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: int64(sol.Number), Salt: c.Salt, Signature: c.Signature})
	return base64.StdEncoding.EncodeToString(p)
}

func supportForm(csrf, pow, ident, category string) url.Values {
	return url.Values{"csrf": {csrf}, "altcha": {pow}, "identifier": {ident}, "contact": {"reply@example.jp"},
		"category": {category}, "platform": {"app"}, "device": {"iPhone"}, "description": {"SMSが届きません"}}
}

var (
	refPattern    = regexp.MustCompile(`MB-[0-9A-Z]{4}-[0-9A-Z]{4}`)
	statusPattern = regexp.MustCompile(`/support/case/[^"<\s]+`)
)

// TestSupportRequests: a request without sign-in, a merged repeat told in
// words, an unknown account answered word for word alike, a reused
// proof of work, a forged status link and the per-IP limit.
func TestSupportRequests(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		acc := h.register(map[string]any{"username": "taro_desk", "email": "taro@example.jp", "password": goodPassword})
		b := newBrowser(h)
		b.lang = "ja"
		csrf := b.form("/support/new?category=locked")
		file := func(ident, category string) *response {
			return b.post("/support/new", supportForm(csrf, solvePoW(t, b), ident, category), nil)
		}
		first := file("taro_desk", monban.CaseLocked).wantStatus(t, http.StatusOK)
		ref := refPattern.FindString(string(first.body))
		if ref == "" {
			t.Fatalf("no reference in %s", first.body)
		}
		second := file("@taro_desk", monban.CaseLocked).wantStatus(t, http.StatusOK)
		want := catalog(t).T("ja", "support.merged", map[string]any{"ref": ref})
		if !strings.Contains(string(second.body), want) {
			t.Fatalf("merged answer lacks %q:\n%s", want, second.body)
		}
		unknown := file("nobody_here", monban.CaseLocked).wantStatus(t, http.StatusOK)
		norm := func(b []byte) string {
			return statusPattern.ReplaceAllString(refPattern.ReplaceAllString(string(b), "REF"), "LINK")
		}
		if norm(first.body) != norm(unknown.body) {
			t.Fatalf("unknown account answered differently:\n%s\n----\n%s", first.body, unknown.body)
		}
		// Case and thread: one case, two requests, and a mail each time.
		var n, requests int
		if err := h.raw.QueryRow(rebind(h, "SELECT COUNT(*), MAX(requests) FROM cases WHERE account_id = ?"), acc.ID).Scan(&n, &requests); err != nil {
			t.Fatal(err)
		}
		if n != 1 || requests != 2 {
			t.Fatalf("cases %d, requests %d", n, requests)
		}
		var mails int
		_ = h.raw.QueryRow(rebind(h, "SELECT COUNT(*) FROM messages WHERE template = 'desk.case' AND destination = ?"), "reply@example.jp").Scan(&mails)
		if mails != 3 {
			t.Fatalf("case mails = %d, want 3", mails)
		}
		if got := h.auditActions(acc.ID); !slices.Contains(got, monban.AuditCaseOpened) || !slices.Contains(got, monban.AuditCaseMerged) {
			t.Fatalf("audit = %v", got)
		}

		// A proof of work is good once.
		pow := solvePoW(t, b)
		b.post("/support/new", supportForm(csrf, pow, "taro_desk", monban.CaseTransfer), nil).wantStatus(t, http.StatusOK)
		again := b.post("/support/new", supportForm(csrf, pow, "taro_desk", monban.CaseTakeover), nil).wantStatus(t, http.StatusBadRequest)
		if !strings.Contains(string(again.body), catalog(t).T("ja", "support.pow", nil)) {
			t.Fatalf("reused pow: %s", again.body)
		}
		// Oversized description: refused, nothing stored.
		big := supportForm(csrf, solvePoW(t, b), "taro_desk", monban.CaseCantSignIn)
		big.Set("description", strings.Repeat("あ", 4001))
		b.post("/support/new", big, nil).wantStatus(t, http.StatusRequestEntityTooLarge)

		// The status link works; a forged one answers like a missing case.
		link := statusPattern.FindString(string(first.body))
		page := b.do(request{method: "GET", path: link}).wantStatus(t, http.StatusOK)
		if !strings.Contains(string(page.body), ref) {
			t.Fatalf("status page lacks %s", ref)
		}
		parts := strings.Split(link, "/")
		forged := b.do(request{method: "GET", path: "/support/case/" + parts[3] + "/AAAAAAAAAAAAAAAAAAAAAAAA"}).wantStatus(t, http.StatusNotFound)
		missing := b.do(request{method: "GET", path: "/support/case/cas_nothing/AAAAAAAAAAAAAAAAAAAAAAAA"}).wantStatus(t, http.StatusNotFound)
		strip := regexp.MustCompile(`/support/case/[^"?]+`)
		if strip.ReplaceAllString(string(forged.body), "") != strip.ReplaceAllString(string(missing.body), "") ||
			!strings.Contains(string(forged.body), catalog(t).T("ja", "support.link_invalid", nil)) {
			t.Fatal("forged link and missing case answer differently")
		}
		// The person replies on the page.
		csrf2 := b.form(link)
		b.post(link+"/reply", url.Values{"csrf": {csrf2}, "body": {"まだ届きません"}}, nil).wantStatus(t, http.StatusSeeOther)

		// Per-IP limit: 5 an hour (4 filed so far, the 5th passes, the 6th waits).
		file("someone_else", monban.CaseCantSignIn).wantStatus(t, http.StatusOK)
		limited := file("someone_else2", monban.CaseCantSignIn).wantStatus(t, http.StatusTooManyRequests)
		if limited.header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	})
}

// deskAgent creates an agent and signs it in through the console with its
// mandatory authenticator, returning the browser and the TOTP secret.
func deskSignIn(t *testing.T, h *harness, username string, role monban.AgentRole) (*browser, *monban.Agent) {
	t.Helper()
	hash, err := h.n.Hasher.Hash(context.Background(), goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	a := &monban.Agent{ID: monban.NewID("agt"), Username: username, PasswordHash: hash, Role: role, CreatedAt: h.clock.Now()}
	if err := h.n.DB.CreateAgent(context.Background(), a, monban.AuditEvent{At: h.clock.Now(), AgentID: a.ID, Action: monban.AuditAgentCreated}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(h)
	csrf := b.form("/desk")
	b.post("/desk/signin", url.Values{"csrf": {csrf}, "username": {username}, "password": {goodPassword}}, nil).wantStatus(t, http.StatusSeeOther)
	// Level 1 reaches only the code step.
	if r := b.do(request{method: "GET", path: "/desk"}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/desk/2fa" {
		t.Fatalf("before 2-step: %d %s", r.status, r.header.Get("Location"))
	}
	page := b.do(request{method: "GET", path: "/desk/2fa"}).wantStatus(t, http.StatusOK)
	secret := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindSubmatch(page.body)
	sealed := regexp.MustCompile(`name="enrol" value="([^"]+)"`).FindSubmatch(page.body)
	if secret == nil || sealed == nil {
		t.Fatalf("no enrolment on first sign-in:\n%s", page.body)
	}
	// The authenticator's QR code beside the key, with a translated alt.
	if !regexp.MustCompile(`<img class="qr" id="totp-qr" src="data:image/png;base64,[A-Za-z0-9+/=&#;]+" width="240" height="240" alt="` +
		regexp.QuoteMeta(catalog(t).T("ja", "desk.enrol_qr_alt", nil)) + `">`).Match(page.body) {
		t.Fatalf("no QR code at enrolment:\n%s", page.body)
	}
	code, _ := totp.GenerateCodeCustom(string(secret[1]), h.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	csrf = csrfField.FindStringSubmatch(string(page.body))[1]
	b.post("/desk/2fa", url.Values{"csrf": {csrf}, "enrol": {string(sealed[1])}, "code": {code}}, nil).wantStatus(t, http.StatusSeeOther)
	b.do(request{method: "GET", path: "/desk"}).wantStatus(t, http.StatusOK)
	return b, a
}

// TestDeskRoles: an agent works the queue and replies; a bypass needs a
// lead — the agent's try is refused, audited and changes nothing.
func TestDeskRoles(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		acc := h.register(map[string]any{"username": "hanako_desk", "email": "hanako@example.jp", "password": goodPassword})
		p := newBrowser(h)
		csrf := p.form("/support/new")
		p.post("/support/new", supportForm(csrf, solvePoW(t, p), "hanako_desk", monban.CaseTransfer), nil).wantStatus(t, http.StatusOK)
		var caseID string
		if err := h.raw.QueryRow(rebind(h, "SELECT id FROM cases WHERE account_id = ?"), acc.ID).Scan(&caseID); err != nil {
			t.Fatal(err)
		}
		ag, agent := deskSignIn(t, h, "sato", monban.RoleAgent)
		page := ag.do(request{method: "GET", path: "/desk/cases/" + caseID}).wantStatus(t, http.StatusOK)
		if strings.Contains(string(page.body), "grant-form") {
			t.Fatal("agent is offered a bypass")
		}
		tok := csrfField.FindStringSubmatch(string(page.body))[1]
		denied := ag.post("/desk/cases/"+caseID+"/grant", url.Values{"csrf": {tok}, "step": {monban.GrantTransferCode}, "hours": {"48"}}, nil).
			wantStatus(t, http.StatusForbidden)
		if !strings.Contains(string(denied.body), catalog(t).T("ja", "desk.denied", nil)) {
			t.Fatalf("denied page: %s", denied.body)
		}
		if gs, _ := h.n.Desk.Grants.Active(context.Background(), acc.ID); len(gs) != 0 {
			t.Fatalf("grants after refusal: %v", gs)
		}
		ag.post("/desk/cases/"+caseID+"/reply", url.Values{"csrf": {tok}, "template": {"received"}, "status": {monban.CaseWaiting}}, nil).
			wantStatus(t, http.StatusSeeOther)
		lead, leadAgent := deskSignIn(t, h, "tanaka", monban.RoleLead)
		ltok := lead.form("/desk/cases/" + caseID)
		lead.post("/desk/cases/"+caseID+"/grant", url.Values{"csrf": {ltok}, "step": {monban.GrantTransferCode}, "hours": {"48"}}, nil).
			wantStatus(t, http.StatusSeeOther)
		gs, _ := h.n.Desk.Grants.Active(context.Background(), acc.ID)
		if len(gs) != 1 || gs[0].CreatedBy != leadAgent.ID || !gs[0].ExpiresAt.Equal(h.clock.Now().Add(48*time.Hour)) {
			t.Fatalf("grants = %+v", gs)
		}
		byAgent := map[string][]string{}
		rows, err := h.raw.Query(rebind(h, "SELECT agent_id, action FROM audit_events WHERE account_id = ? AND agent_id <> '' ORDER BY id"), acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, act string
			_ = rows.Scan(&id, &act)
			byAgent[id] = append(byAgent[id], act)
		}
		rows.Close()
		for _, want := range []string{monban.AuditCaseViewed, monban.AuditAgentDenied, monban.AuditCaseReplied} {
			if !slices.Contains(byAgent[agent.ID], want) {
				t.Errorf("agent audit %v lacks %s", byAgent[agent.ID], want)
			}
		}
		if !slices.Contains(byAgent[leadAgent.ID], monban.AuditGrantCreated) {
			t.Errorf("lead audit %v lacks %s", byAgent[leadAgent.ID], monban.AuditGrantCreated)
		}
		// The reply reached the account's message center.
		var notices int
		_ = h.raw.QueryRow(rebind(h, "SELECT COUNT(*) FROM notices WHERE account_id = ? AND topic = ?"), acc.ID, monban.TopicCaseUpdated).Scan(&notices)
		if notices != 1 {
			t.Fatalf("case.updated notices = %d", notices)
		}
	})
}
