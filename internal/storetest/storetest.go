package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// Run runs the store suite; open must return a fresh, migrated store.
func Run(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *sqlstore.DB)
	}{
		{"MigrateTwice", testMigrateTwice},
		{"CreateAccount", testCreateAccount},
		{"TimesRoundTrip", testTimesRoundTrip},
		{"IdentifierTaken", testIdentifierTaken},
		{"SharedPhone", testSharedPhone},
		{"SharedPhoneConcurrent", testSharedPhoneConcurrent},
		{"UpdatePasswordHash", testUpdatePasswordHash},
		{"Sessions", testSessions},
		{"CreateSessionAllOrNothing", testCreateSessionAllOrNothing},
		{"RevokeSession", testRevokeSession},
		{"RevokeOtherSessions", testRevokeOtherSessions},
		{"DeviceUpsert", testDeviceUpsert},
		{"Audit", testAudit},
		{"APIKeys", testAPIKeys},
		{"Agents", testAgents},
		{"ConcurrentWrites", testConcurrentWrites},
	}
	tests = append(tests, outboxTests...)
	tests = append(tests, identifierTests...)
	tests = append(tests, codeTests...)
	tests = append(tests, recoveryTests...)
	tests = append(tests, noticeTests...)
	tests = append(tests, riskTests...)
	tests = append(tests, webhookTests...)
	tests = append(tests, auditExportTests...)
	tests = append(tests, deskTests...)
	tests = append(tests, caseTests...)
	tests = append(tests, twoStepTests...)
	tests = append(tests, transferTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

// t0 is the base time of the fixtures; microsecond precision, UTC.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func newAccount(created time.Time) *monban.Account {
	return &monban.Account{
		ID: monban.NewID("acc"), Status: monban.AccountActive,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Lang:         "ja", CreatedAt: created, UpdatedAt: created,
	}
}

func ident(kind monban.IdentifierKind, value string, created time.Time) monban.Identifier {
	return monban.Identifier{Kind: kind, Value: value, CreatedAt: created}
}

func auditFor(accountID, action string, when time.Time) monban.AuditEvent {
	return monban.AuditEvent{At: when, AccountID: accountID, Action: action, IP: "192.0.2.1", UserAgent: "test"}
}

// mustCreateAccount stores an account with a unique username.
func mustCreateAccount(t *testing.T, db *sqlstore.DB, created time.Time, ids ...monban.Identifier) *monban.Account {
	t.Helper()
	a := newAccount(created)
	ids = append(ids, ident(monban.KindUsername, "u_"+a.ID, created))
	if err := db.CreateAccount(ctx, a, ids, auditFor(a.ID, monban.AuditRegistered, created)); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	return a
}

func newSession(accountID, deviceID string, created time.Time) *monban.Session {
	id := monban.NewID("ses")
	h := sha256.Sum256([]byte("token-" + id))
	return &monban.Session{
		ID: id, TokenHash: h[:], AccountID: accountID, DeviceID: deviceID,
		Kind: monban.SessionWeb, AuthLevel: monban.AuthPassword, Methods: []string{"pwd"},
		IP: "192.0.2.1", UserAgent: "Mozilla/5.0", CreatedAt: created, LastSeenAt: created,
		ExpiresAt: created.Add(30 * 24 * time.Hour),
	}
}

func mustCreateSession(t *testing.T, db *sqlstore.DB, s *monban.Session, d *monban.Device) {
	t.Helper()
	if err := db.CreateSession(ctx, s, d, auditFor(s.AccountID, monban.AuditSignedIn, s.CreatedAt)); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
}

func wantCode(t *testing.T, err error, code monban.ErrorCode, key, field string) {
	t.Helper()
	e, ok := monban.AsError(err)
	if !ok || e.Code != code || (key != "" && e.Key != key) || e.Field != field {
		t.Fatalf("error = %v, want %s %q field %q", err, code, key, field)
	}
}

