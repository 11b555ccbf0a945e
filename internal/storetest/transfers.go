package storetest

import (
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// transferTests cover moving an account to a new device: one open
// transfer per account even under a race, single use of binding codes,
// and the move as one transaction that leaves nothing half done.
var transferTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"TransferBindingMove", testTransferBindingMove},
	{"TransferStartRace", testTransferStartRace},
	{"TransferCompleteRace", testTransferCompleteRace},
	{"TransferNothingHalfDone", testTransferNothingHalfDone},
	{"TransferApprovalAndGrant", testTransferApprovalAndGrant},
}

func hash32(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func newLostTransfer(accountID, deviceID string, created time.Time) *monban.Transfer {
	id := monban.NewID("trf")
	return &monban.Transfer{ID: id, AccountID: accountID, Kind: monban.TransferLost, State: monban.TransferPending,
		SecretHash: hash32("secret-" + id), NewDeviceID: deviceID, NewKind: monban.SessionWeb, IP: "192.0.2.9",
		UserAgent: "phone", Lang: "ja", CreatedAt: created, ExpiresAt: created.Add(30 * time.Minute)}
}

// completion builds the move of t at now for the new device.
func completion(t *monban.Transfer, now time.Time, method string, from ...monban.TransferState) monban.TransferCompletion {
	s := newSession(t.AccountID, "dev_new_"+t.ID, now)
	return monban.TransferCompletion{TransferID: t.ID, Now: now, Method: method, From: from, Session: s,
		Device: &monban.Device{ID: s.DeviceID, AccountID: t.AccountID, Kind: monban.SessionWeb, Label: "new", CreatedAt: now, LastSeenAt: now},
		Audit:  monban.AuditEvent{At: now, AccountID: t.AccountID, Action: monban.AuditTransferCompleted, Detail: map[string]string{"transfer_id": t.ID}},
		Webhook: &monban.WebhookEvent{ID: monban.NewID("evt"), Type: monban.EventAccountTransferred, AccountID: t.AccountID,
			CreatedAt: now, Data: map[string]string{"transfer_id": t.ID}}}
}

func testTransferBindingMove(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	old := newSession(a.ID, "dev_old", t0)
	pc := newSession(a.ID, "dev_pc", t0)
	mustCreateSession(t, db, old, nil)
	mustCreateSession(t, db, pc, nil)
	tr := &monban.Transfer{ID: monban.NewID("trf"), AccountID: a.ID, Kind: monban.TransferBinding, State: monban.TransferOffered,
		BindingHash: hash32("code-1"), OldDeviceID: "dev_old", OldSessionID: old.ID, CreatedAt: at(time.Minute), ExpiresAt: at(11 * time.Minute)}
	if err := db.OfferTransfer(ctx, tr, auditFor(a.ID, monban.AuditTransferOffered, at(time.Minute))); err != nil {
		t.Fatal(err)
	}
	got, err := db.TransferByBindingHash(ctx, hash32("code-1"))
	if err != nil || got.ID != tr.ID || got.State != monban.TransferOffered {
		t.Fatalf("TransferByBindingHash = %+v, %v", got, err)
	}
	if _, err := db.TransferByBindingHash(ctx, hash32("code-2")); !monban.IsNotFound(err) {
		t.Fatalf("an unknown code: %v, want not found", err)
	}
	c := completion(tr, at(2*time.Minute), monban.TransferByBindingCode, monban.TransferOffered)
	c.EndDeviceID = "dev_old"
	done, ended, err := db.CompleteTransfer(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "ended devices", ended, []string{"dev_old"})
	if done.State != monban.TransferCompleted || done.NewSessionID != c.Session.ID {
		t.Fatalf("completed transfer %+v", done)
	}
	live, err := db.SessionsByAccount(ctx, a.ID, at(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, s := range live {
		ids[s.ID] = true
	}
	if ids[old.ID] || !ids[pc.ID] || !ids[c.Session.ID] || len(live) != 2 {
		t.Fatalf("live sessions %v: want the PC's and the new one, not the old device's", ids)
	}
	// The code is single use.
	c2 := completion(tr, at(3*time.Minute), monban.TransferByBindingCode, monban.TransferOffered)
	_, _, err = db.CompleteTransfer(ctx, c2)
	wantCode(t, err, monban.EConflict, "transfer.over", "")
	// An expired offer cannot complete.
	tr2 := &monban.Transfer{ID: monban.NewID("trf"), AccountID: a.ID, Kind: monban.TransferBinding, State: monban.TransferOffered,
		BindingHash: hash32("code-3"), OldDeviceID: "dev_pc", CreatedAt: at(4 * time.Minute), ExpiresAt: at(14 * time.Minute)}
	if err := db.OfferTransfer(ctx, tr2, auditFor(a.ID, monban.AuditTransferOffered, at(4*time.Minute))); err != nil {
		t.Fatal(err)
	}
	_, _, err = db.CompleteTransfer(ctx, completion(tr2, at(14*time.Minute), monban.TransferByBindingCode, monban.TransferOffered))
	wantCode(t, err, monban.EConflict, "transfer.over", "")
}

// testTransferStartRace: two new devices start a transfer of one account
// at once; exactly one wins, the other is told a transfer is in progress.
func testTransferStartRace(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, busy := 0, 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := newLostTransfer(a.ID, "dev_"+string(rune('a'+i)), at(time.Minute))
			err := db.StartTransfer(ctx, tr, auditFor(a.ID, monban.AuditTransferStarted, at(time.Minute)))
			mu.Lock()
			defer mu.Unlock()
			switch e, _ := monban.AsError(err); {
			case err == nil:
				wins++
			case e != nil && e.Key == "transfer.in_progress":
				busy++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || busy != n-1 {
		t.Fatalf("wins %d, in progress %d; want 1 and %d", wins, busy, n-1)
	}
	open, err := db.OpenTransfer(ctx, a.ID, at(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// The same device starting again replaces its own transfer.
	again := newLostTransfer(a.ID, open.NewDeviceID, at(3*time.Minute))
	if err := db.StartTransfer(ctx, again, auditFor(a.ID, monban.AuditTransferStarted, at(3*time.Minute))); err != nil {
		t.Fatalf("restart from the same device: %v", err)
	}
	if old, _ := db.TransferByID(ctx, open.ID); old.State != monban.TransferCancelled {
		t.Fatalf("replaced transfer state %s, want cancelled", old.State)
	}
	// Once it has expired, another device may start.
	late := newLostTransfer(a.ID, "dev_late", at(34*time.Minute))
	if err := db.StartTransfer(ctx, late, auditFor(a.ID, monban.AuditTransferStarted, at(34*time.Minute))); err != nil {
		t.Fatalf("start after the open one expired: %v", err)
	}
	if old, _ := db.TransferByID(ctx, again.ID); old.State != monban.TransferExpired {
		t.Fatalf("expired transfer state %s", old.State)
	}
	// A binding-code offer from the signed-in owner cancels an open one.
	offer := &monban.Transfer{ID: monban.NewID("trf"), AccountID: a.ID, Kind: monban.TransferBinding, State: monban.TransferOffered,
		BindingHash: hash32("offer"), OldDeviceID: "dev_owner", CreatedAt: at(35 * time.Minute), ExpiresAt: at(45 * time.Minute)}
	if err := db.OfferTransfer(ctx, offer, auditFor(a.ID, monban.AuditTransferOffered, at(35*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if old, _ := db.TransferByID(ctx, late.ID); old.State != monban.TransferCancelled {
		t.Fatalf("open transfer after the owner's offer: %s, want cancelled", old.State)
	}
}

// testTransferCompleteRace: one proven transfer completed by many requests
// at once moves the account once.
func testTransferCompleteRace(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	mustCreateSession(t, db, newSession(a.ID, "dev_old", t0), nil)
	tr := newLostTransfer(a.ID, "dev_new", at(time.Minute))
	if err := db.StartTransfer(ctx, tr, auditFor(a.ID, monban.AuditTransferStarted, at(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if err := db.ApproveTransfer(ctx, tr.ID, monban.TransferByTOTP, at(2*time.Minute), auditFor(a.ID, monban.AuditTransferProven, at(2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, over := 0, 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := db.CompleteTransfer(ctx, completion(tr, at(3*time.Minute), monban.TransferByTOTP, monban.TransferApproved))
			mu.Lock()
			defer mu.Unlock()
			switch e, _ := monban.AsError(err); {
			case err == nil:
				wins++
			case e != nil && e.Key == "transfer.over":
				over++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || over != n-1 {
		t.Fatalf("wins %d, over %d", wins, over)
	}
	live, err := db.SessionsByAccount(ctx, a.ID, at(4*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 {
		t.Fatalf("%d live sessions after the move, want only the new device's", len(live))
	}
}

// testTransferNothingHalfDone: a move whose last step fails (here: the
// grant it needs is missing) leaves the transfer, the sessions, the audit
// log and the webhook events as they were.
func testTransferNothingHalfDone(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	old := newSession(a.ID, "dev_old", t0)
	mustCreateSession(t, db, old, nil)
	tr := newLostTransfer(a.ID, "dev_new", at(time.Minute))
	if err := db.StartTransfer(ctx, tr, auditFor(a.ID, monban.AuditTransferStarted, at(time.Minute))); err != nil {
		t.Fatal(err)
	}
	before, err := db.AuditByAccount(ctx, a.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	c := completion(tr, at(2*time.Minute), monban.TransferByGrant, monban.TransferPending)
	c.GrantStep = monban.GrantTransferCode
	c.GrantAudit = auditFor(a.ID, monban.AuditGrantUsed, at(2*time.Minute))
	_, _, err = db.CompleteTransfer(ctx, c)
	wantCode(t, err, monban.ENotFound, "grant.none", "")
	got, _ := db.TransferByID(ctx, tr.ID)
	if got.State != monban.TransferPending || got.NewSessionID != "" {
		t.Fatalf("transfer after a failed move: %+v", got)
	}
	live, _ := db.SessionsByAccount(ctx, a.ID, at(3*time.Minute))
	if len(live) != 1 || live[0].ID != old.ID {
		t.Fatalf("sessions after a failed move: %+v", live)
	}
	after, _ := db.AuditByAccount(ctx, a.ID, 100)
	if len(after) != len(before) {
		t.Fatalf("audit grew from %d to %d entries on a failed move", len(before), len(after))
	}
	// A grant of another account or another step does not help either.
	b := mustCreateAccount(t, db, t0)
	mustGrant(t, db, newGrant(b.ID, monban.GrantTransferCode, t0, 48*time.Hour))
	mustGrant(t, db, newGrant(a.ID, monban.GrantVerifyPhone, t0, 48*time.Hour))
	c.Session = newSession(a.ID, "dev_new", at(2*time.Minute))
	_, _, err = db.CompleteTransfer(ctx, c)
	wantCode(t, err, monban.ENotFound, "grant.none", "")
}

// testTransferApprovalAndGrant: an approval completes the transfer with
// its prompt and keeps the approving session; a grant is spent once.
func testTransferApprovalAndGrant(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	pc := newSession(a.ID, "dev_pc", t0)
	lost := newSession(a.ID, "dev_lost", t0)
	mustCreateSession(t, db, pc, nil)
	mustCreateSession(t, db, lost, nil)
	tr := newLostTransfer(a.ID, "dev_new", at(time.Minute))
	if err := db.StartTransfer(ctx, tr, auditFor(a.ID, monban.AuditTransferStarted, at(time.Minute))); err != nil {
		t.Fatal(err)
	}
	p := newPending(a.ID, at(time.Minute))
	p.Reason, p.DeviceID = monban.HoldTransfer, "dev_new"
	p.ApprovalAskedAt, p.ApprovalExpiresAt, p.ExpiresAt = at(time.Minute), tr.ExpiresAt, tr.ExpiresAt
	if err := db.ConfirmTransferPhone(ctx, tr.ID, at(time.Minute), p, auditFor(a.ID, monban.AuditTransferPhone, at(time.Minute))); err != nil {
		t.Fatal(err)
	}
	c := completion(tr, at(2*time.Minute), monban.TransferByApproval, monban.TransferPending)
	c.PendingID, c.KeepSessionID = p.ID, pc.ID
	// Not approved yet: refused, nothing changes.
	_, _, err := db.CompleteTransfer(ctx, c)
	wantCode(t, err, monban.EConflict, "transfer.not_approved", "")
	if err := db.DecidePending(ctx, p.ID, monban.PendingApproved, pc.ID, at(2*time.Minute), auditFor(a.ID, monban.AuditSignInApproved, at(2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	c.Session = newSession(a.ID, "dev_new", at(3*time.Minute))
	c.Now = at(3 * time.Minute)
	_, ended, err := db.CompleteTransfer(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "ended", ended, []string{"dev_lost"})
	if got, _ := db.PendingByID(ctx, p.ID); got.State != monban.PendingCompleted {
		t.Fatalf("prompt state %s, want completed", got.State)
	}
	// A grant: used once, by the move.
	mustGrant(t, db, newGrant(a.ID, monban.GrantTransferCode, at(4*time.Minute), 48*time.Hour))
	tr2 := newLostTransfer(a.ID, "dev_newer", at(5*time.Minute))
	if err := db.StartTransfer(ctx, tr2, auditFor(a.ID, monban.AuditTransferStarted, at(5*time.Minute))); err != nil {
		t.Fatal(err)
	}
	g := completion(tr2, at(6*time.Minute), monban.TransferByGrant, monban.TransferPending)
	g.GrantStep, g.GrantAudit = monban.GrantTransferCode, auditFor(a.ID, monban.AuditGrantUsed, at(6*time.Minute))
	if _, _, err := db.CompleteTransfer(ctx, g); err != nil {
		t.Fatal(err)
	}
	gs, _ := db.GrantsByAccount(ctx, a.ID, at(7*time.Minute))
	if len(gs) != 0 {
		t.Fatalf("usable grants after the move: %+v", gs)
	}
}
