package risk_test

import (
	"context"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/risk"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/storetest"
)

// Several batches lifted at once (as on PostgreSQL) still lift every lock
// once: each person gets one unlock notice (by email) and one audit entry, and the
// progress reports add up, one per batch.
func TestRollbackWorkers(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) *sqlstore.DB
	}{{"sqlite", storetest.Open}, {"postgres", storetest.OpenPostgres}}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			db := st.open(t)
			clock := clocktest.New(time.Date(2021, 7, 8, 10, 0, 0, 0, time.UTC))
			accounts := newAccounts(t, db, 250, clock.Now())
			for _, acc := range accounts {
				l := &monban.Lock{ID: monban.NewID("lck"), AccountID: acc, Kind: monban.LockTemp, Category: monban.CategoryPayment,
					RuleID: "faulty", RuleVersion: "v1", Evidence: "{}", WaysOut: []monban.WayOut{monban.WaySupport}, CreatedAt: clock.Now()}
				if err := db.CreateLock(ctx, l, nil, nil, monban.AuditEvent{At: clock.Now(), AccountID: acc, Action: monban.AuditLocked}, nil); err != nil {
					t.Fatal(err)
				}
			}
			svc := newService(t, db, clock)
			clock.Advance(time.Hour)
			var reports []risk.RollbackProgress
			p, err := svc.Rollback(ctx, risk.RollbackOptions{Filter: monban.LockFilter{RuleID: "faulty"}, Batch: 40, Workers: 3,
				Progress: func(p risk.RollbackProgress) { reports = append(reports, p) }})
			if err != nil || p.Lifted != 250 || p.Skipped != 0 || !p.Done {
				t.Fatalf("rollback = %+v, %v", p, err)
			}
			if len(reports) != 7 || reports[6].Lifted != 250 {
				t.Fatalf("%d progress reports, last %+v; want 7, the last with 250", len(reports), reports[len(reports)-1])
			}
			for i := 1; i < len(reports); i++ {
				if reports[i].Lifted <= reports[i-1].Lifted {
					t.Fatalf("progress went from %d to %d", reports[i-1].Lifted, reports[i].Lifted)
				}
			}
			for i, acc := range accounts {
				ns, _, err := db.NoticesByAccount(ctx, acc, 10)
				if err != nil || len(ns) != 1 || ns[0].Topic != monban.TopicAccountUnlocked {
					t.Fatalf("account %d notices = %+v, %v; want one unlock notice", i, ns, err)
				}
				msgs, err := db.MessagesByNotice(ctx, ns[0].ID)
				if err != nil || len(msgs) != 1 || msgs[0].Channel != monban.ChannelEmail {
					t.Fatalf("account %d unlock messages = %+v, %v; want one email", i, msgs, err)
				}
				evs, err := db.AuditByAccount(ctx, acc, 10)
				if n := countAction(evs, monban.AuditUnlocked); err != nil || n != 1 {
					t.Fatalf("account %d has %d unlock audit entries, %v; want 1", i, n, err)
				}
			}
			if p, err := svc.Rollback(ctx, risk.RollbackOptions{Filter: monban.LockFilter{RuleID: "faulty"}, Workers: 3}); err != nil || p.Lifted != 0 || !p.Done {
				t.Fatalf("second rollback = %+v, %v; want nothing to do", p, err)
			}
		})
	}
}