func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func wantAccountAbsent(t *testing.T, db *sqlstore.DB, id string) {
	t.Helper()
	if _, err := db.AccountByID(ctx, id); !monban.IsNotFound(err) {
		t.Fatalf("AccountByID(%s) = %v, want not found: nothing may be written on error", id, err)
	}
	if ids, err := db.IdentifiersByAccount(ctx, id); err != nil || len(ids) != 0 {
		t.Fatalf("IdentifiersByAccount(%s) = %v, %v; want none", id, ids, err)
	}
	if evs, err := db.AuditByAccount(ctx, id, 10); err != nil || len(evs) != 0 {
		t.Fatalf("AuditByAccount(%s) = %v, %v; want none", id, evs, err)
	}
}

func testMigrateTwice(t *testing.T, db *sqlstore.DB) {
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if d := db.Dialect(); d != "sqlite" && d != "postgres" {
		t.Fatalf("Dialect = %q", d)
	}
}

func testCreateAccount(t *testing.T, db *sqlstore.DB) {
	a := newAccount(t0)
	a.TwoStep = true
	ids := []monban.Identifier{
		ident(monban.KindUsername, "hanako", t0),
		{Kind: monban.KindEmail, Value: "hanako@example.jp", Verified: true, CreatedAt: at(time.Second)},
		ident(monban.KindPhone, "+819012345678", at(2*time.Second)),
	}
	if err := db.CreateAccount(ctx, a, ids, auditFor(a.ID, monban.AuditRegistered, t0)); err != nil {
		t.Fatal(err)
	}
	got, err := db.AccountByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "AccountByID", got, a)

	gotIDs, err := db.IdentifiersByAccount(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		ids[i].AccountID = a.ID
	}
	wantEqual(t, "IdentifiersByAccount", gotIDs, ids)

	for _, id := range ids {
		accs, err := db.AccountsByIdentifier(ctx, id.Kind, id.Value)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "AccountsByIdentifier "+string(id.Kind), accs, []monban.Account{*a})
	}
	accs, err := db.AccountsByIdentifier(ctx, monban.KindEmail, "nobody@example.jp")
	if err != nil || accs == nil || len(accs) != 0 {
		t.Fatalf("AccountsByIdentifier(unknown) = %#v, %v; want empty, nil", accs, err)
	}
	if _, err := db.AccountByID(ctx, "acc_missing"); !monban.IsNotFound(err) {
		t.Fatalf("AccountByID(missing) = %v, want ENotFound", err)
	}
	evs, err := db.AuditByAccount(ctx, a.ID, 10)
	if err != nil || len(evs) != 1 || evs[0].Action != monban.AuditRegistered {
		t.Fatalf("audit = %+v, %v; want one %s", evs, err, monban.AuditRegistered)
	}
}

func testTimesRoundTrip(t *testing.T, db *sqlstore.DB) {
	tokyo := time.FixedZone("JST", 9*3600)
	created := time.Date(2031, 12, 31, 23, 59, 59, 999999000, tokyo)
	a := mustCreateAccount(t, db, created)
	got, err := db.AccountByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(created) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt = %v, want %v in UTC", got.CreatedAt, created)
	}
	// Zero times stay zero; sub-microsecond digits are dropped.
	s := newSession(a.ID, "", created)
	s.LastSeenAt = created.Add(1500 * time.Nanosecond)
	mustCreateSession(t, db, s, nil)
	gs, err := db.SessionByTokenHash(ctx, s.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	if !gs.RevokedAt.IsZero() {
		t.Fatalf("RevokedAt = %v, want zero", gs.RevokedAt)
	}
	if want := created.Add(time.Microsecond); !gs.LastSeenAt.Equal(want) {
		t.Fatalf("LastSeenAt = %v, want %v", gs.LastSeenAt, want)
	}
	if !gs.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("ExpiresAt = %v, want %v", gs.ExpiresAt, s.ExpiresAt)
	}
}

