package risk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/risk"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/storetest"
)

// faultyRules has the mistake of 2021-07-08: a rule that matches every
// ordinary purchase. The breaker lets it lock 2,000 accounts in ten minutes
// (its baseline is nothing) before it switches it to shadow mode.
const faultyRules = `
version: "2021-07-08.1"
breaker: {window: 10m, baseline: 24h, multiple: 10, min_locks: 2000}
rules:
  - id: payments-v2
    on: [purchase]
    when: 'count("purchase", "24h") >= 1'
    action: lock
    category: payment
`

func newAccounts(t *testing.T, db *sqlstore.DB, n int, at time.Time) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		a := &monban.Account{ID: monban.NewID("acc"), Status: monban.AccountActive, PasswordHash: "x", Lang: []string{"ja", "en"}[i%2],
			CreatedAt: at, UpdatedAt: at}
		err := db.CreateAccount(context.Background(), a, []monban.Identifier{
			{Kind: monban.KindUsername, Value: fmt.Sprintf("user%05d", i), Verified: true, CreatedAt: at},
			{Kind: monban.KindEmail, Value: fmt.Sprintf("user%05d@example.jp", i), Verified: true, CreatedAt: at},
		}, monban.AuditEvent{At: at, AccountID: a.ID, Action: monban.AuditRegistered})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = a.ID
	}
	return ids
}

func newService(t *testing.T, db *sqlstore.DB, clock monban.Clock) *risk.Service {
	t.Helper()
	box, err := seal.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	ns := notices.New(db, box, clock, notices.Config{PublicURL: "https://id.example.jp"}, nil, nil)
	return risk.New(risk.Deps{Store: db, Notices: ns, Clock: clock})
}

func TestIncidentFaultyRuleBreakerAndRollback(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	clock := clocktest.New(time.Date(2021, 7, 8, 10, 0, 0, 0, time.UTC))
	accounts := newAccounts(t, db, 2600, clock.Now())
	svc := newService(t, db, clock)
	rs, err := risk.Parse([]byte(faultyRules))
	if err != nil {
		t.Fatal(err)
	}
	svc.SetRules(rs)

	// Ordinary purchases arrive, 200 a batch, a few seconds apart.
	locked := 0
	for i := 0; i < len(accounts); i += 200 {
		var batch []monban.Signal
		for _, acc := range accounts[i:min(i+200, len(accounts))] {
			batch = append(batch, monban.Signal{AccountID: acc, Type: "purchase", Amount: 1200, Currency: "JPY", Instrument: "card"})
		}
		out, err := svc.Ingest(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if o.LockID != "" {
				locked++
			}
		}
		clock.Advance(5 * time.Second)
	}
	if locked != 2000 {
		t.Fatalf("the faulty rule locked %d accounts, want 2000 before its breaker tripped", locked)
	}
	if got := svc.Tripped(); len(got) != 1 || got[0] != "payments-v2@2021-07-08.1" {
		t.Fatalf("tripped = %v, want the faulty rule", got)
	}
	if svc.ShadowMatches.Load() != int64(len(accounts)-2000) {
		t.Errorf("shadow matches after the trip = %d, want %d", svc.ShadowMatches.Load(), len(accounts)-2000)
	}
	bs, err := db.Breakers(ctx)
	if err != nil || len(bs) != 1 || bs[0].Locks < 2000 {
		t.Fatalf("breakers = %+v, %v", bs, err)
	}

	// The preview changes nothing.
	filter := monban.LockFilter{RuleID: "payments-v2", Version: "2021-07-08.1"}
	p, err := svc.Rollback(ctx, risk.RollbackOptions{Filter: filter, DryRun: true})
	if err != nil || p.Total != 2000 || p.Lifted != 0 || len(p.Sample) == 0 {
		t.Fatalf("dry run = %+v, %v", p, err)
	}

	// An interrupted rollback: the context ends after the second batch.
	clock.Advance(time.Hour)
	cctx, cancel := context.WithCancel(ctx)
	var batches int
	p, err = svc.Rollback(cctx, risk.RollbackOptions{Filter: filter, Batch: 300, By: "operator:test",
		Progress: func(risk.RollbackProgress) {
			if batches++; batches == 2 {
				cancel()
			}
		}})
	if err == nil || p.Lifted != 600 {
		t.Fatalf("interrupted rollback = %+v, %v; want 600 lifted and the cancellation", p, err)
	}
	left, _ := db.CountLocks(ctx, filter)
	if left != 1400 {
		t.Fatalf("%d locks left after the interruption, want 1400", left)
	}
	// Run again: it lifts the rest, and a third run finds nothing.
	p, err = svc.Rollback(ctx, risk.RollbackOptions{Filter: filter, Batch: 300, By: "operator:test"})
	if err != nil || p.Lifted != 1400 || !p.Done {
		t.Fatalf("second rollback = %+v, %v", p, err)
	}
	p, err = svc.Rollback(ctx, risk.RollbackOptions{Filter: filter, By: "operator:test"})
	if err != nil || p.Total != 0 || p.Lifted != 0 {
		t.Fatalf("third rollback = %+v, %v", p, err)
	}

	// Every locked person got a lock notice and an unlock notice, each
	// queued by email; each has one lock and one unlock audit entry.
	for i, acc := range accounts {
		ns, _, err := db.NoticesByAccount(ctx, acc, 10)
		if err != nil {
			t.Fatal(err)
		}
		l, err := svc.ActiveLock(ctx, acc)
		if err != nil || l != nil {
			t.Fatalf("account %d still locked: %+v %v", i, l, err)
		}
		if i >= 2000 {
			if len(ns) != 0 {
				t.Errorf("account %d was never locked but has notices %+v", i, ns)
			}
			continue
		}
		if len(ns) != 2 || ns[0].Topic != monban.TopicAccountUnlocked || ns[1].Topic != monban.TopicAccountLocked {
			t.Fatalf("account %d notices = %+v, want locked then unlocked", i, ns)
		}
		evs, err := db.AuditByAccount(ctx, acc, 20)
		if err != nil {
			t.Fatal(err)
		}
		if n := countAction(evs, monban.AuditUnlocked); n != 1 {
			t.Fatalf("account %d has %d unlock audit entries, want 1", i, n)
		}
		msgs, err := db.MessagesByNotice(ctx, ns[0].ID)
		if err != nil || len(msgs) != 1 || msgs[0].Channel != monban.ChannelEmail {
			t.Fatalf("account %d unlock messages = %+v, %v", i, msgs, err)
		}
	}
}

func countAction(evs []monban.AuditEvent, action string) int {
	n := 0
	for _, e := range evs {
		if e.Action == action {
			n++
		}
	}
	return n
}
