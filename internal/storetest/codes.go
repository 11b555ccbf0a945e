package storetest

import (
	"bytes"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

var codeTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"LimitWindows", testLimitWindows},
	{"LimitsAllOrNothing", testLimitsAllOrNothing},
	{"LimitsRolling", testLimitsRolling},
	{"IssueAndCheckCode", testIssueAndCheckCode},
	{"IssueRefusedWritesNothing", testIssueRefusedWritesNothing},
	{"Resend", testResend},
	{"NewFlowKeepsCooldown", testNewFlowKeepsCooldown},
	{"CooldownPerChannel", testCooldownPerChannel},
	{"FailedFreesChannel", testFailedFreesChannel},
	{"CodeChecksRunOut", testCodeChecksRunOut},
	{"CheckCodeVerifiesIdentifier", testCheckCodeVerifiesIdentifier},
	{"CheckCodeConcurrent", testCheckCodeConcurrent},
}

func codeHash(code string) []byte {
	h := sha256.Sum256([]byte(code))
	return h[:]
}

func matchCode(code string) func([]byte) bool {
	want := codeHash(code)
	return func(h []byte) bool { return bytes.Equal(h, want) }
}

// issue builds a code issue for a new flow (flow == nil) or a resend.
func issue(accountID string, purpose monban.Purpose, ch monban.Channel, dest, code string, now time.Time) monban.CodeIssue {
	f := &monban.Flow{ID: monban.NewID("flw"), AccountID: accountID, Purpose: purpose, Channel: ch, Destination: dest,
		Sends: 1, NextSendAt: now.Add(30 * time.Second), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	return monban.CodeIssue{Now: now, NewFlow: f,
		Code: &monban.Code{ID: monban.NewID("cod"), Hash: codeHash(code), CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)},
		Message: &monban.Message{ID: monban.NewID("msg"), AccountID: accountID, Channel: ch, Destination: dest,
			Template: "code." + string(purpose), Lang: "ja", Payload: []byte("sealed"), NextAttemptAt: now,
			CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), UpdatedAt: now},
	}
}

func resend(in monban.CodeIssue, code string, sends int, now time.Time) monban.CodeIssue {
	r := issue(in.NewFlow.AccountID, in.NewFlow.Purpose, in.NewFlow.Channel, in.NewFlow.Destination, code, now)
	r.NewFlow, r.FlowID, r.ExpectSends, r.NextSendAt = nil, in.NewFlow.ID, sends, now.Add(time.Minute)
	return r
}

func mustIssue(t *testing.T, db *sqlstore.DB, in monban.CodeIssue) {
	t.Helper()
	if err := db.IssueCode(ctx, in); err != nil {
		t.Fatalf("IssueCode: %v", err)
	}
}

func wantRateLimited(t *testing.T, err error, key string, retryAt time.Time) {
	t.Helper()
	e, ok := monban.AsError(err)
	if !ok || e.Code != monban.ERateLimited || e.Key != key || !e.RetryAt.Equal(retryAt) {
		t.Fatalf("error = %v (retry at %v), want %s %q retry at %v", err, func() any {
			if ok {
				return e.RetryAt
			}
			return nil
		}(), monban.ERateLimited, key, retryAt)
	}
}

