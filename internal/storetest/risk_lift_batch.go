package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// testLiftBatchOncePerAccount lifts a rollback batch (some locks already
// lifted, two messages for one person) and checks that each account lifted
// got exactly one notice with its messages, one audit entry and one
// webhook event (with a delivery to the subscriber), those lifted before
// nothing more;
// and that lifting the same batch again lifts and writes nothing more.
func testLiftBatchOncePerAccount(t *testing.T, db *sqlstore.DB) {
	sub := subscribe(t, db, "key_lift", monban.EventAccountUnlocked)
	const n = 7
	var lifts []monban.LockLift
	for i := range n {
		a := mustCreateAccount(t, db, at(0))
		l := newLock(a.ID, "batch", at(0))
		if err := db.CreateLock(ctx, l, nil, nil, auditFor(a.ID, monban.AuditLocked, at(0)), nil); err != nil {
			t.Fatal(err)
		}
		lifts = append(lifts, liftFor(l, i == 3))
	}
	// Two were lifted before the batch (by their people).
	for _, i := range []int{1, 5} {
		early := liftFor(&monban.Lock{ID: lifts[i].LockID, AccountID: lifts[i].AccountID}, false)
		early.How, early.Event.Data["how"] = "code", "code"
		if err := db.LiftLock(ctx, early); err != nil {
			t.Fatal(err)
		}
		lifts[i].Notice, lifts[i].Messages = noticeFor(lifts[i].AccountID, monban.TopicAccountUnlocked, at(time.Minute))
	}
	ids, err := db.LiftLocks(ctx, lifts)
	if err != nil || len(ids) != n-2 {
		t.Fatalf("lift batch = %v, %v; want %d lifted", ids, err, n-2)
	}
	batchNotice := make([]string, n) // the notice each account got
	for i, l := range lifts {
		batchNotice[i] = l.Notice.ID
	}
	checkLifted := func() {
		t.Helper()
		for i, l := range lifts {
			byBatch := i != 1 && i != 5
			ns, _, err := db.NoticesByAccount(ctx, l.AccountID, 10)
			if err != nil || len(ns) != 1 {
				t.Fatalf("account %d: notices = %+v, %v; want one", i, ns, err)
			}
			if byBatch != (ns[0].ID == batchNotice[i]) {
				t.Errorf("account %d: notice %s, batch's %s", i, ns[0].ID, batchNotice[i])
			}
			msgs, err := db.MessagesByNotice(ctx, ns[0].ID)
			if want := 1 + btoi(byBatch && i == 3); err != nil || len(msgs) != want {
				t.Errorf("account %d: messages = %d, %v; want %d", i, len(msgs), err, want)
			}
			evs, err := db.AuditByAccount(ctx, l.AccountID, 10)
			if got := countAudit(evs, monban.AuditUnlocked); err != nil || got != 1 {
				t.Errorf("account %d: %d unlock audit entries, %v; want 1", i, got, err)
			}
			lk, err := db.LockByID(ctx, l.LockID)
			if err != nil || lk.LiftedAt.IsZero() || (lk.LiftedHow == "rollback") != byBatch {
				t.Errorf("account %d: lock = %+v, %v", i, lk, err)
			}
		}
		// One account.unlocked per account: by the batch or by its person.
		ds, err := db.WebhookDeliveries(ctx, sub.APIKeyID, "", 100)
		if err != nil || len(ds) != n {
			t.Fatalf("deliveries = %d, %v; want %d", len(ds), err, n)
		}
		seen := map[string]bool{}
		rolledBack := 0
		for _, d := range ds {
			var body struct {
				AccountID string            `json:"account_id"`
				Data      map[string]string `json:"data"`
			}
			if err := json.Unmarshal(d.Body, &body); err != nil || d.EventType != monban.EventAccountUnlocked {
				t.Fatalf("delivery %+v: %v", d, err)
			}
			if seen[body.AccountID] {
				t.Errorf("a second event for %s: %+v", body.AccountID, body)
			}
			seen[body.AccountID] = true
			rolledBack += btoi(body.Data["how"] == "rollback")
		}
		if rolledBack != n-2 {
			t.Errorf("%d events of the rollback, want %d", rolledBack, n-2)
		}
	}
	checkLifted()
	// Again, as a re-run after an interruption would: nothing more.
	for i, l := range lifts {
		lifts[i] = liftFor(&monban.Lock{ID: l.LockID, AccountID: l.AccountID}, i == 3)
	}
	ids, err = db.LiftLocks(ctx, lifts)
	if err != nil || len(ids) != 0 {
		t.Fatalf("second lift = %v, %v; want none", ids, err)
	}
	checkLifted()
}

// testLiftBatchRefTaken: a batch whose notice drew a reference already in
// use lifts nothing and says so, so that the caller can draw again.
func testLiftBatchRefTaken(t *testing.T, db *sqlstore.DB) {
	var lifts []monban.LockLift
	for range 3 {
		a := mustCreateAccount(t, db, at(0))
		l := newLock(a.ID, "taken", at(0))
		n, msgs := noticeFor(a.ID, monban.TopicAccountLocked, at(0))
		if err := db.CreateLock(ctx, l, n, msgs, auditFor(a.ID, monban.AuditLocked, at(0)), nil); err != nil {
			t.Fatal(err)
		}
		lifts = append(lifts, liftFor(l, false))
		lifts[len(lifts)-1].Notice.Ref = n.Ref // the lock notice's reference, drawn again
	}
	lifts[0].Notice.Ref, lifts[2].Notice.Ref = monban.NewRef(), monban.NewRef()
	_, err := db.LiftLocks(ctx, lifts)
	wantCode(t, err, monban.EConflict, "notice.ref_taken", "")
	if n, err := db.CountLocks(ctx, monban.LockFilter{RuleID: "taken"}); err != nil || n != 3 {
		t.Errorf("%d locks in force, %v; want all 3 (nothing lifted)", n, err)
	}
}

// liftFor is a rollback's lift of l with its notice (by email, and by SMS
// too when sms), audit entry and webhook event.
func liftFor(l *monban.Lock, sms bool) monban.LockLift {
	when := at(time.Minute)
	n, msgs := noticeFor(l.AccountID, monban.TopicAccountUnlocked, when)
	if sms {
		m := *msgs[0]
		m.ID, m.Channel, m.Destination = monban.NewID("msg"), monban.ChannelSMS, "+819012345678"
		msgs = append(msgs, &m)
	}
	return monban.LockLift{LockID: l.ID, AccountID: l.AccountID, At: when, By: "operator:t", How: "rollback",
		Notice: n, Messages: msgs, Audit: auditFor(l.AccountID, monban.AuditUnlocked, when),
		Event: &monban.WebhookEvent{ID: monban.NewID("evt"), Type: monban.EventAccountUnlocked, AccountID: l.AccountID,
			Data: map[string]string{"lock_id": l.ID, "how": "rollback"}, CreatedAt: when}}
}

func countAudit(evs []monban.AuditEvent, action string) int {
	n := 0
	for _, e := range evs {
		if e.Action == action {
			n++
		}
	}
	return n
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
