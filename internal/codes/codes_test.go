package codes

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/storetest"
	"github.com/monban-dev/monban/internal/throttle"
)

var ctx = context.Background()

// start is 10:20 UTC, so hourly windows end at 11:00 and daily ones at
// midnight UTC.
var start = time.Date(2026, 4, 1, 10, 20, 0, 0, time.UTC)

var testKey = []byte("0123456789abcdef0123456789abcdef")

type env struct {
	t     testing.TB
	db    *sqlstore.DB
	path  string // SQLite file
	clock *clocktest.Clock
	box   *seal.Box
	svc   *Service
	alarm []string
}

// generous lifts the send limits out of the way of tests about something else.
func generous(c *Config) {
	c.PerDestinationHour, c.PerDestinationDay, c.PerAccountHour, c.PerIPHour, c.PerPrefixHour = 1000, 1000, 1000, 1000, 1000
	c.SMSGlobalPerHour, c.SMSPrefixPerHour, c.FreeFailures = 1000, 1000, 1000
}

func newEnv(t *testing.T, edit ...func(*Config)) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "monban.db")
	e := &env{t: t, db: storetest.OpenSQLite(t, path), path: path, clock: clocktest.New(start)}
	e.svc = e.service(e.db, edit...)
	return e
}

func (e *env) service(store Store, edit ...func(*Config)) *Service {
	e.t.Helper()
	box, err := seal.New([]byte("server secret"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.box = box
	cfg := DefaultConfig()
	for _, f := range edit {
		f(&cfg)
	}
	guard := throttle.New(e.db, e.clock, throttle.Config{PerIPHour: -1, GlobalPerMinute: -1}, nil)
	svc, err := New(store, box, e.clock, randReader{}, testKey, cfg, nil, guard)
	if err != nil {
		e.t.Fatal(err)
	}
	svc.OnBudgetAlarm(func(scope string) { e.alarm = append(e.alarm, scope) })
	return svc
}

func (e *env) account(ids ...monban.Identifier) string {
	e.t.Helper()
	a := &monban.Account{ID: monban.NewID("acc"), Status: monban.AccountActive, Lang: "ja", CreatedAt: start, UpdatedAt: start}
	ids = append(ids, monban.Identifier{Kind: monban.KindUsername, Value: "u_" + a.ID, CreatedAt: start})
	if err := e.db.CreateAccount(ctx, a, ids, monban.AuditEvent{At: start, AccountID: a.ID, Action: monban.AuditRegistered}); err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

func (e *env) start(in StartInput) *monban.Flow {
	e.t.Helper()
	f, err := e.svc.Start(ctx, in)
	if err != nil {
		e.t.Fatalf("Start(%+v): %v", in, err)
	}
	return f
}

// sent opens the newest message of the flow and returns its code.
func (e *env) sent(flowID string) (string, payload, monban.Message) {
	e.t.Helper()
	msgs, err := e.db.MessagesByFlow(ctx, flowID)
	if err != nil || len(msgs) == 0 {
		e.t.Fatalf("MessagesByFlow: %v, %v", msgs, err)
	}
	plain, err := e.box.Open(msgs[0].Payload)
	if err != nil {
		e.t.Fatalf("open payload: %v", err)
	}
	var p payload
	if err := json.Unmarshal(plain, &p); err != nil {
		e.t.Fatal(err)
	}
	return p.Code, p, msgs[0]
}

// rows counts what code issuing writes, to check that a refusal writes
// nothing.
func (e *env) rows() map[string]int {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.path+"?mode=ro")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	n := map[string]int{}
	for _, table := range []string{"flows", "codes", "messages", "limit_counters", "identifiers"} {
		var c int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&c); err != nil {
			e.t.Fatal(err)
		}
		n[table] = c
	}
	var sum int
	if err := db.QueryRow("SELECT COALESCE(SUM(n), 0) FROM limit_counters").Scan(&sum); err != nil {
		e.t.Fatal(err)
	}
	n["limit_counts"] = sum
	return n
}

func wantErr(t *testing.T, err error, code monban.ErrorCode, key string) *monban.Error {
	t.Helper()
	e, ok := monban.AsError(err)
	if !ok || e.Code != code || e.Key != key {
		t.Fatalf("error = %v, want %s %q", err, code, key)
	}
	return e
}

func wantRetry(t *testing.T, err error, key string, at time.Time) {
	t.Helper()
	e := wantErr(t, err, monban.ERateLimited, key)
	if !e.RetryAt.Equal(at) {
		t.Fatalf("%s: retry at %v, want %v", key, e.RetryAt, at)
	}
}

func smsTo(accountID, phone string) StartInput {
	return StartInput{AccountID: accountID, Purpose: monban.PurposeVerifyPhone, Channel: monban.ChannelSMS,
		Destination: phone, Lang: "ja", IP: "192.0.2.1"}
}

func TestStart(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Digits = map[monban.Purpose]int{monban.PurposeSignIn: 8} })
	acc := e.account()
	f := e.start(smsTo(acc, "０９０ー１２３４ー５６７８"))
	want := monban.Flow{ID: f.ID, AccountID: acc, Purpose: monban.PurposeVerifyPhone, Channel: monban.ChannelSMS,
		Destination: "+819012345678", Sends: 1, NextSendAt: start.Add(30 * time.Second),
		CreatedAt: start, ExpiresAt: start.Add(time.Hour)}
	if *f != want {
		t.Fatalf("flow = %+v\nwant %+v", *f, want)
	}
	code, p, m := e.sent(f.ID)
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" || p.Minutes != 10 {
		t.Fatalf("payload = %+v", p)
	}
	if m.Template != "code.verify_phone" || m.Lang != "ja" || m.Channel != monban.ChannelSMS ||
		m.Destination != "+819012345678" || m.AccountID != acc || m.FlowID != f.ID ||
		m.Status != monban.MessageQueued || !m.ExpiresAt.Equal(start.Add(10*time.Minute)) {
		t.Fatalf("message = %+v", m)
	}
	if strings.Contains(string(m.Payload), code) {
		t.Fatal("payload is not sealed")
	}
	// Per-purpose length; an email code.
	g := e.start(StartInput{AccountID: acc, Purpose: monban.PurposeSignIn, Channel: monban.ChannelEmail,
		Destination: " Taro@Example.JP ", Lang: "en"})
	code, _, m = e.sent(g.ID)
	if len(code) != 8 || g.Destination != "taro@example.jp" || m.Lang != "en" || m.Template != "code.sign_in" {
		t.Fatalf("email flow %+v, code length %d, message %+v", g, len(code), m)
	}
	if _, err := e.svc.Start(ctx, StartInput{AccountID: acc, Purpose: "nope", Channel: monban.ChannelEmail, Destination: "a@example.jp"}); err == nil {
		t.Fatal("unknown purpose accepted")
	}
}

