package storetest

import (
	"strings"
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

// caseTests cover the desk's cases, knowledge and agent sessions.
var caseTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"CaseFileAndMerge", testCaseFileAndMerge},
	{"CaseMergeConcurrent", testCaseMergeConcurrent},
	{"CaseMergeProvenOnly", testCaseMergeProvenOnly},
	{"CaseUpdateQueueCounts", testCaseUpdateQueueCounts},
	{"KnowledgeAndChecks", testKnowledgeAndChecks},
	{"AgentTOTPAndSessions", testAgentTOTPAndSessions},
}

func newCase(accountID, category string, created time.Time) (*monban.Case, *monban.CaseMessage) {
	c := &monban.Case{ID: monban.NewID("cas"), Ref: monban.NewRef(), AccountID: accountID, MergeKey: "acct:" + accountID,
		Category: category, Status: monban.CaseOpen, Lang: "ja", Identifier: "taro", Contact: "taro@example.jp",
		Platform: "web", Device: "iPhone", Description: "SMS が届きません", Requests: 1, CreatedAt: created, UpdatedAt: created}
	return c, &monban.CaseMessage{ID: monban.NewID("cmg"), At: created, Author: "person", Kind: monban.CaseMsgRequest,
		Body: c.Description, Lang: "ja"}
}

