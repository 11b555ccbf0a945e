package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// auditExportTests cover the streaming audit export, admin API keys and
// the account.registered webhook event written with the account.
var auditExportTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"ExportAudit", testExportAudit},
	{"AdminAPIKey", testAdminAPIKey},
	{"RegisteredEvent", testRegisteredEvent},
}

func testExportAudit(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0) // account.registered at t0
	b := mustCreateAccount(t, db, t0)
	for i := 1; i <= 4; i++ {
		ev := auditFor(a.ID, monban.AuditSignInFailed, at(time.Duration(i)*time.Minute))
		ev.Detail = map[string]string{"n": fmt.Sprint(i)}
		if err := db.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	agent := monban.AuditEvent{At: at(2 * time.Minute), AccountID: b.ID, AgentID: "agt_1", Action: monban.AuditAgentCreated}
	if err := db.AppendAudit(ctx, agent); err != nil {
		t.Fatal(err)
	}
	export := func(f monban.AuditFilter) []monban.AuditEvent {
		t.Helper()
		var out []monban.AuditEvent
		if err := db.ExportAudit(ctx, f, func(ev monban.AuditEvent) error { out = append(out, ev); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	actions := func(evs []monban.AuditEvent) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, ev.AccountID[:4]+":"+ev.Action+":"+ev.Detail["n"])
		}
		return out
	}
	all := export(monban.AuditFilter{})
	if len(all) != 7 {
		t.Fatalf("everything: %d events %v", len(all), actions(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.Before(all[i-1].At) {
			t.Fatalf("not oldest first: %v", actions(all))
		}
	}
	// [since, until): the minute-4 event is out, minute 1 in.
	got := export(monban.AuditFilter{Since: at(time.Minute), Until: at(4 * time.Minute), AccountID: a.ID})
	wantEqual(t, "account range", actions(got), []string{"acc_:session.sign_in_failed:1", "acc_:session.sign_in_failed:2",
		"acc_:session.sign_in_failed:3"})
	want := auditFor(a.ID, monban.AuditSignInFailed, at(time.Minute))
	want.Detail, want.ID = map[string]string{"n": "1"}, got[0].ID
	wantEqual(t, "exported event", got[0], want)
	if got := export(monban.AuditFilter{AgentID: "agt_1"}); len(got) != 1 || got[0].Action != monban.AuditAgentCreated {
		t.Errorf("agent: %+v", got)
	}
	if got := export(monban.AuditFilter{Since: at(time.Hour)}); len(got) != 0 {
		t.Errorf("after everything: %+v", got)
	}
	// The callback's error stops the export.
	stop := errors.New("enough")
	n := 0
	err := db.ExportAudit(ctx, monban.AuditFilter{}, func(monban.AuditEvent) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("stopped export: %v after %d", err, n)
	}
}

func testAdminAPIKey(t *testing.T, db *sqlstore.DB) {
	h := sha256.Sum256([]byte("secret-admin"))
	k := monban.APIKey{ID: monban.NewID("key"), Name: "ops", Hash: h[:], Admin: true, CreatedAt: t0}
	if err := db.CreateAPIKey(ctx, &k, monban.AuditEvent{At: t0, Action: monban.AuditAPIKeyCreated}); err != nil {
		t.Fatal(err)
	}
	got, err := db.APIKeyByHash(ctx, k.Hash)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "admin key", got, &k)
}

func testRegisteredEvent(t *testing.T, db *sqlstore.DB) {
	subscribe(t, db, "key_1", monban.EventAccountRegistered)
	a := mustCreateAccount(t, db, at(time.Second))
	ds, err := db.ClaimWebhookDeliveries(ctx, at(time.Minute), time.Minute, 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("claim = %d, %v", len(ds), err)
	}
	if ds[0].EventType != monban.EventAccountRegistered || !strings.Contains(string(ds[0].Body), `"account_id":"`+a.ID+`"`) {
		t.Errorf("delivery %s %s", ds[0].EventType, ds[0].Body)
	}
	// A refused registration announces nothing.
	dup := newAccount(at(time.Second))
	ids := []monban.Identifier{ident(monban.KindUsername, "u_"+a.ID, at(time.Second))}
	if err := db.CreateAccount(ctx, dup, ids, auditFor(dup.ID, monban.AuditRegistered, at(time.Second))); monban.ErrorCodeOf(err) != monban.EConflict {
		t.Fatalf("duplicate: %v", err)
	}
	if ds, _ := db.ClaimWebhookDeliveries(ctx, at(time.Hour), time.Minute, 10); len(ds) != 1 || ds[0].EventID == "" {
		t.Errorf("after a refused registration: %d deliveries (want the lapsed one again only)", len(ds))
	}
}