func TestNewValidates(t *testing.T) {
	box, _ := seal.New([]byte("s"))
	guard := throttle.New(nil, monban.SystemClock{}, throttle.Config{}, nil)
	if _, err := New(nil, box, monban.SystemClock{}, randReader{}, testKey, Config{}, nil, nil); err == nil {
		t.Error("no throttle accepted")
	}
	for _, c := range []Config{
		{Digits: map[monban.Purpose]int{monban.PurposeSignIn: 3}},
		{Digits: map[monban.Purpose]int{monban.PurposeSignIn: 9}},
		{Cooldowns: []time.Duration{-time.Second}},
	} {
		if _, err := New(nil, box, monban.SystemClock{}, randReader{}, testKey, c, nil, guard); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	if _, err := New(nil, box, monban.SystemClock{}, randReader{}, []byte("short"), Config{}, nil, guard); err == nil {
		t.Error("short key accepted")
	}
	s, err := New(nil, box, monban.SystemClock{}, randReader{}, testKey, Config{}, nil, guard)
	if err != nil || s.Config().MaxChecks != 5 || s.Config().Lifetime != 10*time.Minute || s.Config().PerIPHour != 20 {
		t.Fatalf("defaults not filled: %+v, %v", s.Config(), err)
	}
}

func TestResendCooldownGrows(t *testing.T) {
	e := newEnv(t, generous)
	acc := e.account()
	f := e.start(smsTo(acc, "090-1234-5678"))
	now := start
	for i, wait := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		e.clock.Set(now.Add(wait - time.Second))
		_, err := e.svc.Resend(ctx, f.ID, acc, "192.0.2.1")
		wantRetry(t, err, "code.resend_cooldown", now.Add(wait))
		now = now.Add(wait)
		e.clock.Set(now)
		g, err := e.svc.Resend(ctx, f.ID, acc, "192.0.2.1")
		if err != nil {
			t.Fatalf("resend %d at +%v: %v", i+1, wait, err)
		}
		if g.Sends != i+2 {
			t.Fatalf("sends = %d, want %d", g.Sends, i+2)
		}
	}
	msgs, _ := e.db.MessagesByFlow(ctx, f.ID)
	if len(msgs) != 7 {
		t.Fatalf("%d messages, want 7", len(msgs))
	}
	// Starting over does not skip the cooldown either.
	_, err := e.svc.Start(ctx, smsTo(acc, "090-1234-5678"))
	wantRetry(t, err, "code.resend_cooldown", now.Add(10*time.Minute))
	// Another account's flow is unknown.
	_, err = e.svc.Resend(ctx, f.ID, e.account(), "192.0.2.1")
	wantErr(t, err, monban.ENotFound, "code.not_found")
}