// fileCase files a request with an audit entry naming whether it merged.
func fileCase(t *testing.T, db *sqlstore.DB, c *monban.Case, req *monban.CaseMessage) (*monban.Case, bool) {
	t.Helper()
	got, merged, err := db.FileCase(ctx, c, req, func(c *monban.Case, merged bool) (sqlstore.CaseEffects, error) {
		action := monban.AuditCaseOpened
		if merged {
			action = monban.AuditCaseMerged
		}
		return sqlstore.CaseEffects{Audit: []monban.AuditEvent{{At: req.At, AccountID: c.AccountID, Action: action,
			Detail: map[string]string{"case_id": c.ID}}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, merged
}

func testCaseFileAndMerge(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	first, req := newCase(a.ID, monban.CaseLocked, at(time.Hour))
	got, merged := fileCase(t, db, first, req)
	if merged || got.ID != first.ID {
		t.Fatalf("first request: merged=%v case %s", merged, got.ID)
	}
	stored, err := db.CaseByID(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "stored case", stored, first)

	// A repeat a day later joins the open case; another category opens its own.
	again, req2 := newCase(a.ID, monban.CaseLocked, at(25*time.Hour))
	got, merged = fileCase(t, db, again, req2)
	if !merged || got.ID != first.ID || got.Requests != 2 || !got.UpdatedAt.Equal(at(25*time.Hour)) {
		t.Fatalf("repeat: merged=%v %+v", merged, got)
	}
	other, req3 := newCase(a.ID, monban.CaseTransfer, at(26*time.Hour))
	if got, merged = fileCase(t, db, other, req3); merged || got.ID != other.ID {
		t.Fatalf("other category: merged=%v case %s", merged, got.ID)
	}
	thread, err := db.CaseThread(ctx, first.ID)
	if err != nil || len(thread) != 2 || thread[0].ID != req.ID || thread[1].ID != req2.ID || thread[1].CaseID != first.ID {
		t.Fatalf("thread = %+v, %v", thread, err)
	}

	// Once closed, a repeat opens a new case.
	if _, err := db.UpdateCase(ctx, first.ID, func(c *monban.Case) (sqlstore.CaseEffects, error) {
		c.Status, c.ResolvedAt, c.UpdatedAt = monban.CaseClosed, at(30*time.Hour), at(30*time.Hour)
		return sqlstore.CaseEffects{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	late, req4 := newCase(a.ID, monban.CaseLocked, at(31*time.Hour))
	if got, merged = fileCase(t, db, late, req4); merged || got.ID != late.ID {
		t.Fatalf("after closing: merged=%v case %s", merged, got.ID)
	}
	cs, err := db.CasesByAccount(ctx, a.ID)
	if err != nil || len(cs) != 3 || cs[0].ID != late.ID || cs[2].ID != first.ID {
		t.Fatalf("cases by account = %+v, %v", cs, err)
	}
	evs, _ := db.AuditByAccount(ctx, a.ID, 0)
	var opened, mergedN int
	for _, ev := range evs {
		switch ev.Action {
		case monban.AuditCaseOpened:
			opened++
		case monban.AuditCaseMerged:
			mergedN++
		}
	}
	if opened != 3 || mergedN != 1 {
		t.Fatalf("audit: %d opened, %d merged", opened, mergedN)
	}
	if _, err := db.CaseByID(ctx, "cas_nothing"); !monban.IsNotFound(err) {
		t.Fatalf("missing case: %v", err)
	}
}

// testCaseMergeConcurrent: requests racing for one account and category
// make one case, however many nodes take them.
// testCaseMergeProvenOnly: a request joins only a case whose merge key it
// brings, or, signed in, a case of its account filed signed in.
func testCaseMergeProvenOnly(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	file := func(key, session string, h time.Duration) (*monban.Case, bool) {
		t.Helper()
		c, req := newCase(a.ID, monban.CaseLocked, at(h))
		c.MergeKey = key
		m := sqlstore.CaseMatch{Lock: "acct:" + a.ID, Keys: []string{key, strings.TrimSuffix(key, "|session")}}
		if session != "" {
			m.SessionAccount, m.SessionMark = session, "|session"
		}
		got, merged, err := db.FileCaseMatching(ctx, c, req, m, func(*monban.Case, bool) (sqlstore.CaseEffects, error) {
			return sqlstore.CaseEffects{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, merged
	}
	owner, _ := file("contact:x|acct:"+a.ID, "", time.Hour)
	if got, merged := file("contact:y|acct:"+a.ID, "", 2*time.Hour); merged || got.ID == owner.ID {
		t.Fatal("a request from another address joined the owner's case")
	}
	if got, merged := file("contact:x|acct:"+a.ID, "", 3*time.Hour); !merged || got.ID != owner.ID {
		t.Fatal("the owner's repeat from the same address did not join")
	}
	signed, merged := file("contact:z|acct:"+a.ID+"|session", a.ID, 4*time.Hour)
	if merged {
		t.Fatal("a signed-in request joined a case filed without sign-in from another address")
	}
	if got, merged := file("contact:w|acct:"+a.ID+"|session", a.ID, 5*time.Hour); !merged || got.ID != signed.ID {
		t.Fatalf("a second signed-in request did not join the case filed signed in (merged=%v)", merged)
	}
	if got, merged := file("contact:w|acct:"+a.ID, "", 6*time.Hour); merged && got.ID == signed.ID {
		t.Fatal("a request without sign-in joined the case filed signed in from another address")
	}
}

func testCaseMergeConcurrent(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, req := newCase(a.ID, monban.CaseLocked, at(time.Duration(i)*time.Second))
			if _, _, err := db.FileCase(ctx, c, req, func(*monban.Case, bool) (sqlstore.CaseEffects, error) {
				return sqlstore.CaseEffects{}, nil
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cs, err := db.CasesByAccount(ctx, a.ID)
	if err != nil || len(cs) != 1 || cs[0].Requests != n {
		t.Fatalf("cases = %+v, %v; want one with %d requests", cs, err, n)
	}
	if thread, _ := db.CaseThread(ctx, cs[0].ID); len(thread) != n {
		t.Fatalf("thread has %d requests, want %d", len(thread), n)
	}
}

func testCaseUpdateQueueCounts(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	b := mustCreateAccount(t, db, t0)
	old, r1 := newCase(a.ID, monban.CaseLocked, at(time.Hour))
	fileCase(t, db, old, r1)
	young, r2 := newCase(b.ID, monban.CaseTransfer, at(10*time.Hour))
	young.Lang = "en"
	fileCase(t, db, young, r2)
	unknown, r3 := newCase("", monban.CaseCantSignIn, at(5*time.Hour))
	unknown.MergeKey = "id:username:nobody"
	fileCase(t, db, unknown, r3)

	// A reply moves young to waiting, with its first reply time and a note.
	if _, err := db.UpdateCase(ctx, young.ID, func(c *monban.Case) (sqlstore.CaseEffects, error) {
		c.Status, c.FirstReplyAt, c.UpdatedAt = monban.CaseWaiting, at(11*time.Hour), at(11*time.Hour)
		return sqlstore.CaseEffects{Thread: []*monban.CaseMessage{{ID: monban.NewID("cmg"), At: at(11 * time.Hour),
			Author: "agent:agt_1", Kind: monban.CaseMsgReply, Body: "確認します", Lang: "en", Status: monban.CaseWaiting}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := db.CaseByID(ctx, young.ID)
	if got.Status != monban.CaseWaiting || !got.FirstReplyAt.Equal(at(11*time.Hour)) {
		t.Fatalf("after the reply: %+v", got)
	}
	if _, err := db.UpdateCase(ctx, "cas_nothing", func(*monban.Case) (sqlstore.CaseEffects, error) {
		return sqlstore.CaseEffects{}, nil
	}); !monban.IsNotFound(err) {
		t.Fatalf("update of a missing case: %v", err)
	}

	ids := func(cs []monban.Case, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			switch c.ID {
			case old.ID:
				out = append(out, "old")
			case young.ID:
				out = append(out, "young")
			case unknown.ID:
				out = append(out, "unknown")
			}
		}
		return strings.Join(out, ",")
	}
	now := at(12 * time.Hour)
	for _, tc := range []struct {
		f    monban.CaseFilter
		want string
	}{
		{monban.CaseFilter{}, "old,unknown,young"},
		{monban.CaseFilter{Status: monban.CaseWaiting}, "young"},
		{monban.CaseFilter{Category: monban.CaseLocked}, "old"},
		{monban.CaseFilter{Lang: "en"}, "young"},
		{monban.CaseFilter{OlderThan: 5 * time.Hour}, "old,unknown"},
		{monban.CaseFilter{Limit: 1}, "old"},
	} {
		if got := ids(db.QueueCases(ctx, tc.f, now)); got != tc.want {
			t.Errorf("queue %+v = %s, want %s", tc.f, got, tc.want)
		}
	}
	counts, err := db.CaseCounts(ctx)
	if err != nil || counts[monban.CaseOpen] != 2 || counts[monban.CaseWaiting] != 1 {
		t.Fatalf("counts = %v, %v", counts, err)
	}
	m, err := db.CaseMetrics(ctx, t0, at(24*time.Hour))
	if err != nil || m.Opened != 3 || m.FirstReply != time.Hour {
		t.Fatalf("metrics = %+v, %v", m, err)
	}
}

func testKnowledgeAndChecks(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, t0)
	ev := func(when time.Time) monban.AuditEvent {
		return monban.AuditEvent{At: when, AccountID: a.ID, Action: monban.AuditKnowledgeSet}
	}
	if err := db.SetKnowledge(ctx, a.ID, map[string][]byte{"name": []byte("h-name"), "card_last4": []byte("h-4242")}, at(time.Hour), ev(at(time.Hour))); err != nil {
		t.Fatal(err)
	}
	// A later call replaces one field and removes another; the rest stays.
	if err := db.SetKnowledge(ctx, a.ID, map[string][]byte{"name": []byte("h-name2"), "card_last4": nil}, at(2*time.Hour), ev(at(2*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := db.SetKnowledge(ctx, a.ID, map[string][]byte{"address": []byte("h-addr")}, at(3*time.Hour), ev(at(3*time.Hour))); err != nil {
		t.Fatal(err)
	}
	k, err := db.Knowledge(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "knowledge", k, map[string][]byte{"name": []byte("h-name2"), "address": []byte("h-addr")})
	if other, err := db.Knowledge(ctx, "acc_other"); err != nil || len(other) != 0 {
		t.Fatalf("another account's knowledge = %v, %v", other, err)
	}

	checks := []monban.IdentityCheck{
		{CaseID: "cas_1", AccountID: a.ID, AgentID: "agt_1", Field: "name", Matched: false, At: at(4 * time.Hour)},
		{CaseID: "cas_1", AccountID: a.ID, AgentID: "agt_1", Field: "name", Matched: true, At: at(5 * time.Hour)},
		{CaseID: "cas_2", AccountID: a.ID, AgentID: "agt_1", Field: "address", Matched: true, At: at(5 * time.Hour)},
	}
	evs := []monban.AuditEvent{{At: at(4 * time.Hour), AccountID: a.ID, AgentID: "agt_1", Action: monban.AuditIdentityChecked}}
	if err := db.RecordIdentityChecks(ctx, checks, evs); err != nil {
		t.Fatal(err)
	}
	got, err := db.IdentityChecks(ctx, "cas_1")
	if err != nil || len(got) != 2 || got[0].Matched || !got[1].Matched || !got[1].At.Equal(at(5*time.Hour)) || got[0].ID >= got[1].ID {
		t.Fatalf("checks of cas_1 = %+v, %v", got, err)
	}
	all, _ := db.AuditByAccount(ctx, a.ID, 0)
	var sets, checked int
	for _, e := range all {
		switch e.Action {
		case monban.AuditKnowledgeSet:
			sets++
		case monban.AuditIdentityChecked:
			checked++
		}
	}
	if sets != 3 || checked != 1 {
		t.Fatalf("audit: %d knowledge sets, %d checks", sets, checked)
	}
}

func testAgentTOTPAndSessions(t *testing.T, db *sqlstore.DB) {
	ag := &monban.Agent{ID: monban.NewID("agt"), Username: "sato_" + monban.NewID("u"), PasswordHash: "$argon2id$x",
		Role: monban.RoleAgent, CreatedAt: t0}
	if err := db.CreateAgent(ctx, ag, monban.AuditEvent{At: t0, AgentID: ag.ID, Action: monban.AuditAgentCreated}); err != nil {
		t.Fatal(err)
	}
	if s, step, err := db.AgentTOTP(ctx, ag.ID); err != nil || s != nil || step != 0 {
		t.Fatalf("before enrolment: %q %d %v", s, step, err)
	}
	enrol := monban.AuditEvent{At: t0, AgentID: ag.ID, Action: monban.AuditAgentTOTP}
	if err := db.SetAgentTOTP(ctx, ag.ID, []byte("sealed-1"), 100, enrol); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.SetAgentTOTP(ctx, ag.ID, []byte("sealed-2"), 101, enrol), monban.EConflict, "agent.totp_set", "")
	if err := db.UseAgentTOTPStep(ctx, ag.ID, 101); err != nil {
		t.Fatal(err)
	}
	for _, step := range []int64{101, 100} {
		wantCode(t, db.UseAgentTOTPStep(ctx, ag.ID, step), monban.EConflict, "totp.replayed", "code")
	}
	if s, step, _ := db.AgentTOTP(ctx, ag.ID); string(s) != "sealed-1" || step != 101 {
		t.Fatalf("after use: %q %d", s, step)
	}

	sess := &sqlstore.AgentSession{ID: monban.NewID("dss"), TokenHash: []byte("hash-" + ag.ID), AgentID: ag.ID, Level: 1,
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: at(10 * time.Minute)}
	if err := db.CreateAgentSession(ctx, sess, monban.AuditEvent{At: t0, AgentID: ag.ID, Action: monban.AuditAgentSignedIn}); err != nil {
		t.Fatal(err)
	}
	got, err := db.AgentSessionByTokenHash(ctx, sess.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "agent session", got, sess)
	if err := db.TouchAgentSession(ctx, sess.ID, 2, at(time.Minute), at(16*time.Minute), monban.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	got, _ = db.AgentSessionByTokenHash(ctx, sess.TokenHash)
	if got.Level != 2 || !got.LastSeenAt.Equal(at(time.Minute)) || !got.ExpiresAt.Equal(at(16*time.Minute)) {
		t.Fatalf("touched session = %+v", got)
	}
	if _, err := db.AgentSessionByTokenHash(ctx, []byte("no such token")); !monban.IsNotFound(err) {
		t.Fatalf("unknown token: %v", err)
	}

	// The operator's reset: no authenticator, every session ended, audited.
	other := &sqlstore.AgentSession{ID: monban.NewID("dss"), TokenHash: []byte("hash2-" + ag.ID), AgentID: ag.ID, Level: 2,
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: at(time.Hour)}
	if err := db.CreateAgentSession(ctx, other, monban.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	reset := monban.AuditEvent{At: at(2 * time.Minute), AgentID: ag.ID, Action: monban.AuditAgentTOTPReset}
	if err := db.ResetAgentTOTP(ctx, ag.ID, at(2*time.Minute), reset); err != nil {
		t.Fatal(err)
	}
	if s, step, _ := db.AgentTOTP(ctx, ag.ID); s != nil || step != 0 {
		t.Fatalf("after the reset: %q %d", s, step)
	}
	for _, h := range [][]byte{sess.TokenHash, other.TokenHash} {
		if s, _ := db.AgentSessionByTokenHash(ctx, h); !s.RevokedAt.Equal(at(2 * time.Minute)) {
			t.Fatalf("session after the reset: %+v", s)
		}
	}
	// Touching a revoked session changes nothing.
	if err := db.TouchAgentSession(ctx, sess.ID, 2, at(3*time.Minute), at(20*time.Minute), monban.AuditEvent{}); !monban.IsNotFound(err) {
		t.Fatalf("touch after revoke: %v", err)
	}
	// A new key can be enrolled again.
	if err := db.SetAgentTOTP(ctx, ag.ID, []byte("sealed-3"), 5, enrol); err != nil {
		t.Fatal(err)
	}
	if err := db.ResetAgentTOTP(ctx, "agt_nobody", at(time.Hour), reset); !monban.IsNotFound(err) {
		t.Fatalf("reset of an unknown agent: %v", err)
	}
}
