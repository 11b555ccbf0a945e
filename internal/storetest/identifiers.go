package storetest

import (
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

var identifierTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"ReplaceUnverifiedIdentifier", testReplaceUnverifiedIdentifier},
	{"RevokeDevice", testRevokeDevice},
	{"ExpireUndelivered", testExpireUndelivered},
}

func testReplaceUnverifiedIdentifier(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0, ident(monban.KindPhone, "+819012345678", t0))
	ev := auditFor(a.ID, monban.AuditIdentifierFix, at(1))
	if err := db.ReplaceUnverifiedIdentifier(ctx, a.ID, monban.KindPhone, "+819012345678", "+818012345678", ev); err != nil {
		t.Fatalf("ReplaceUnverifiedIdentifier: %v", err)
	}
	got, err := db.AccountsByIdentifier(ctx, monban.KindPhone, "+818012345678")
	if err != nil || len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("new number: %v, %v", got, err)
	}
	if old, _ := db.AccountsByIdentifier(ctx, monban.KindPhone, "+819012345678"); len(old) != 0 {
		t.Fatalf("old number still bound: %v", old)
	}
	// Not the current value (already replaced): not found, nothing written.
	err = db.ReplaceUnverifiedIdentifier(ctx, a.ID, monban.KindPhone, "+819012345678", "+817012345678", ev)
	wantCode(t, err, monban.ENotFound, "", "")
	evs, _ := db.AuditByAccount(ctx, a.ID, 10)
	n := 0
	for _, e := range evs {
		if e.Action == monban.AuditIdentifierFix {
			n++
		}
	}
	wantEqual(t, "correction audit entries", n, 1)
}

func testRevokeDevice(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	other := mustCreateAccount(t, db, t0)
	dev := &monban.Device{ID: "dev_phone", AccountID: a.ID, Kind: monban.SessionWeb, Label: "Chrome / Android", CreatedAt: t0, LastSeenAt: t0}
	s1, s2 := newSession(a.ID, dev.ID, t0), newSession(a.ID, dev.ID, at(1))
	keep := newSession(a.ID, "dev_pc", t0)
	mustCreateSession(t, db, s1, dev)
	mustCreateSession(t, db, s2, dev)
	mustCreateSession(t, db, keep, &monban.Device{ID: "dev_pc", AccountID: a.ID, Kind: monban.SessionWeb, CreatedAt: t0, LastSeenAt: t0})

	// Another account cannot revoke it.
	err := db.RevokeDevice(ctx, other.ID, dev.ID, at(2), auditFor(other.ID, monban.AuditDeviceRevoked, at(2)))
	wantCode(t, err, monban.ENotFound, "", "")

	if err := db.RevokeDevice(ctx, a.ID, dev.ID, at(2), auditFor(a.ID, monban.AuditDeviceRevoked, at(2))); err != nil {
		t.Fatalf("RevokeDevice: %v", err)
	}
	active, err := db.SessionsByAccount(ctx, a.ID, at(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || active[0].ID != keep.ID {
		t.Fatalf("active sessions after revoking the device: %+v", active)
	}
	devs, _ := db.DevicesByAccount(ctx, a.ID)
	if len(devs) != 1 || devs[0].ID != "dev_pc" {
		t.Fatalf("devices: %+v", devs)
	}
}

func testExpireUndelivered(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	mk := func(status monban.MessageStatus, expires time.Time) *monban.Message {
		m := &monban.Message{ID: monban.NewID("msg"), AccountID: a.ID, Channel: monban.ChannelSMS, Destination: "+819012345678",
			Template: "code.verify_phone", Lang: "ja", Status: status, CreatedAt: t0, ExpiresAt: expires, UpdatedAt: t0}
		if err := db.EnqueueMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	stale := mk(monban.MessageSent, at(10*time.Minute))
	fresh := mk(monban.MessageSent, at(20*time.Minute))
	done := mk(monban.MessageDelivered, at(10*time.Minute))
	n, err := db.ExpireUndelivered(ctx, at(15*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("ExpireUndelivered = %d, %v; want 1", n, err)
	}
	for m, want := range map[*monban.Message]monban.MessageStatus{stale: monban.MessageExpired, fresh: monban.MessageSent, done: monban.MessageDelivered} {
		got, err := db.MessageByID(ctx, m.ID)
		if err != nil || got.Status != want {
			t.Fatalf("message %s: %v, %v; want %s", m.ID, got, err, want)
		}
	}
}