func TestLimits(t *testing.T) {
	hourEnd := time.Date(2026, 4, 1, 11, 0, 0, 0, time.UTC)
	dayEnd := time.Date(2026, 4, 2, 10, 20, 0, 0, time.UTC) // per day is the last 24 h, rolling: 24 h after the first send
	tests := []struct {
		name  string
		cfg   func(*Config)
		req   func(e *env, acc string, i int) StartInput // the i-th request of the test
		key   string
		retry time.Time
		alarm string
	}{
		{"destination per hour", func(c *Config) { c.PerDestinationHour = 2 },
			func(e *env, acc string, i int) StartInput {
				in := smsTo(e.account(), "090-1234-5678")
				return in
			}, "limit.destination", hourEnd, ""},
		{"destination per day", func(c *Config) { c.PerDestinationDay = 2 },
			func(e *env, acc string, i int) StartInput {
				return StartInput{AccountID: e.account(), Purpose: monban.PurposeVerifyEmail, Channel: monban.ChannelEmail,
					Destination: "hanako@example.jp"}
			}, "limit.destination", dayEnd, ""},
		{"account", func(c *Config) { c.PerAccountHour = 2 },
			func(e *env, acc string, i int) StartInput {
				return smsTo(acc, "090-1234-567"+string(rune('0'+i)))
			}, "limit.account", hourEnd, ""},
		{"ip", func(c *Config) { c.PerIPHour = 2 },
			func(e *env, acc string, i int) StartInput {
				in := smsTo(e.account(), "080-5555-000"+string(rune('0'+i)))
				in.IP = "2001:db8:1:2::" + string(rune('1'+i)) // one /64
				return in
			}, "limit.ip", hourEnd, ""},
		{"prefix", func(c *Config) { c.PerPrefixHour = 2 },
			func(e *env, acc string, i int) StartInput {
				return smsTo(e.account(), "070-1111-222"+string(rune('0'+i)))
			}, "limit.prefix", hourEnd, ""},
		{"SMS prefix budget", func(c *Config) { c.SMSPrefixPerHour = 2 },
			func(e *env, acc string, i int) StartInput {
				in := smsTo(e.account(), "090-1234-000"+string(rune('0'+i)))
				in.Channel = []monban.Channel{monban.ChannelSMS, monban.ChannelVoice}[i%2]
				return in
			}, "sms.budget", hourEnd, "prefix:+81901234"},
		{"SMS global budget", func(c *Config) { c.SMSGlobalPerHour = 2 },
			func(e *env, acc string, i int) StartInput {
				return smsTo(e.account(), "090-"+string(rune('1'+i))+"000-0000")
			}, "sms.budget", hourEnd, "global"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, generous, tt.cfg)
			acc := e.account()
			for i := range 2 {
				e.start(tt.req(e, acc, i))
			}
			next := tt.req(e, acc, 2)
			if at, err := e.svc.NextAllowed(ctx, next); err != nil || !at.Equal(tt.retry) {
				t.Fatalf("NextAllowed = %v, %v; want %v", at, err, tt.retry)
			}
			before := e.rows()
			_, err := e.svc.Start(ctx, next)
			wantRetry(t, err, tt.key, tt.retry)
			if after := e.rows(); !equalCounts(before, after) {
				t.Fatalf("a refused start wrote: %v → %v", before, after)
			}
			if tt.alarm != "" && (len(e.alarm) != 1 || e.alarm[0] != tt.alarm) {
				t.Fatalf("alarms = %q, want [%q]", e.alarm, tt.alarm)
			}
			if tt.alarm == "" && len(e.alarm) != 0 {
				t.Fatalf("alarm raised: %q", e.alarm)
			}
			e.clock.Set(tt.retry)
			if at, err := e.svc.NextAllowed(ctx, next); err != nil || !at.Equal(tt.retry) {
				t.Fatalf("NextAllowed at the retry time = %v, %v", at, err)
			}
			e.start(next)
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

func TestGuardRefusesBeforeWriting(t *testing.T) {
	tests := []struct {
		ch     monban.Channel
		dest   string
		key    string
		region string
	}{
		{monban.ChannelSMS, "+1 201-555-0123", "phone.region_not_allowed", "US"},
		{monban.ChannelVoice, "+44 7400 123456", "phone.region_not_allowed", "GB"},
		{monban.ChannelSMS, "0120-123-456", "phone.not_mobile", ""},    // toll-free
		{monban.ChannelSMS, "0990-123-456", "phone.not_mobile", ""},    // premium rate
		{monban.ChannelSMS, "050-1234-5678", "phone.not_mobile", ""},   // VoIP
		{monban.ChannelVoice, "050-1234-5678", "phone.not_mobile", ""}, // VoIP
		{monban.ChannelSMS, "0570-123-456", "phone.not_mobile", ""},    // shared cost
		{monban.ChannelSMS, "03-1234-5678", "phone.not_mobile", ""},    // fixed line: no SMS
		{monban.ChannelSMS, "090-1234", "destination.invalid", ""},
		{monban.ChannelSMS, "hello", "destination.invalid", ""},
		{monban.ChannelEmail, "not an address", "destination.invalid", ""},
		{"fax", "090-1234-5678", "destination.invalid", ""},
	}
	e := newEnv(t)
	acc := e.account()
	before := e.rows()
	for _, tt := range tests {
		_, err := e.svc.Start(ctx, StartInput{AccountID: acc, Purpose: monban.PurposeAddPhone, Channel: tt.ch, Destination: tt.dest, IP: "192.0.2.1"})
		got := wantErr(t, err, monban.EInvalid, tt.key)
		if tt.region != "" && got.Params["region"] != tt.region {
			t.Errorf("%s: params %v, want region %s", tt.dest, got.Params, tt.region)
		}
		if _, err := e.svc.NextAllowed(ctx, StartInput{AccountID: acc, Channel: tt.ch, Destination: tt.dest}); err == nil {
			t.Errorf("NextAllowed(%s) accepted", tt.dest)
		}
	}
	if after := e.rows(); !equalCounts(before, after) {
		t.Fatalf("refusals wrote: %v → %v", before, after)
	}
	// A voice call may ring a fixed line.
	e.start(StartInput{AccountID: acc, Purpose: monban.PurposeAddPhone, Channel: monban.ChannelVoice, Destination: "03-1234-5678"})
}

func TestVerify(t *testing.T) {
	e := newEnv(t, generous)
	acc := e.account()
	f := e.start(smsTo(acc, "090-1234-5678"))
	code, _, _ := e.sent(f.ID)

	_, err := e.svc.Verify(ctx, f.ID, e.account(), code)
	wantErr(t, err, monban.ENotFound, "code.not_found")
	_, err = e.svc.Verify(ctx, "flw_nope", acc, code)
	wantErr(t, err, monban.ENotFound, "code.not_found")
	for i, typed := range []string{"", "12a456", strings.Repeat("1", 100), "1234567", wrong(code)} {
		_, err := e.svc.Verify(ctx, f.ID, acc, typed)
		if got := wantErr(t, err, monban.EInvalid, "code.wrong"); got.Params["remaining"] != 4-i {
			t.Fatalf("%q: remaining %v, want %d", typed, got.Params["remaining"], 4-i)
		}
		if i == 3 {
			break // the fifth would use up the code
		}
	}
	if g, _ := e.db.FlowByID(ctx, f.ID); g.Failures != 4 {
		t.Fatalf("failures = %d, want 4: malformed input counts", g.Failures)
	}
	// Full-width digits, spaces and hyphens are what people type.
	typed := toFullWidth(code[:3]) + " ー" + code[3:]
	done, err := e.svc.Verify(ctx, f.ID, acc, typed)
	if err != nil || done.CompletedAt.IsZero() {
		t.Fatalf("Verify(%q) = %+v, %v", typed, done, err)
	}
	_, err = e.svc.Verify(ctx, f.ID, acc, code)
	wantErr(t, err, monban.EConflict, "code.used")
	_, err = e.svc.Resend(ctx, f.ID, acc, "")
	wantErr(t, err, monban.EConflict, "code.used")
}

func wrong(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func toFullWidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r - '0' + '０')
	}
	return b.String()
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, generous)
	acc := e.account()
	f := e.start(smsTo(acc, "090-1234-5678"))
	code, _, _ := e.sent(f.ID)
	e.clock.Set(start.Add(10 * time.Minute))
	_, err := e.svc.Verify(ctx, f.ID, acc, code)
	wantErr(t, err, monban.EInvalid, "code.expired")

	g := e.start(smsTo(acc, "090-1234-0000"))
	code, _, _ = e.sent(g.ID)
	e.clock.Set(start.Add(20*time.Minute - time.Microsecond))
	if _, err := e.svc.Verify(ctx, g.ID, acc, code); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	// A resend near the end of the flow gets a code that ends with it.
	h := e.start(smsTo(acc, "090-1234-1111"))
	e.clock.Set(h.ExpiresAt.Add(-3 * time.Minute))
	if _, err := e.svc.Resend(ctx, h.ID, acc, ""); err != nil {
		t.Fatal(err)
	}
	_, p, m := e.sent(h.ID)
	if !m.ExpiresAt.Equal(h.ExpiresAt) || p.Minutes != 3 {
		t.Fatalf("late resend: expires %v (flow %v), minutes %d", m.ExpiresAt, h.ExpiresAt, p.Minutes)
	}
	e.clock.Set(h.ExpiresAt)
	_, err = e.svc.Resend(ctx, h.ID, acc, "")
	wantErr(t, err, monban.EInvalid, "code.expired")
}