func testLimitWindows(t *testing.T, db *sqlstore.DB) {
	// Windows are aligned to unix time: 10:00–11:00 here.
	base := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	l := []monban.Limit{{Key: "k", Window: time.Hour, Max: 3, Err: "limit.test"}}
	now := base.Add(40 * time.Minute)
	for i := range 3 {
		if err := db.HitLimits(ctx, now, l); err != nil {
			t.Fatalf("hit %d: %v", i+1, err)
		}
		if got, err := db.PeekLimits(ctx, now, l); err != nil || (i < 2 && !got.Equal(now)) {
			t.Fatalf("peek after %d hits = %v, %v; want now", i+1, got, err)
		}
	}
	end := base.Add(time.Hour)
	wantRateLimited(t, db.HitLimits(ctx, now, l), "limit.test", end)
	if got, _ := db.PeekLimits(ctx, now, l); !got.Equal(end) {
		t.Fatalf("peek when used up = %v, want %v", got, end)
	}
	e, _ := monban.AsError(db.HitLimits(ctx, now, l))
	var ex *monban.LimitExceeded
	if !asLimitExceeded(e, &ex) || len(ex.Limits) != 1 || ex.Limits[0].Key != "k" {
		t.Fatalf("cause = %v, want LimitExceeded naming k", e.Err)
	}
	// A new window starts fresh.
	if err := db.HitLimits(ctx, end, l); err != nil {
		t.Fatalf("hit in the next window: %v", err)
	}
	// Ended windows are pruned; the current one stays.
	if n, err := db.PruneLimitCounters(ctx, end); err != nil || n != 1 {
		t.Fatalf("PruneLimitCounters = %d, %v; want 1", n, err)
	}
	if got, _ := db.PeekLimits(ctx, end, []monban.Limit{{Key: "k", Window: time.Hour, Max: 1}}); !got.Equal(end.Add(time.Hour)) {
		t.Fatalf("current window pruned: peek = %v", got)
	}
	// Max <= 0 is no limit.
	for range 5 {
		if err := db.HitLimits(ctx, now, []monban.Limit{{Key: "off", Window: time.Hour}}); err != nil {
			t.Fatal(err)
		}
	}
}

func asLimitExceeded(e *monban.Error, target **monban.LimitExceeded) bool {
	if e == nil {
		return false
	}
	ex, ok := e.Err.(*monban.LimitExceeded)
	*target = ex
	return ok
}

// testLimitsAllOrNothing: when one limit refuses, none is counted, and the
// retry time is when the last refusing limit allows again.
func testLimitsAllOrNothing(t *testing.T, db *sqlstore.DB) {
	now := time.Date(2026, 4, 1, 10, 59, 0, 0, time.UTC)
	hour := monban.Limit{Key: "h", Window: time.Hour, Max: 1, Err: "limit.hour"}
	day := monban.Limit{Key: "d", Window: 24 * time.Hour, Max: 1, Err: "limit.day"}
	other := monban.Limit{Key: "o", Window: time.Hour, Max: 1, Err: "limit.other"}
	if err := db.HitLimits(ctx, now, []monban.Limit{hour, day}); err != nil {
		t.Fatal(err)
	}
	dayEnd := time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	wantRateLimited(t, db.HitLimits(ctx, now, []monban.Limit{other, hour, day}), "limit.day", dayEnd)
	// "o" was not counted by the refused try.
	if err := db.HitLimits(ctx, now, []monban.Limit{other}); err != nil {
		t.Fatalf("refused try was counted: %v", err)
	}
	if got, _ := db.PeekLimits(ctx, now, []monban.Limit{hour, day}); !got.Equal(dayEnd) {
		t.Fatalf("peek = %v, want %v", got, dayEnd)
	}
	// One read answers several limits: each is matched to its own key and
	// window, so the hour's used-up row does not count in the next hour.
	next := now.Add(time.Hour)
	if got, _ := db.PeekLimits(ctx, next, []monban.Limit{other, hour}); !got.Equal(next) {
		t.Fatalf("peek in the next hour = %v, want %v", got, next)
	}
	if got, _ := db.PeekLimits(ctx, now, []monban.Limit{other, hour}); !got.Equal(now.Add(time.Minute)) {
		t.Fatalf("peek of two used-up hour limits = %v, want %v", got, now.Add(time.Minute))
	}
}

