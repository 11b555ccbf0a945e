package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

var deskTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"GrantUseOnce", testGrantUseOnce},
	{"GrantWindowAndScope", testGrantWindowAndScope},
	{"GrantConcurrentUse", testGrantConcurrentUse},
}

func newGrant(accountID, step string, created time.Time, ttl time.Duration) *monban.Grant {
	return &monban.Grant{ID: monban.NewID("grt"), AccountID: accountID, Step: step, CreatedBy: "agt_1",
		CaseID: "cas_1", CreatedAt: created, ExpiresAt: created.Add(ttl)}
}

func mustGrant(t *testing.T, db *sqlstore.DB, g *monban.Grant) {
	t.Helper()
	ev := monban.AuditEvent{At: g.CreatedAt, AccountID: g.AccountID, AgentID: g.CreatedBy, Action: monban.AuditGrantCreated}
	if err := db.CreateGrant(ctx, g, ev); err != nil {
		t.Fatal(err)
	}
}

func testGrantUseOnce(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	g := newGrant(a.ID, monban.GrantVerifyPhone, t0, 48*time.Hour)
	mustGrant(t, db, g)
	active, err := db.GrantsByAccount(ctx, a.ID, at(time.Hour))
	if err != nil || len(active) != 1 {
		t.Fatalf("GrantsByAccount = %v, %v", active, err)
	}
	wantEqual(t, "active grant", &active[0], g)
	got, err := db.UseGrant(ctx, a.ID, monban.GrantVerifyPhone, at(time.Hour),
		monban.AuditEvent{At: at(time.Hour), AccountID: a.ID, Action: monban.AuditGrantUsed})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != g.ID || !got.UsedAt.Equal(at(time.Hour)) {
		t.Fatalf("UseGrant = %+v", got)
	}
	_, err = db.UseGrant(ctx, a.ID, monban.GrantVerifyPhone, at(2*time.Hour), monban.AuditEvent{At: at(2 * time.Hour), AccountID: a.ID, Action: monban.AuditGrantUsed})
	wantCode(t, err, monban.ENotFound, "grant.none", "")
	if active, _ := db.GrantsByAccount(ctx, a.ID, at(2*time.Hour)); len(active) != 0 {
		t.Fatalf("used grant still active: %v", active)
	}
	all, _ := db.GrantsByAccount(ctx, a.ID, time.Time{})
	if len(all) != 1 || all[0].UsedAt.IsZero() {
		t.Fatalf("all grants = %+v", all)
	}
	evs, err := db.AuditByAccount(ctx, a.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Action != monban.AuditGrantUsed || evs[0].Detail["grant_id"] != g.ID || evs[0].Detail["granted_by"] != "agt_1" {
		t.Fatalf("audit = %+v", evs[0])
	}
}

func testGrantWindowAndScope(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	b := mustCreateAccount(t, db, t0)
	mustGrant(t, db, newGrant(a.ID, monban.GrantTransferCode, t0, 48*time.Hour))
	use := func(acc, step string, when time.Time) error {
		_, err := db.UseGrant(ctx, acc, step, when, monban.AuditEvent{At: when, AccountID: acc, Action: monban.AuditGrantUsed})
		return err
	}
	for _, tc := range []struct {
		name, acc, step string
		when            time.Time
	}{
		{"other account", b.ID, monban.GrantTransferCode, at(time.Hour)},
		{"other step", a.ID, monban.GrantVerifyPhone, at(time.Hour)},
		{"before its window", a.ID, monban.GrantTransferCode, at(-time.Minute)},
		{"at expiry", a.ID, monban.GrantTransferCode, at(48 * time.Hour)},
		{"after expiry", a.ID, monban.GrantTransferCode, at(49 * time.Hour)},
	} {
		if err := use(tc.acc, tc.step, tc.when); !monban.IsNotFound(err) {
			t.Errorf("%s: UseGrant = %v, want grant.none", tc.name, err)
		}
	}
	if err := use(a.ID, monban.GrantTransferCode, at(48*time.Hour-time.Microsecond)); err != nil {
		t.Fatalf("last moment: %v", err)
	}
}

func testGrantConcurrentUse(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	mustGrant(t, db, newGrant(a.ID, monban.GrantVerifyPhone, t0, time.Hour))
	const n = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, none := 0, 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.UseGrant(ctx, a.ID, monban.GrantVerifyPhone, at(time.Minute),
				monban.AuditEvent{At: at(time.Minute), AccountID: a.ID, Action: monban.AuditGrantUsed})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case monban.IsNotFound(err):
				none++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || none != n-1 {
		t.Fatalf("wins %d, none %d", wins, none)
	}
}