// TestFailuresSurviveNewCodes: five checks per code, and neither a resend
// nor a new flow resets the failure count per account and purpose, which
// goes through the throttle's counted path: after FreeFailures, each check
// waits a growing delay, right code or not.
func TestFailuresSurviveNewCodes(t *testing.T) {
	e := newEnv(t, generous, func(c *Config) { c.FreeFailures = 8 })
	acc := e.account()
	f := e.start(smsTo(acc, "090-1234-5678"))
	code, _, _ := e.sent(f.ID)
	for want := 4; want >= 0; want-- {
		_, err := e.svc.Verify(ctx, f.ID, acc, wrong(code))
		if got := wantErr(t, err, monban.EInvalid, "code.wrong"); got.Params["remaining"] != want {
			t.Fatalf("remaining %v, want %d", got.Params["remaining"], want)
		}
	}
	// A check of a used-up code is a try too: 6 paid.
	_, err := e.svc.Verify(ctx, f.ID, acc, code)
	wantErr(t, err, monban.EInvalid, "code.expired")

	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.Resend(ctx, f.ID, acc, ""); err != nil {
		t.Fatal(err)
	}
	code, _, _ = e.sent(f.ID)
	// The new code has its own 5 checks, but only 3 tries are left before
	// the delays begin.
	for range 3 {
		_, err := e.svc.Verify(ctx, f.ID, acc, wrong(code))
		wantErr(t, err, monban.EInvalid, "code.wrong")
	}
	next := e.clock.Now().Add(30 * time.Second)
	_, err = e.svc.Verify(ctx, f.ID, acc, code)
	wantRetry(t, err, "code.too_many_failures", next)
	// A new flow for the same purpose is held to the same count…
	g := e.start(smsTo(acc, "080-1234-5678"))
	gcode, _, _ := e.sent(g.ID)
	_, err = e.svc.Verify(ctx, g.ID, acc, gcode)
	wantRetry(t, err, "code.too_many_failures", next)
	// … but another purpose is not.
	h := e.start(StartInput{AccountID: acc, Purpose: monban.PurposeSignIn, Channel: monban.ChannelSMS, Destination: "080-1234-5678"})
	hcode, _, _ := e.sent(h.ID)
	if _, err := e.svc.Verify(ctx, h.ID, acc, hcode); err != nil {
		t.Fatalf("other purpose: %v", err)
	}
	if g, _ := e.db.FlowByID(ctx, f.ID); g.Failures != 8 {
		t.Fatalf("flow failures = %d, want 8", g.Failures)
	}
	// Once the delay has passed the right code is accepted and the count
	// starts again.
	e.clock.Set(next)
	if _, err := e.svc.Verify(ctx, g.ID, acc, gcode); err != nil {
		t.Fatalf("after the delay: %v", err)
	}
}

