package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/monban-dev/monban"
)

// TestDeskAccountActions: a lead verifies a new phone, resets 2-step and
// lifts a review lock through the console. Before two identity checks
// pass, the phone and the reset are refused and change nothing; after,
// each action changes the account and leaves audit entries with the
// lead's id.
func TestDeskAccountActions(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		acc := registerTaroOn(h, "taro-phone-desk-install")
		h.verifyContacts(acc.ID)
		h.enrolTOTP(acc.ID)
		now := h.clock.Now()
		lock := &monban.Lock{ID: monban.NewID("lck"), AccountID: acc.ID, Kind: monban.LockReview, Category: monban.CategoryAccountDetails,
			RuleID: "address-mismatch", RuleVersion: "1", Evidence: "{}", WaysOut: []monban.WayOut{monban.WaySupport}, CreatedAt: now}
		if err := h.n.DB.CreateLock(ctx, lock, nil, nil, monban.AuditEvent{At: now, AccountID: acc.ID, Action: "account.locked"}, nil); err != nil {
			t.Fatal(err)
		}
		key, _, err := h.n.Keys.Create(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		h.do(request{method: "PUT", path: "/api/v1/accounts/" + acc.ID + "/knowledge", bearer: key,
			json: map[string]string{"name": "Taro Yamada", "card_last4": "4242"}}).wantStatus(t, http.StatusNoContent)

		p := newBrowser(h)
		csrf := p.form("/support/new?category=locked")
		p.post("/support/new", supportForm(csrf, solvePoW(t, p), "taro", monban.CaseLocked), nil).wantStatus(t, http.StatusOK)
		var caseID string
		if err := h.raw.QueryRow(rebind(h, "SELECT id FROM cases WHERE account_id = ?"), acc.ID).Scan(&caseID); err != nil {
			t.Fatal(err)
		}
		lead, leadAgent := deskSignIn(t, h, "kimura", monban.RoleLead)
		tok := lead.form("/desk/cases/" + caseID)
		act := func(action string, form url.Values, want int) *response {
			t.Helper()
			if form == nil {
				form = url.Values{}
			}
			form.Set("csrf", tok)
			return lead.post("/desk/cases/"+caseID+"/"+action, form, nil).wantStatus(t, want)
		}
		newPhone := url.Values{"phone": {"080-3333-4444"}}

		// Without two passed checks: refused, nothing changed.
		before := h.snapshot()
		act("phone", newPhone, http.StatusForbidden)
		act("reset-2fa", nil, http.StatusForbidden)
		before.Audit += 2 // each refusal shows the case again, and opening a case is audited
		h.unchanged(before)
		if a, _ := h.n.DB.AccountByID(ctx, acc.ID); !a.TwoStep {
			t.Fatal("a refused reset turned 2-step off")
		}

		page := act("check", url.Values{"name": {"ＴＡＲＯ　ＹＡＭＡＤＡ"}, "card_last4": {"4242"}}, http.StatusOK)
		if strings.Count(string(page.body), `data-matched="true"`) != 2 || strings.Contains(string(page.body), "Taro Yamada") {
			t.Fatalf("check results:\n%s", page.body)
		}
		act("phone", newPhone, http.StatusSeeOther)
		act("reset-2fa", nil, http.StatusSeeOther)
		act("lift", nil, http.StatusSeeOther)

		a, err := h.n.DB.AccountByID(ctx, acc.ID)
		if err != nil || a.TwoStep {
			t.Fatalf("2-step after the reset: %+v, %v", a, err)
		}
		if fs, _ := h.n.DB.FactorsByAccount(ctx, acc.ID); len(fs) != 0 {
			t.Fatalf("factors after the reset: %+v", fs)
		}
		ids, _ := h.n.DB.IdentifiersByAccount(ctx, acc.ID)
		if !slices.ContainsFunc(ids, func(id monban.Identifier) bool { return id.Value == "+818033334444" && id.Verified }) {
			t.Fatalf("identifiers after verify-phone: %+v", ids)
		}
		locks, _ := h.n.DB.LocksByAccount(ctx, acc.ID)
		if len(locks) != 1 || locks[0].LiftedBy != "agent:"+leadAgent.ID || locks[0].LiftedHow != "support" {
			t.Fatalf("lock after the lift: %+v", locks)
		}

		// Every action is in the account's audit log with the lead's id.
		byLead := map[string]int{}
		rows, err := h.raw.Query(rebind(h, "SELECT action FROM audit_events WHERE account_id = ? AND agent_id = ?"), acc.ID, leadAgent.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var action string
			_ = rows.Scan(&action)
			byLead[action]++
		}
		rows.Close()
		for _, want := range []string{monban.AuditIdentityChecked, monban.AuditPhoneVerified, monban.AuditTwoStepReset,
			"factor.removed", monban.AuditDeskLockLifted} {
			if byLead[want] == 0 {
				t.Errorf("lead's audit entries %v lack %s", byLead, want)
			}
		}
		if byLead[monban.AuditIdentityChecked] != 2 {
			t.Errorf("identity checks audited %d times, want 2", byLead[monban.AuditIdentityChecked])
		}
	})
}
