package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/risk"
)

// TestDeskCaseInPeoplesWords: the case page of a locked account with
// codes, notices, a grant and a support mail names them in the agent's
// language, shows the lock's evidence as a table with the rule's
// condition as written, and labels every form control — in Japanese and
// in English, never with the ids the store keeps.
func TestDeskCaseInPeoplesWords(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		acc := registerTaroOn(h, "taro-phone-desk-words")
		h.verifyContacts(acc.ID)
		h.enrolTOTP(acc.ID)
		now := h.clock.Now()
		ev, _ := json.Marshal(risk.Evidence{Signal: risk.EvidenceSignal{Type: "purchase", At: now, Amount: 50000, Currency: "JPY",
			Instrument: "gift_card"}, Read: map[string]int64{"count(purchase,1h)": 4}, Rule: "gift-card-burst",
			When: `count("purchase", "1h") >= 3`})
		lock := &monban.Lock{ID: monban.NewID("lck"), AccountID: acc.ID, Kind: monban.LockReview, Category: monban.CategoryPayment,
			RuleID: "gift-card-burst", RuleVersion: "1", Evidence: string(ev), WaysOut: []monban.WayOut{monban.WaySupport}, CreatedAt: now}
		if err := h.n.DB.CreateLock(ctx, lock, nil, nil, monban.AuditEvent{At: now, AccountID: acc.ID, Action: "account.locked"}, nil); err != nil {
			t.Fatal(err)
		}
		for _, m := range []struct {
			tpl    string
			status monban.MessageStatus
		}{{"notice.signin.new_device", monban.MessageSent}, {"code.new_device", monban.MessageFailed}} {
			if err := h.n.DB.EnqueueMessage(ctx, &monban.Message{ID: monban.NewID("msg"), AccountID: acc.ID, Channel: monban.ChannelSMS,
				Destination: "+819012345678", Template: m.tpl, Lang: "ja", Payload: []byte("sealed"), Status: m.status,
				NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		p := newBrowser(h)
		csrf := p.form("/support/new?category=locked")
		p.post("/support/new", supportForm(csrf, solvePoW(t, p), "taro", monban.CaseLocked), nil).wantStatus(t, http.StatusOK)
		var caseID string
		if err := h.raw.QueryRow(rebind(h, "SELECT id FROM cases WHERE account_id = ?"), acc.ID).Scan(&caseID); err != nil {
			t.Fatal(err)
		}
		lead, _ := deskSignIn(t, h, "mori", monban.RoleLead)
		tok := lead.form("/desk/cases/" + caseID)
		lead.post("/desk/cases/"+caseID+"/grant", url.Values{"csrf": {tok}, "step": {monban.GrantTransferCode}, "hours": {"48"}}, nil).
			wantStatus(t, http.StatusSeeOther)

		ids := []string{"notice.signin.new_device", "code.new_device", "desk.case", ">transfer_code", "2-step: false", "2-step: true",
			`\u003e=`, ">sent<", ">failed<", "· active", "lock_review", `aria-label="hours"`, `aria-label="phone"`, `aria-label="status"`}
		for _, tc := range []struct {
			lang string
			not  []string // raw values that are words only in English
			want []string
		}{
			{"ja", []string{">purchase<", ">gift_card<"}, []string{"お知らせ（新しい端末からのログイン）", "確認コード（新しい端末の確認）", "サポートからのメール",
				"送信済み（配達は未確認）", "配達できませんでした", "利用中", "2段階認証: オン", "引き継ぎコードを免除",
				"サポートの確認が必要なロック", "ロックの根拠", "購入", "件数（1h以内）", "50000円 ギフトカード", "第1版", "免除する手順", "状態"}},
			{"en", nil, []string{"Notice (sign-in from a new device)", "Code (new device check)", "Email from support",
				"sent (delivery not confirmed)", "could not be delivered", "in use", "2-step verification on", "Step to bypass",
				"lock needing support review", "Why the lock was made", "count of purchase within 1h", "Valid for (hours)", "version 1", "Account locked"}},
		} {
			t.Run(tc.lang, func(t *testing.T) {
				lead.lang = tc.lang
				body := string(lead.do(request{method: "GET", path: "/desk/cases/" + caseID + "?lang=" + tc.lang}).wantStatus(t, http.StatusOK).body)
				for _, id := range append(ids, tc.not...) {
					if strings.Contains(body, id) {
						t.Errorf("%s page shows %q", tc.lang, id)
					}
				}
				for _, w := range tc.want {
					if !strings.Contains(body, w) {
						t.Errorf("%s page lacks %q", tc.lang, w)
					}
				}
				// The rule's condition as written (escaped for HTML only).
				if !strings.Contains(body, `count(&#34;purchase&#34;, &#34;1h&#34;) &gt;= 3`) {
					t.Errorf("%s page lacks the rule's condition:\n%s", tc.lang, body)
				}
				for _, id := range []string{"grant-step", "grant-hours", "verify-phone", "case-set-status", "template", "reply-status", "text"} {
					if !strings.Contains(body, `<label for="`+id+`">`) || !strings.Contains(body, `id="`+id+`"`) {
						t.Errorf("%s page: control %s has no visible label", tc.lang, id)
					}
				}
			})
		}
	})
}