// TestPurposeBinding: a code completes only the flow it was sent in.
func TestPurposeBinding(t *testing.T) {
	e := newEnv(t, generous)
	acc := e.account(monban.Identifier{Kind: monban.KindEmail, Value: "hanako@example.jp", CreatedAt: start})
	verify := e.start(StartInput{AccountID: acc, Purpose: monban.PurposeVerifyEmail, Channel: monban.ChannelEmail, Destination: "hanako@example.jp"})
	signIn := e.start(StartInput{AccountID: acc, Purpose: monban.PurposeSignIn, Channel: monban.ChannelEmail, Destination: "hanako@example.jp"})
	code, _, _ := e.sent(verify.ID)
	_, err := e.svc.Verify(ctx, signIn.ID, acc, code)
	wantErr(t, err, monban.EInvalid, "code.wrong")
	if ids, _ := e.db.IdentifiersByAccount(ctx, acc); ids[0].Verified {
		t.Fatal("verified before the code was entered")
	}
	if _, err := e.svc.Verify(ctx, verify.ID, acc, code); err != nil {
		t.Fatal(err)
	}
	ids, _ := e.db.IdentifiersByAccount(ctx, acc)
	if ids[0].Kind != monban.KindEmail || !ids[0].Verified {
		t.Fatalf("identifiers = %+v, want the email verified with the code", ids)
	}
	if f, _ := e.db.FlowByID(ctx, signIn.ID); !f.CompletedAt.IsZero() {
		t.Fatal("the other flow was completed")
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t, generous, func(c *Config) { c.PerDestinationHour = 2 })
	acc := e.account()
	f := e.start(smsTo(acc, "080-1234-5678"))
	st, err := e.svc.Status(ctx, f.ID, acc)
	if err != nil {
		t.Fatal(err)
	}
	if st.Masked != "080-****-5678" || st.Digits != 6 || len(st.Messages) != 1 || st.Messages[0].Payload != nil ||
		!st.NextSendAt.Equal(start.Add(30*time.Second)) {
		t.Fatalf("status = %+v", st)
	}
	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.Resend(ctx, f.ID, acc, ""); err != nil {
		t.Fatal(err)
	}
	// The destination's hourly limit is used up: the next resend waits for it.
	st, _ = e.svc.Status(ctx, f.ID, acc)
	if len(st.Messages) != 2 || !st.Messages[0].CreatedAt.After(st.Messages[1].CreatedAt) ||
		!st.NextSendAt.Equal(time.Date(2026, 4, 1, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("status after resend = %+v", st)
	}
	if _, err := e.svc.Status(ctx, f.ID, e.account()); monban.ErrorCodeOf(err) != monban.ENotFound {
		t.Fatalf("another account's status: %v", err)
	}
	em := e.start(StartInput{AccountID: acc, Purpose: monban.PurposeSignIn, Channel: monban.ChannelEmail, Destination: "taro@example.com"})
	if st, _ := e.svc.Status(ctx, em.ID, acc); st.Masked != "t***@example.com" {
		t.Fatalf("masked email = %q", st.Masked)
	}
}

func TestNoCodeInLogsOrErrors(t *testing.T) {
	var logs strings.Builder
	e := newEnv(t, generous)
	e.svc.log = newTextLogger(&logs)
	acc := e.account()
	f := e.start(smsTo(acc, "090-1234-5678"))
	code, _, _ := e.sent(f.ID)
	_, werr := e.svc.Verify(ctx, f.ID, acc, wrong(code))
	if _, err := e.svc.Verify(ctx, f.ID, acc, code); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), code) || strings.Contains(logs.String(), wrong(code)) ||
		strings.Contains(werr.Error(), wrong(code)) {
		t.Fatalf("a code leaked: %s / %v", logs.String(), werr)
	}
	if !strings.Contains(logs.String(), "code accepted") {
		t.Fatalf("logs = %s", logs.String())
	}
}