func testIdentifierTaken(t *testing.T, db *sqlstore.DB) {
	mustCreateAccount(t, db, t0,
		ident(monban.KindUsername, "taro", t0), ident(monban.KindEmail, "taro@example.jp", t0))
	for _, tc := range []struct {
		kind monban.IdentifierKind
		ids  []monban.Identifier
	}{
		{monban.KindUsername, []monban.Identifier{
			ident(monban.KindEmail, "other@example.jp", t0), ident(monban.KindUsername, "taro", t0)}},
		{monban.KindEmail, []monban.Identifier{
			ident(monban.KindUsername, "jiro", t0), ident(monban.KindEmail, "taro@example.jp", t0)}},
	} {
		b := newAccount(at(time.Minute))
		err := db.CreateAccount(ctx, b, tc.ids, auditFor(b.ID, monban.AuditRegistered, b.CreatedAt))
		wantCode(t, err, monban.EConflict, "identifier.taken", string(tc.kind))
		wantAccountAbsent(t, db, b.ID)
	}
	// The identifiers of the failed attempts are free again.
	mustCreateAccount(t, db, at(time.Hour),
		ident(monban.KindEmail, "other@example.jp", t0), ident(monban.KindUsername, "jiro", t0))
}

func testSharedPhone(t *testing.T, db *sqlstore.DB) {
	const phone = "+818011112222"
	var want []monban.Account
	for i := range monban.MaxAccountsPerPhone {
		// Created out of order: the result is ordered by creation time.
		created := at(time.Duration(monban.MaxAccountsPerPhone-i) * time.Minute)
		a := mustCreateAccount(t, db, created, ident(monban.KindPhone, phone, created))
		want = append([]monban.Account{*a}, want...)
	}
	b := newAccount(at(time.Hour))
	err := db.CreateAccount(ctx, b,
		[]monban.Identifier{ident(monban.KindUsername, "sixth", t0), ident(monban.KindPhone, phone, t0)},
		auditFor(b.ID, monban.AuditRegistered, t0))
	wantCode(t, err, monban.EConflict, "phone.too_many_accounts", "phone")
	wantAccountAbsent(t, db, b.ID)

	got, err := db.AccountsByIdentifier(ctx, monban.KindPhone, phone)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "accounts sharing the phone", got, want)
	// Another number is unaffected.
	mustCreateAccount(t, db, t0, ident(monban.KindPhone, "+818099998888", t0))
}

// testSharedPhoneConcurrent checks that the cap holds when many sign-ups
// race for one number.
func testSharedPhoneConcurrent(t *testing.T, db *sqlstore.DB) {
	const phone = "+817033334444"
	const n = 3 * monban.MaxAccountsPerPhone
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := newAccount(t0)
			ids := []monban.Identifier{ident(monban.KindUsername, "p_"+a.ID, t0), ident(monban.KindPhone, phone, t0)}
			errs[i] = db.CreateAccount(ctx, a, ids, auditFor(a.ID, monban.AuditRegistered, t0))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case monban.ErrorCodeOf(err) != monban.EConflict:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	got, err := db.AccountsByIdentifier(ctx, monban.KindPhone, phone)
	if err != nil {
		t.Fatal(err)
	}
	if ok != monban.MaxAccountsPerPhone || len(got) != monban.MaxAccountsPerPhone {
		t.Fatalf("%d sign-ups succeeded, %d accounts hold the phone; want %d", ok, len(got), monban.MaxAccountsPerPhone)
	}
}