// testLimitsRolling: a rolling "per day" limit counts the last 24 hours:
// it does not reset at midnight UTC (09:00 in Japan), and it allows again
// when the oldest try leaves the window, named as the retry time; a
// refused try is not counted.
func testLimitsRolling(t *testing.T, db *sqlstore.DB) {
	day := monban.Limit{Key: "roll", Window: 24 * time.Hour, Step: time.Minute, Max: 2, Err: "limit.day"}
	first := time.Date(2026, 4, 1, 23, 50, 0, 0, time.UTC) // 08:50 in Japan
	second := first.Add(5 * time.Minute)
	for _, at := range []time.Time{first, second} {
		if err := db.HitLimits(ctx, at, []monban.Limit{day}); err != nil {
			t.Fatal(err)
		}
	}
	// Past midnight UTC: an aligned window would have reset; this one has not.
	after := time.Date(2026, 4, 2, 0, 30, 0, 0, time.UTC)
	wantRateLimited(t, db.HitLimits(ctx, after, []monban.Limit{day}), "limit.day", first.Add(24*time.Hour))
	if got, _ := db.PeekLimits(ctx, after, []monban.Limit{day}); !got.Equal(first.Add(24 * time.Hour)) {
		t.Fatalf("peek = %v, want %v", got, first.Add(24*time.Hour))
	}
	// 24 h after the first try, one is allowed again; then the second's
	// leaving is the next time.
	again := first.Add(24 * time.Hour)
	if err := db.HitLimits(ctx, again, []monban.Limit{day}); err != nil {
		t.Fatalf("24 h after the first try: %v", err)
	}
	wantRateLimited(t, db.HitLimits(ctx, again, []monban.Limit{day}), "limit.day", second.Add(24*time.Hour))
}

func testIssueAndCheckCode(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	in := issue(a.ID, monban.PurposeSignIn, monban.ChannelEmail, "a@example.jp", "123456", t0)
	mustIssue(t, db, in)
	f, err := db.FlowByID(ctx, in.NewFlow.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "FlowByID", f, in.NewFlow)
	msgs, err := db.MessagesByFlow(ctx, f.ID)
	if err != nil || len(msgs) != 1 || msgs[0].ID != in.Message.ID || msgs[0].FlowID != f.ID ||
		msgs[0].Status != monban.MessageQueued || !bytes.Equal(msgs[0].Payload, []byte("sealed")) {
		t.Fatalf("MessagesByFlow = %+v, %v", msgs, err)
	}
	if fs, err := db.FlowsByAccount(ctx, a.ID, t0); err != nil || len(fs) != 1 || fs[0].ID != f.ID {
		t.Fatalf("FlowsByAccount = %+v, %v", fs, err)
	}
	if _, err := db.FlowByID(ctx, "flw_missing"); !monban.IsNotFound(err) {
		t.Fatalf("FlowByID(missing) = %v", err)
	}

	_, err = db.CheckCode(ctx, f.ID, a.ID, at(time.Minute), 5, matchCode("000000"))
	wantCode(t, err, monban.EInvalid, "code.wrong", "code")
	if e, _ := monban.AsError(err); e.Params["remaining"] != 4 {
		t.Fatalf("remaining = %v, want 4", e.Params["remaining"])
	}
	if f, _ := db.FlowByID(ctx, f.ID); f.Failures != 1 {
		t.Fatalf("failures = %d, want 1: the failure must be committed", f.Failures)
	}
	_, err = db.CheckCode(ctx, f.ID, "acc_other", at(time.Minute), 5, matchCode("123456"))
	wantCode(t, err, monban.ENotFound, "code.not_found", "")
	_, err = db.CheckCode(ctx, "flw_missing", a.ID, at(time.Minute), 5, matchCode("123456"))
	wantCode(t, err, monban.ENotFound, "code.not_found", "")

	done, err := db.CheckCode(ctx, f.ID, a.ID, at(2*time.Minute), 5, matchCode("123456"))
	if err != nil || !done.CompletedAt.Equal(at(2*time.Minute)) {
		t.Fatalf("right code: %+v, %v", done, err)
	}
	_, err = db.CheckCode(ctx, f.ID, a.ID, at(3*time.Minute), 5, matchCode("123456"))
	wantCode(t, err, monban.EConflict, "code.used", "code")

	// A code expires with its lifetime.
	in2 := issue(a.ID, monban.PurposeSignIn, monban.ChannelEmail, "b@example.jp", "654321", t0)
	mustIssue(t, db, in2)
	_, err = db.CheckCode(ctx, in2.NewFlow.ID, a.ID, at(10*time.Minute), 5, matchCode("654321"))
	wantCode(t, err, monban.EInvalid, "code.expired", "code")
}