// TestNewCodeUniform feeds the generator bytes that must be rejected.
func TestNewCodeUniform(t *testing.T) {
	s := &Service{random: &fixedReader{b: []byte{255, 250, 3, 249, 251, 10, 19, 252, 0, 5, 6, 7, 8, 9}}}
	got, err := s.newCode(6)
	if err != nil || got != "390905" {
		t.Fatalf("newCode = %q, %v; want 390905", got, err)
	}
	if _, err := (&Service{random: &fixedReader{}}).newCode(6); err == nil {
		t.Fatal("a failing random source gave a code")
	}
}

type fixedReader struct{ b []byte }

func (r *fixedReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, errors.New("exhausted")
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// TestVerifyRace: 100 concurrent verifications of one right code succeed
// exactly once — on SQLite, and on PostgreSQL through two separate pools
// (two nodes) on one schema.
func TestVerifyRace(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		e := newEnv(t, generous)
		raceOnce(t, e, e.svc, e.svc)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.PostgresSchema(t)
		clock := clocktest.New(start)
		open := func() *sqlstore.DB {
			db, err := sqlstore.Open(ctx, dsn, clock)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return db
		}
		node1, node2 := open(), open()
		e := &env{t: t, db: node1, clock: clock}
		svc1, svc2 := e.service(node1, generous), e.service(node2, generous)
		e.svc = svc1
		raceOnce(t, e, svc1, svc2)
	})
}

func raceOnce(t *testing.T, e *env, a, b *Service) {
	acc := e.account(monban.Identifier{Kind: monban.KindPhone, Value: "+819012345678", CreatedAt: start})
	f := e.start(smsTo(acc, "090-1234-5678"))
	code, _, _ := e.sent(f.ID)
	const n = 100
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		svc := a
		if i%2 == 1 {
			svc = b
		}
		wg.Go(func() {
			<-gate
			_, errs[i] = svc.Verify(ctx, f.ID, acc, code)
		})
	}
	close(gate)
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
	if ok != 1 {
		t.Fatalf("%d of %d verifications succeeded, want exactly 1", ok, n)
	}
	ids, _ := e.db.IdentifiersByAccount(ctx, acc)
	if ids[0].Kind != monban.KindPhone || !ids[0].Verified {
		t.Fatalf("phone not verified: %+v", ids)
	}
}
