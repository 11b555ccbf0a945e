package storetest

import (
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

var riskTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"RiskBucketsAddUp", testRiskBucketsAddUp},
	{"LockOnePerAccount", testLockOnePerAccount},
	{"LiftLocksOnce", testLiftLocksOnce},
	{"LiftBatchOncePerAccount", testLiftBatchOncePerAccount},
	{"LiftBatchRefTaken", testLiftBatchRefTaken},
	{"BreakerStopsLocks", testBreakerStopsLocks},
}

func testRiskBucketsAddUp(t *testing.T, db *sqlstore.DB) {
	b := monban.RiskBucket{Subject: "a:acc_1", Res: time.Minute, Start: at(0).Truncate(time.Minute), Type: "follow", N: 2, Total: 0}
	sig := monban.Signal{AccountID: "acc_1", Type: "follow", At: at(0), Attrs: map[string]string{"k": "v"}}
	for range 3 {
		if err := db.IngestSignals(ctx, []monban.Signal{sig, sig}, []monban.RiskBucket{b}); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.RiskBuckets(ctx, []string{"a:acc_1", "a:acc_2"}, time.Minute, at(-time.Hour), []string{"follow"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].N != 6 || !rows[0].Start.Equal(b.Start) {
		t.Fatalf("buckets = %+v, want one with 6", rows)
	}
	sigs, err := db.Signals(ctx, at(-time.Hour), at(time.Hour), 0, 100)
	if err != nil || len(sigs) != 6 || sigs[0].Attrs["k"] != "v" || !sigs[0].At.Equal(at(0)) {
		t.Fatalf("signals = %+v, %v", sigs, err)
	}
	n, err := db.PruneRisk(ctx, at(100*24*time.Hour), 90*24*time.Hour)
	if err != nil || n != 7 {
		t.Fatalf("pruned %d, %v; want 6 signals and 1 bucket", n, err)
	}
}

func newLock(accountID, rule string, created time.Time) *monban.Lock {
	return &monban.Lock{ID: monban.NewID("lck"), AccountID: accountID, Kind: monban.LockTemp, Category: monban.CategoryPayment,
		RuleID: rule, RuleVersion: "v1", Evidence: "{}", WaysOut: []monban.WayOut{monban.WayCode, monban.WaySupport},
		CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
}

func noticeFor(accountID, topic string, created time.Time) (*monban.Notice, []*monban.Message) {
	n := &monban.Notice{ID: monban.NewID("ntc"), Ref: monban.NewRef(), AccountID: accountID, Topic: topic, Lang: "ja", CreatedAt: created}
	m := &monban.Message{ID: monban.NewID("msg"), Channel: monban.ChannelEmail, Destination: "x@example.jp",
		Template: "notice." + topic, Lang: "ja", Payload: []byte("sealed"), NextAttemptAt: created, CreatedAt: created, UpdatedAt: created}
	return n, []*monban.Message{m}
}

func testLockOnePerAccount(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, at(0), ident(monban.KindUsername, "lockme", at(0)))
	l := newLock(a.ID, "r", at(0))
	n, msgs := noticeFor(a.ID, monban.TopicAccountLocked, at(0))
	if err := db.CreateLock(ctx, l, n, msgs, auditFor(a.ID, monban.AuditLocked, at(0)), nil); err != nil {
		t.Fatal(err)
	}
	got, err := db.ActiveLock(ctx, a.ID, at(time.Minute))
	if err != nil || got.ID != l.ID || got.RuleVersion != "v1" || len(got.WaysOut) != 2 || !got.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("active lock = %+v, %v", got, err)
	}
	n2, msgs2 := noticeFor(a.ID, monban.TopicAccountLocked, at(0))
	wantCode(t, db.CreateLock(ctx, newLock(a.ID, "r", at(time.Minute)), n2, msgs2, auditFor(a.ID, monban.AuditLocked, at(0)), nil),
		monban.EConflict, "lock.exists", "")
	if _, err := db.NoticeByRef(ctx, n2.Ref); !monban.IsNotFound(err) {
		t.Errorf("the refused lock's notice was stored: %v", err)
	}
	// Expired: not in force, and a new lock may be made.
	if _, err := db.ActiveLock(ctx, a.ID, at(2*time.Hour)); !monban.IsNotFound(err) {
		t.Errorf("expired lock still active: %v", err)
	}
	n3, msgs3 := noticeFor(a.ID, monban.TopicAccountLocked, at(2*time.Hour))
	if err := db.CreateLock(ctx, newLock(a.ID, "r", at(2*time.Hour)), n3, msgs3, auditFor(a.ID, monban.AuditLocked, at(0)), nil); err != nil {
		t.Fatal(err)
	}
	all, _ := db.LocksByAccount(ctx, a.ID)
	if len(all) != 2 || all[1].LiftedHow != "expired" {
		t.Errorf("locks = %+v, want the first marked expired", all)
	}
}

func testLiftLocksOnce(t *testing.T, db *sqlstore.DB) {
	var lifts []monban.LockLift
	for i := range 3 {
		a := mustCreateAccount(t, db, at(0), ident(monban.KindUsername, "lift"+string(rune('a'+i)), at(0)))
		l := newLock(a.ID, "faulty", at(0))
		n, msgs := noticeFor(a.ID, monban.TopicAccountLocked, at(0))
		if err := db.CreateLock(ctx, l, n, msgs, auditFor(a.ID, monban.AuditLocked, at(0)), nil); err != nil {
			t.Fatal(err)
		}
		un, umsgs := noticeFor(a.ID, monban.TopicAccountUnlocked, at(time.Minute))
		lifts = append(lifts, monban.LockLift{LockID: l.ID, AccountID: a.ID, At: at(time.Minute), By: "operator:t", How: "rollback",
			Notice: un, Messages: umsgs, Audit: auditFor(a.ID, monban.AuditUnlocked, at(time.Minute))})
	}
	f := monban.LockFilter{RuleID: "faulty", Version: "v1", Since: at(-time.Hour), Until: at(time.Hour)}
	if n, err := db.CountLocks(ctx, f); err != nil || n != 3 {
		t.Fatalf("count = %d, %v", n, err)
	}
	page, err := db.LocksAfter(ctx, f, "", 2)
	if err != nil || len(page) != 2 {
		t.Fatalf("first page = %d, %v", len(page), err)
	}
	ids, err := db.LiftLocks(ctx, lifts[:1])
	if err != nil || len(ids) != 1 {
		t.Fatalf("lift one = %v, %v", ids, err)
	}
	// Again with all three: the first is skipped, with its notice.
	for i := range lifts {
		lifts[i].Notice, lifts[i].Messages = noticeFor(lifts[i].AccountID, monban.TopicAccountUnlocked, at(2*time.Minute))
	}
	ids, err = db.LiftLocks(ctx, lifts)
	if err != nil || len(ids) != 2 {
		t.Fatalf("lift all = %v, %v", ids, err)
	}
	if _, err := db.NoticeByRef(ctx, lifts[0].Notice.Ref); !monban.IsNotFound(err) {
		t.Errorf("a notice was stored for a lock already lifted: %v", err)
	}
	m, err := db.MessagesByNotice(ctx, lifts[1].Notice.ID)
	if err != nil || len(m) != 1 {
		t.Errorf("messages of a lift notice = %+v, %v", m, err)
	}
	if n, _ := db.CountLocks(ctx, f); n != 0 {
		t.Errorf("%d locks still in force", n)
	}
	l, err := db.LockByID(ctx, lifts[2].LockID)
	if err != nil || l.LiftedBy != "operator:t" || l.LiftedHow != "rollback" || !l.LiftedAt.Equal(at(time.Minute)) {
		t.Errorf("lifted lock = %+v, %v", l, err)
	}
}

func testBreakerStopsLocks(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, at(0), ident(monban.KindUsername, "breaker", at(0)))
	b := monban.RiskBreaker{RuleID: "hot", RuleVersion: "v1", TrippedAt: at(0), Locks: 99, Baseline: "{}"}
	for i, want := range []bool{true, false} {
		tripped, err := db.TripBreaker(ctx, b, auditFor("", monban.AuditBreakerTipped, at(0)))
		if err != nil || tripped != want {
			t.Fatalf("trip %d = %v, %v; want %v", i, tripped, err, want)
		}
	}
	n, msgs := noticeFor(a.ID, monban.TopicAccountLocked, at(0))
	wantCode(t, db.CreateLock(ctx, newLock(a.ID, "hot", at(0)), n, msgs, auditFor(a.ID, monban.AuditLocked, at(0)), nil),
		monban.EConflict, "lock.breaker_open", "")
	c, err := db.LockCount(ctx, "hot", at(-time.Hour), at(time.Hour))
	if err != nil || c != 0 {
		t.Errorf("lock count = %d, %v", c, err)
	}
	bs, err := db.Breakers(ctx)
	if err != nil || len(bs) != 1 || bs[0].Locks != 99 {
		t.Errorf("breakers = %+v, %v", bs, err)
	}
}