func testUpdatePasswordHash(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	ev := auditFor(a.ID, monban.AuditPasswordRehash, Epoch)
	if err := db.UpdatePasswordHash(ctx, a.ID, "$argon2id$new", ev); err != nil {
		t.Fatal(err)
	}
	got, err := db.AccountByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "$argon2id$new" || !got.UpdatedAt.After(got.CreatedAt) {
		t.Fatalf("after update: hash %q, updated %v (created %v)", got.PasswordHash, got.UpdatedAt, got.CreatedAt)
	}
	evs, _ := db.AuditByAccount(ctx, a.ID, 1)
	if len(evs) != 1 || evs[0].Action != monban.AuditPasswordRehash {
		t.Fatalf("latest audit = %+v, want %s", evs, monban.AuditPasswordRehash)
	}
	err = db.UpdatePasswordHash(ctx, "acc_missing", "x", auditFor("acc_missing", monban.AuditPasswordRehash, t0))
	wantCode(t, err, monban.ENotFound, "", "")
	if evs, _ := db.AuditByAccount(ctx, "acc_missing", 10); len(evs) != 0 {
		t.Fatalf("audit written for a failed update: %+v", evs)
	}
}

func testSessions(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	other := mustCreateAccount(t, db, t0)
	d := &monban.Device{ID: "dev1", AccountID: a.ID, Kind: monban.SessionWeb, Label: "Firefox on Linux",
		CreatedAt: t0, LastSeenAt: t0}
	s1 := newSession(a.ID, d.ID, t0)
	s1.Methods = []string{"pwd", "otp"}
	s1.AuthLevel = monban.AuthTwoStep
	mustCreateSession(t, db, s1, d)
	s2 := newSession(a.ID, "", at(time.Minute))
	s2.Kind, s2.Methods = monban.SessionApp, nil
	mustCreateSession(t, db, s2, nil)
	expired := newSession(a.ID, "", at(2*time.Minute))
	expired.ExpiresAt = at(time.Hour)
	mustCreateSession(t, db, expired, nil)
	mustCreateSession(t, db, newSession(other.ID, "", at(3*time.Minute)), nil)

	got, err := db.SessionByTokenHash(ctx, s1.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "SessionByTokenHash", got, s1)
	missing := sha256.Sum256([]byte("no such token"))
	if _, err := db.SessionByTokenHash(ctx, missing[:]); !monban.IsNotFound(err) {
		t.Fatalf("SessionByTokenHash(missing) = %v, want ENotFound", err)
	}

	if err := db.TouchSession(ctx, s1.ID, at(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.SessionByTokenHash(ctx, s1.TokenHash); !got.LastSeenAt.Equal(at(10 * time.Minute)) {
		t.Fatalf("LastSeenAt after touch = %v", got.LastSeenAt)
	}
	wantCode(t, db.TouchSession(ctx, "ses_missing", t0), monban.ENotFound, "", "")

	list, err := db.SessionsByAccount(ctx, a.ID, at(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s1.LastSeenAt = at(10 * time.Minute)
	wantEqual(t, "SessionsByAccount (expired left out, newest first)", list, []monban.Session{*s2, *s1})
	if list, _ := db.SessionsByAccount(ctx, a.ID, t0); len(list) != 3 {
		t.Fatalf("before expiry: %d sessions, want 3", len(list))
	}

	dev, err := db.DeviceByID(ctx, a.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "DeviceByID", dev, d)
	if _, err := db.DeviceByID(ctx, other.ID, d.ID); !monban.IsNotFound(err) {
		t.Fatalf("DeviceByID(other account) = %v, want ENotFound", err)
	}
	devs, err := db.DevicesByAccount(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "DevicesByAccount", devs, []monban.Device{*d})
	if devs, err := db.DevicesByAccount(ctx, other.ID); err != nil || devs == nil || len(devs) != 0 {
		t.Fatalf("DevicesByAccount(other) = %#v, %v; want empty", devs, err)
	}
}

func testRevokeSession(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	b := mustCreateAccount(t, db, t0)
	s := newSession(a.ID, "", t0)
	mustCreateSession(t, db, s, nil)
	ev := auditFor(a.ID, monban.AuditSessionRevoked, at(time.Hour))

	wantCode(t, db.RevokeSession(ctx, b.ID, s.ID, at(time.Hour), auditFor(b.ID, monban.AuditSessionRevoked, t0)),
		monban.ENotFound, "", "")
	if evs, _ := db.AuditByAccount(ctx, b.ID, 10); len(evs) != 1 {
		t.Fatalf("failed revoke wrote audit: %+v", evs)
	}
	if err := db.RevokeSession(ctx, a.ID, s.ID, at(time.Hour), ev); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RevokeSession(ctx, a.ID, s.ID, at(2*time.Hour), ev), monban.ENotFound, "", "")

	got, err := db.SessionByTokenHash(ctx, s.TokenHash)
	if err != nil {
		t.Fatalf("revoked session must still be found by hash: %v", err)
	}
	if !got.RevokedAt.Equal(at(time.Hour)) {
		t.Fatalf("RevokedAt = %v, want %v", got.RevokedAt, at(time.Hour))
	}
	if list, _ := db.SessionsByAccount(ctx, a.ID, at(time.Hour)); len(list) != 0 {
		t.Fatalf("revoked session listed: %+v", list)
	}
	evs, _ := db.AuditByAccount(ctx, a.ID, 10)
	if len(evs) != 3 || evs[0].Action != monban.AuditSessionRevoked {
		t.Fatalf("audit = %+v; want registered, signed in, revoked", evs)
	}
}

func testRevokeOtherSessions(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	b := mustCreateAccount(t, db, t0)
	var ss []*monban.Session
	for i := range 4 {
		s := newSession(a.ID, "", at(time.Duration(i)*time.Minute))
		mustCreateSession(t, db, s, nil)
		ss = append(ss, s)
	}
	theirs := newSession(b.ID, "", t0)
	mustCreateSession(t, db, theirs, nil)
	if err := db.RevokeSession(ctx, a.ID, ss[3].ID, at(time.Hour), auditFor(a.ID, monban.AuditSessionRevoked, t0)); err != nil {
		t.Fatal(err)
	}
	n, err := db.RevokeOtherSessions(ctx, a.ID, ss[0].ID, at(2*time.Hour), auditFor(a.ID, monban.AuditSignedOut, t0))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("revoked %d, want 2 (one kept, one already revoked)", n)
	}
	list, _ := db.SessionsByAccount(ctx, a.ID, at(2*time.Hour))
	if len(list) != 1 || list[0].ID != ss[0].ID {
		t.Fatalf("left = %+v, want only the kept session", list)
	}
	if got, _ := db.SessionByTokenHash(ctx, ss[3].TokenHash); !got.RevokedAt.Equal(at(time.Hour)) {
		t.Fatalf("earlier revocation time overwritten: %v", got.RevokedAt)
	}
	if list, _ := db.SessionsByAccount(ctx, b.ID, at(2*time.Hour)); len(list) != 1 {
		t.Fatalf("another account's session was revoked")
	}
	if n, err := db.RevokeOtherSessions(ctx, a.ID, ss[0].ID, at(3*time.Hour), auditFor(a.ID, monban.AuditSignedOut, t0)); err != nil || n != 0 {
		t.Fatalf("second RevokeOtherSessions = %d, %v; want 0, nil", n, err)
	}
}

func testDeviceUpsert(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	d := monban.Device{ID: "dev_1", AccountID: a.ID, Kind: monban.SessionApp, Label: "iPhone",
		CreatedAt: t0, LastSeenAt: t0, TrustedUntil: at(30 * 24 * time.Hour)}
	mustCreateSession(t, db, newSession(a.ID, d.ID, t0), &d)

	// Seen again: new label and last-seen; an earlier TrustedUntil must not
	// shorten the trust, and CreatedAt stays.
	again := monban.Device{ID: d.ID, AccountID: a.ID, Kind: monban.SessionApp, Label: "iPhone 17",
		CreatedAt: at(time.Hour), LastSeenAt: at(time.Hour)}
	mustCreateSession(t, db, newSession(a.ID, d.ID, at(time.Hour)), &again)
	got, err := db.DeviceByID(ctx, a.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := d
	want.Label, want.LastSeenAt = "iPhone 17", at(time.Hour)
	wantEqual(t, "device after second sign-in", got, &want)

	// A later TrustedUntil extends the trust.
	third := again
	third.LastSeenAt, third.TrustedUntil = at(2*time.Hour), at(60*24*time.Hour)
	mustCreateSession(t, db, newSession(a.ID, d.ID, at(2*time.Hour)), &third)
	got, _ = db.DeviceByID(ctx, a.ID, d.ID)
	if !got.TrustedUntil.Equal(third.TrustedUntil) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("device after trust = %+v", got)
	}
	if devs, _ := db.DevicesByAccount(ctx, a.ID); len(devs) != 1 {
		t.Fatalf("upsert made %d devices, want 1", len(devs))
	}
}

func testAudit(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	agentEv := monban.AuditEvent{At: at(time.Minute), AgentID: "agt_1", Action: monban.AuditAgentCreated}
	if err := db.AppendAudit(ctx, agentEv); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ev := auditFor(a.ID, monban.AuditSignInFailed, at(time.Duration(i)*time.Second))
		ev.Detail = map[string]string{"n": fmt.Sprint(i), "reason": "bad_password"}
		if err := db.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := db.AuditByAccount(ctx, a.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 {
		t.Fatalf("got %d events, want 4", len(evs))
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID >= evs[i-1].ID {
			t.Fatalf("not newest first: ids %d then %d", evs[i-1].ID, evs[i].ID)
		}
	}
	want := auditFor(a.ID, monban.AuditSignInFailed, at(2*time.Second))
	want.Detail = map[string]string{"n": "2", "reason": "bad_password"}
	want.ID = evs[0].ID
	wantEqual(t, "newest event", evs[0], want)
	if evs[3].Action != monban.AuditRegistered || evs[3].Detail != nil {
		t.Fatalf("oldest = %+v, want registration with no detail", evs[3])
	}
	if evs, _ := db.AuditByAccount(ctx, a.ID, 2); len(evs) != 2 || evs[0].Detail["n"] != "2" {
		t.Fatalf("limit 2 = %+v", evs)
	}
}

func testAPIKeys(t *testing.T, db *sqlstore.DB) {
	var keys []monban.APIKey
	for i, name := range []string{"shop", "blog"} {
		h := sha256.Sum256([]byte("secret-" + name))
		k := monban.APIKey{ID: monban.NewID("key"), Name: name, Hash: h[:], CreatedAt: at(time.Duration(i) * time.Hour)}
		ev := monban.AuditEvent{At: k.CreatedAt, AgentID: "agt_admin", Action: monban.AuditAPIKeyCreated}
		if err := db.CreateAPIKey(ctx, &k, ev); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	got, err := db.APIKeyByHash(ctx, keys[1].Hash)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "APIKeyByHash", got, &keys[1])
	missing := sha256.Sum256([]byte("nope"))
	if _, err := db.APIKeyByHash(ctx, missing[:]); !monban.IsNotFound(err) {
		t.Fatalf("APIKeyByHash(missing) = %v", err)
	}
	all, err := db.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "APIKeys", all, keys)

	ev := monban.AuditEvent{At: at(3 * time.Hour), AgentID: "agt_admin", Action: monban.AuditAPIKeyRevoked}
	if err := db.RevokeAPIKey(ctx, keys[0].ID, at(3*time.Hour), ev); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RevokeAPIKey(ctx, keys[0].ID, at(4*time.Hour), ev), monban.ENotFound, "", "")
	wantCode(t, db.RevokeAPIKey(ctx, "key_missing", at(4*time.Hour), ev), monban.ENotFound, "", "")
	got, err = db.APIKeyByHash(ctx, keys[0].Hash)
	if err != nil || !got.RevokedAt.Equal(at(3*time.Hour)) {
		t.Fatalf("revoked key = %+v, %v", got, err)
	}
}

func testAgents(t *testing.T, db *sqlstore.DB) {
	ag := monban.Agent{ID: monban.NewID("agt"), Username: "suzuki", PasswordHash: "$argon2id$x",
		Role: monban.RoleLead, CreatedAt: t0}
	ev := monban.AuditEvent{At: t0, AgentID: ag.ID, Action: monban.AuditAgentCreated}
	if err := db.CreateAgent(ctx, &ag, ev); err != nil {
		t.Fatal(err)
	}
	dup := monban.Agent{ID: monban.NewID("agt"), Username: "suzuki", PasswordHash: "y", Role: monban.RoleAgent, CreatedAt: t0}
	wantCode(t, db.CreateAgent(ctx, &dup, ev), monban.EConflict, "agent.taken", "username")
	got, err := db.AgentByUsername(ctx, "suzuki")
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "AgentByUsername", got, &ag)
	if _, err := db.AgentByUsername(ctx, "nobody"); !monban.IsNotFound(err) {
		t.Fatalf("AgentByUsername(missing) = %v", err)
	}
}