func testIssueRefusedWritesNothing(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	l := []monban.Limit{{Key: "dest", Window: time.Hour, Max: 1, Err: "limit.destination"}}
	first := issue(a.ID, monban.PurposeSignIn, monban.ChannelEmail, "a@example.jp", "111111", t0)
	first.Limits = l
	mustIssue(t, db, first)
	second := issue(a.ID, monban.PurposeNewDevice, monban.ChannelEmail, "a@example.jp", "222222", at(time.Minute))
	second.Limits = l
	err := db.IssueCode(ctx, second)
	if monban.ErrorCodeOf(err) != monban.ERateLimited {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := db.FlowByID(ctx, second.NewFlow.ID); !monban.IsNotFound(err) {
		t.Fatalf("refused flow was written: %v", err)
	}
	if msgs, _ := db.MessagesByFlow(ctx, second.NewFlow.ID); len(msgs) != 0 {
		t.Fatalf("refused message was written: %+v", msgs)
	}
	if fs, _ := db.FlowsByAccount(ctx, a.ID, t0); len(fs) != 1 {
		t.Fatalf("%d flows, want 1", len(fs))
	}
}

func testResend(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	in := issue(a.ID, monban.PurposeVerifyPhone, monban.ChannelSMS, "+819012345678", "111111", t0)
	mustIssue(t, db, in)
	// Before the cooldown.
	wantRateLimited(t, db.IssueCode(ctx, resend(in, "222222", 1, at(10*time.Second))),
		"code.resend_cooldown", in.NewFlow.NextSendAt)
	// A stale view of the flow (another resend won the race).
	r := resend(in, "222222", 1, at(30*time.Second))
	mustIssue(t, db, r)
	wantRateLimited(t, db.IssueCode(ctx, resend(in, "333333", 1, at(31*time.Second))),
		"code.resend_cooldown", r.NextSendAt)
	f, _ := db.FlowByID(ctx, in.NewFlow.ID)
	if f.Sends != 2 || !f.NextSendAt.Equal(r.NextSendAt) {
		t.Fatalf("after resend: sends %d next %v", f.Sends, f.NextSendAt)
	}
	msgs, _ := db.MessagesByFlow(ctx, f.ID)
	if len(msgs) != 2 || msgs[0].ID != r.Message.ID {
		t.Fatalf("messages = %+v, want the resend first", msgs)
	}
	// Both codes of the flow are good until they expire.
	if _, err := db.CheckCode(ctx, f.ID, a.ID, at(time.Minute), 5, matchCode("111111")); err != nil {
		t.Fatalf("first code after a resend: %v", err)
	}
	// A completed flow sends no more.
	wantCode(t, db.IssueCode(ctx, resend(in, "444444", 2, at(time.Hour-time.Second))), monban.EConflict, "code.used", "code")
	wantCode(t, db.IssueCode(ctx, resend(in, "444444", 2, at(time.Hour))), monban.EConflict, "code.used", "code")
	other := issue(a.ID, monban.PurposeSignIn, monban.ChannelSMS, "+819012345678", "555555", t0)
	mustIssue(t, db, other)
	wantCode(t, db.IssueCode(ctx, resend(other, "666666", 1, at(time.Hour))), monban.EInvalid, "code.expired", "code")
	r = resend(other, "666666", 1, at(time.Minute))
	r.FlowID = "flw_missing"
	wantCode(t, db.IssueCode(ctx, r), monban.ENotFound, "code.not_found", "")
}

func testNewFlowKeepsCooldown(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	in := issue(a.ID, monban.PurposeVerifyEmail, monban.ChannelEmail, "a@example.jp", "111111", t0)
	mustIssue(t, db, in)
	again := issue(a.ID, monban.PurposeVerifyEmail, monban.ChannelEmail, "a@example.jp", "222222", at(5*time.Second))
	wantRateLimited(t, db.IssueCode(ctx, again), "code.resend_cooldown", in.NewFlow.NextSendAt)
	// Another purpose or destination is not held back.
	mustIssue(t, db, issue(a.ID, monban.PurposeSignIn, monban.ChannelEmail, "a@example.jp", "333333", at(5*time.Second)))
	mustIssue(t, db, issue(a.ID, monban.PurposeVerifyEmail, monban.ChannelEmail, "b@example.jp", "444444", at(5*time.Second)))
	mustIssue(t, db, issue(a.ID, monban.PurposeVerifyEmail, monban.ChannelEmail, "a@example.jp", "555555", at(30*time.Second)))
}

// A voice call right after an SMS to the same number is another way in,
// not a resend: the cooldown is counted per channel.
func testCooldownPerChannel(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	sms := issue(a.ID, monban.PurposeVerifyPhone, monban.ChannelSMS, "+819012345678", "111111", t0)
	mustIssue(t, db, sms)
	wantRateLimited(t, db.IssueCode(ctx, issue(a.ID, monban.PurposeVerifyPhone, monban.ChannelSMS, "+819012345678", "222222", at(time.Second))),
		"code.resend_cooldown", sms.NewFlow.NextSendAt)
	mustIssue(t, db, issue(a.ID, monban.PurposeVerifyPhone, monban.ChannelVoice, "+819012345678", "333333", at(time.Second)))
	wantRateLimited(t, db.IssueCode(ctx, issue(a.ID, monban.PurposeVerifyPhone, monban.ChannelVoice, "+819012345678", "444444", at(2*time.Second))),
		"code.resend_cooldown", at(31*time.Second))
}

// sentIssue is issue with its message already accepted by a provider, so
// that a receipt can fail it.
func sentIssue(accountID string, purpose monban.Purpose, ch monban.Channel, dest, code string, now time.Time) monban.CodeIssue {
	in := issue(accountID, purpose, ch, dest, code, now)
	in.Message.Status, in.Message.SentAt = monban.MessageSent, now
	return in
}

func failMessage(t *testing.T, db *sqlstore.DB, id string, now time.Time) {
	t.Helper()
	if ok, err := db.ApplyReceipt(ctx, "", "", id, monban.MessageFailed, "absent subscriber", now); err != nil || !ok {
		t.Fatalf("fail %s: applied %v, %v", id, ok, err)
	}
}

// A message the carrier reported failed frees its channel at once: the
// flow may resend before its cooldown, and a new flow is not held back. A
// resend that went out holds the cooldown again.
func testFailedFreesChannel(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	in := sentIssue(a.ID, monban.PurposeSignIn, monban.ChannelSMS, "+819012345678", "111111", t0)
	mustIssue(t, db, in)
	wantRateLimited(t, db.IssueCode(ctx, resend(in, "222222", 1, at(5*time.Second))), "code.resend_cooldown", in.NewFlow.NextSendAt)
	failMessage(t, db, in.Message.ID, at(6*time.Second))
	r := resend(in, "222222", 1, at(7*time.Second))
	mustIssue(t, db, r)
	// The resend is queued, not failed: its cooldown holds.
	wantRateLimited(t, db.IssueCode(ctx, resend(in, "333333", 2, at(8*time.Second))), "code.resend_cooldown", r.NextSendAt)

	other := sentIssue(a.ID, monban.PurposeNewDevice, monban.ChannelSMS, "+819012345678", "444444", t0)
	mustIssue(t, db, other)
	again := issue(a.ID, monban.PurposeNewDevice, monban.ChannelSMS, "+819012345678", "555555", at(5*time.Second))
	wantRateLimited(t, db.IssueCode(ctx, again), "code.resend_cooldown", other.NewFlow.NextSendAt)
	failMessage(t, db, other.Message.ID, at(6*time.Second))
	mustIssue(t, db, issue(a.ID, monban.PurposeNewDevice, monban.ChannelSMS, "+819012345678", "666666", at(7*time.Second)))
}

func testCodeChecksRunOut(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	in := issue(a.ID, monban.PurposeSignIn, monban.ChannelEmail, "a@example.jp", "123456", t0)
	mustIssue(t, db, in)
	for i := range 5 {
		_, err := db.CheckCode(ctx, in.NewFlow.ID, a.ID, at(time.Second), 5, matchCode("000000"))
		wantCode(t, err, monban.EInvalid, "code.wrong", "code")
		if e, _ := monban.AsError(err); e.Params["remaining"] != 4-i {
			t.Fatalf("try %d: remaining %v, want %d", i+1, e.Params["remaining"], 4-i)
		}
	}
	_, err := db.CheckCode(ctx, in.NewFlow.ID, a.ID, at(time.Second), 5, matchCode("123456"))
	wantCode(t, err, monban.EInvalid, "code.expired", "code")
	// A resent code has its own checks; the flow's failures carry on.
	r := resend(in, "654321", 1, at(time.Minute))
	mustIssue(t, db, r)
	if _, err := db.CheckCode(ctx, in.NewFlow.ID, a.ID, at(time.Minute), 5, matchCode("654321")); err != nil {
		t.Fatalf("resent code: %v", err)
	}
	if f, _ := db.FlowByID(ctx, in.NewFlow.ID); f.Failures != 5 {
		t.Fatalf("failures = %d, want 5", f.Failures)
	}
}

func testCheckCodeVerifiesIdentifier(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0, ident(monban.KindEmail, "v@example.jp", t0))
	in := issue(a.ID, monban.PurposeVerifyEmail, monban.ChannelEmail, "v@example.jp", "123456", t0)
	mustIssue(t, db, in)
	add := issue(a.ID, monban.PurposeAddPhone, monban.ChannelSMS, "+819011112222", "654321", t0)
	mustIssue(t, db, add)
	signIn := issue(a.ID, monban.PurposeSignIn, monban.ChannelSMS, "+819033334444", "111111", t0)
	mustIssue(t, db, signIn)
	for _, c := range []struct {
		flow, code string
	}{{in.NewFlow.ID, "123456"}, {add.NewFlow.ID, "654321"}, {signIn.NewFlow.ID, "111111"}} {
		if _, err := db.CheckCode(ctx, c.flow, a.ID, at(time.Minute), 5, matchCode(c.code)); err != nil {
			t.Fatal(err)
		}
	}
	ids, _ := db.IdentifiersByAccount(ctx, a.ID)
	got := map[string]bool{}
	for _, id := range ids {
		got[id.Value] = id.Verified
	}
	want := map[string]bool{"v@example.jp": true, "+819011112222": true, "u_" + a.ID: false}
	wantEqual(t, "identifiers after the flows", got, want)
}

// testCheckCodeConcurrent: of many concurrent checks of the right code,
// exactly one succeeds.
func testCheckCodeConcurrent(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	in := issue(a.ID, monban.PurposeSignIn, monban.ChannelEmail, "a@example.jp", "123456", t0)
	mustIssue(t, db, in)
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = db.CheckCode(ctx, in.NewFlow.ID, a.ID, at(time.Minute), 5, matchCode("123456"))
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case monban.ErrorCodeOf(err) != monban.EConflict:
			t.Fatalf("unexpected: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d successes, want exactly 1", ok)
	}
}