// testConcurrentWrites signs up and signs in many clients at once: on SQLite
// no writer may see "database is locked".
func testConcurrentWrites(t *testing.T, db *sqlstore.DB) {
	const n = 50
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- signUpAndIn(db, i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func signUpAndIn(db *sqlstore.DB, i int) error {
	a := newAccount(t0)
	ids := []monban.Identifier{ident(monban.KindUsername, fmt.Sprintf("user%d", i), t0)}
	if err := db.CreateAccount(ctx, a, ids, auditFor(a.ID, monban.AuditRegistered, t0)); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	d := &monban.Device{ID: "dev", AccountID: a.ID, Kind: monban.SessionWeb, CreatedAt: t0, LastSeenAt: t0}
	s := newSession(a.ID, d.ID, t0)
	if err := db.CreateSession(ctx, s, d, auditFor(a.ID, monban.AuditSignedIn, t0)); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if _, err := db.SessionByTokenHash(ctx, s.TokenHash); err != nil {
		return fmt.Errorf("session by token: %w", err)
	}
	if err := db.TouchSession(ctx, s.ID, at(time.Second)); err != nil {
		return fmt.Errorf("touch: %w", err)
	}
	if _, err := db.AccountsByIdentifier(ctx, monban.KindUsername, ids[0].Value); err != nil {
		return fmt.Errorf("accounts by identifier: %w", err)
	}
	return nil
}

// testCreateSessionAllOrNothing: a session that cannot be stored leaves
// neither its device nor its audit entries behind (on PostgreSQL the
// statements go as one pipeline; a failure in it rolls all of it back).
func testCreateSessionAllOrNothing(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	first := newSession(a.ID, "", t0)
	mustCreateSession(t, db, first, nil)
	audit, _ := db.AuditByAccount(ctx, a.ID, 0)

	again := *first // the same id and token hash: the insert fails
	again.DeviceID = "dev_new"
	d := &monban.Device{ID: "dev_new", AccountID: a.ID, Kind: monban.SessionWeb, CreatedAt: at(time.Minute), LastSeenAt: at(time.Minute)}
	err := db.CreateSession(ctx, &again, d, auditFor(a.ID, monban.AuditSignInUnchecked, at(time.Minute)),
		auditFor(a.ID, monban.AuditSignedIn, at(time.Minute)))
	if err == nil {
		t.Fatal("CreateSession with a taken id succeeded")
	}
	if devs, err := db.DevicesByAccount(ctx, a.ID); err != nil || len(devs) != 0 {
		t.Errorf("devices after the failed session = %+v, %v; want none", devs, err)
	}
	if got, err := db.AuditByAccount(ctx, a.ID, 0); err != nil || len(got) != len(audit) {
		t.Errorf("audit entries after the failed session = %d, %v; want %d", len(got), err, len(audit))
	}
	// The connection that carried the failed batch serves the next one.
	mustCreateSession(t, db, newSession(a.ID, "dev_new", at(2*time.Minute)), d)
	if devs, _ := db.DevicesByAccount(ctx, a.ID); len(devs) != 1 {
		t.Errorf("devices after a good session = %d, want 1", len(devs))
	}
}
