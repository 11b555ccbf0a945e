package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// outboxTests cover the delivery worker's view of the outbox: claims and
// leases, attempt outcomes, expiry, receipts and the dev outbox. Run appends
// them to its table, so each gets a fresh store.
var outboxTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"OutboxClaimOrderAndLease", testClaimOrderAndLease},
	{"OutboxClaimSkipsNotDueAndExpires", testClaimSkipsNotDueAndExpires},
	{"OutboxOutcomes", testOutboxOutcomes},
	{"OutboxReceipts", testReceipts},
	{"OutboxClaimConcurrent", testClaimConcurrent},
	{"OutboxMessagesByAccount", testMessagesByAccount},
	{"OutboxDevMessages", testDevMessages},
}

const lease = time.Minute

func enqueue(t *testing.T, db *sqlstore.DB, accountID string, created time.Time, edit func(m *monban.Message)) *monban.Message {
	t.Helper()
	m := &monban.Message{
		ID: monban.NewID("msg"), AccountID: accountID, Channel: monban.ChannelEmail,
		Destination: "taro@example.com", Template: "code.sign_in", Lang: "ja", Payload: []byte("sealed"),
		NextAttemptAt: created, CreatedAt: created, UpdatedAt: created,
	}
	if edit != nil {
		edit(m)
	}
	if err := db.EnqueueMessage(ctx, m); err != nil {
		t.Fatalf("EnqueueMessage: %v", err)
	}
	return m
}

func mustMessage(t *testing.T, db *sqlstore.DB, id string) *monban.Message {
	t.Helper()
	m, err := db.MessageByID(ctx, id)
	if err != nil {
		t.Fatalf("MessageByID(%s): %v", id, err)
	}
	return m
}

func claimIDs(t *testing.T, db *sqlstore.DB, now time.Time, limit int) []string {
	t.Helper()
	ms, err := db.ClaimMessages(ctx, now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimMessages: %v", err)
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		if m.Status != monban.MessageSending || !m.LeaseUntil.Equal(now.Add(lease)) {
			t.Errorf("claimed %s: status %s lease %v, want sending until %v", m.ID, m.Status, m.LeaseUntil, now.Add(lease))
		}
		ids = append(ids[:i], m.ID)
	}
	return ids
}

func testClaimOrderAndLease(t *testing.T, db *sqlstore.DB) {
	acc := monban.NewID("acc")
	// Created out of order; claims go oldest first.
	m2 := enqueue(t, db, acc, at(2*time.Second), nil)
	m1 := enqueue(t, db, acc, at(time.Second), nil)
	m3 := enqueue(t, db, acc, at(3*time.Second), nil)
	now := at(time.Hour)

	wantEqual(t, "first claim", claimIDs(t, db, now, 2), []string{m1.ID, m2.ID})
	wantEqual(t, "second claim", claimIDs(t, db, now, 2), []string{m3.ID})
	wantEqual(t, "third claim", claimIDs(t, db, now, 2), []string{})
	wantEqual(t, "attempts", mustMessage(t, db, m1.ID).Attempts, 1)

	// Still leased at the lease's end; free just after (the node died).
	wantEqual(t, "claim at lease end", claimIDs(t, db, now.Add(lease), 10), []string{})
	later := now.Add(lease + time.Microsecond)
	wantEqual(t, "claim after lease", claimIDs(t, db, later, 10), []string{m1.ID, m2.ID, m3.ID})
	wantEqual(t, "attempts after re-claim", mustMessage(t, db, m1.ID).Attempts, 2)
	wantEqual(t, "payload kept while sending", string(mustMessage(t, db, m1.ID).Payload), "sealed")
}

func testClaimSkipsNotDueAndExpires(t *testing.T, db *sqlstore.DB) {
	acc := monban.NewID("acc")
	now := at(time.Hour)
	future := enqueue(t, db, acc, at(0), func(m *monban.Message) { m.NextAttemptAt = now.Add(time.Second) })
	expired := enqueue(t, db, acc, at(0), func(m *monban.Message) { m.ExpiresAt = now })
	live := enqueue(t, db, acc, at(0), func(m *monban.Message) { m.ExpiresAt = now.Add(time.Second) })

	wantEqual(t, "claimed", claimIDs(t, db, now, 10), []string{live.ID})
	e := mustMessage(t, db, expired.ID)
	wantEqual(t, "expired status", e.Status, monban.MessageExpired)
	wantEqual(t, "expired payload", e.Payload, []byte(nil))
	wantEqual(t, "expired attempts", e.Attempts, 0)
	wantEqual(t, "not due yet", mustMessage(t, db, future.ID).Status, monban.MessageQueued)
	wantEqual(t, "due later", claimIDs(t, db, now.Add(time.Second), 10), []string{future.ID})
}

func testOutboxOutcomes(t *testing.T, db *sqlstore.DB) {
	acc := monban.NewID("acc")
	sent := enqueue(t, db, acc, at(0), nil)
	retry := enqueue(t, db, acc, at(time.Second), nil)
	failed := enqueue(t, db, acc, at(2*time.Second), nil)
	abandoned := enqueue(t, db, acc, at(3*time.Second), nil)
	now := at(time.Hour)

	// Nothing changes a message that is not being sent.
	ok, err := db.MarkSent(ctx, sent.ID, "smtp", "pid", now)
	wantEqual(t, "MarkSent on queued", ok, false)
	wantEqual(t, "err", err, nil)

	claimIDs(t, db, now, 10)
	mark := func(what string, ok bool, err error) {
		t.Helper()
		if err != nil || !ok {
			t.Fatalf("%s: applied %v, %v", what, ok, err)
		}
	}
	ok, err = db.MarkSent(ctx, sent.ID, "smtp", "<pid@example.com>", now)
	mark("MarkSent", ok, err)
	ok, err = db.MarkRetry(ctx, retry.ID, now.Add(4*time.Second), "451 try later", now)
	mark("MarkRetry", ok, err)
	ok, err = db.MarkFailed(ctx, failed.ID, "550 no such user", now)
	mark("MarkFailed", ok, err)
	ok, err = db.MarkAbandoned(ctx, abandoned.ID, "connection refused", now)
	mark("MarkAbandoned", ok, err)

	s := mustMessage(t, db, sent.ID)
	wantEqual(t, "sent", []any{s.Status, s.Provider, s.ProviderID, s.SentAt, s.Payload, s.LeaseUntil},
		[]any{monban.MessageSent, "smtp", "<pid@example.com>", now, []byte(nil), time.Time{}})
	r := mustMessage(t, db, retry.ID)
	wantEqual(t, "retry", []any{r.Status, r.NextAttemptAt, r.Reason, string(r.Payload)},
		[]any{monban.MessageQueued, now.Add(4 * time.Second), "451 try later", "sealed"})
	f := mustMessage(t, db, failed.ID)
	wantEqual(t, "failed", []any{f.Status, f.Reason, f.FailedAt, f.Payload},
		[]any{monban.MessageFailed, "550 no such user", now, []byte(nil)})
	a := mustMessage(t, db, abandoned.ID)
	wantEqual(t, "abandoned", []any{a.Status, a.Reason, a.Payload},
		[]any{monban.MessageAbandoned, "connection refused", []byte(nil)})

	// A stale worker cannot overwrite a newer state.
	ok, _ = db.MarkRetry(ctx, sent.ID, now, "late", now)
	wantEqual(t, "MarkRetry on sent", ok, false)
	ok, _ = db.MarkFailed(ctx, abandoned.ID, "late", now)
	wantEqual(t, "MarkFailed on abandoned", ok, false)
	ok, _ = db.MarkAbandoned(ctx, retry.ID, "late", now)
	wantEqual(t, "MarkAbandoned on queued", ok, false)
	wantEqual(t, "sent unchanged", mustMessage(t, db, sent.ID).Status, monban.MessageSent)
}

func testReceipts(t *testing.T, db *sqlstore.DB) {
	acc := monban.NewID("acc")
	now := at(time.Hour)
	a := enqueue(t, db, acc, at(0), nil)
	b := enqueue(t, db, acc, at(time.Second), nil)
	c := enqueue(t, db, acc, at(2*time.Second), nil)
	queued := enqueue(t, db, acc, now, func(m *monban.Message) { m.NextAttemptAt = now.Add(time.Hour) })
	claimIDs(t, db, now, 3)
	for _, m := range []*monban.Message{a, b} {
		if ok, err := db.MarkSent(ctx, m.ID, "kannel", "k-"+m.ID, now); !ok || err != nil {
			t.Fatalf("MarkSent: %v %v", ok, err)
		}
	}
	apply := func(provider, providerID, messageID string, status monban.MessageStatus, reason string) bool {
		t.Helper()
		ok, err := db.ApplyReceipt(ctx, provider, providerID, messageID, status, reason, now.Add(time.Minute))
		if err != nil {
			t.Fatalf("ApplyReceipt: %v", err)
		}
		return ok
	}
	wantEqual(t, "accepted is not delivered", apply("kannel", "k-"+a.ID, "", monban.MessageSent, ""), false)
	wantEqual(t, "still sent", mustMessage(t, db, a.ID).Status, monban.MessageSent)
	wantEqual(t, "other provider", apply("http", "k-"+a.ID, "", monban.MessageDelivered, ""), false)
	wantEqual(t, "delivered", apply("kannel", "k-"+a.ID, "", monban.MessageDelivered, ""), true)
	wantEqual(t, "duplicate", apply("kannel", "k-"+a.ID, "", monban.MessageDelivered, ""), false)
	wantEqual(t, "failed after delivered", apply("kannel", "k-"+a.ID, "", monban.MessageFailed, "x"), false)
	got := mustMessage(t, db, a.ID)
	wantEqual(t, "a", []any{got.Status, got.DeliveredAt}, []any{monban.MessageDelivered, now.Add(time.Minute)})

	wantEqual(t, "failed by message id", apply("kannel", "", b.ID, monban.MessageFailed, "absent subscriber"), true)
	got = mustMessage(t, db, b.ID)
	wantEqual(t, "b", []any{got.Status, got.Reason}, []any{monban.MessageFailed, "absent subscriber"})

	// A receipt that overtakes MarkSent counts; MarkSent then only fills in
	// the provider's id.
	wantEqual(t, "receipt before MarkSent", apply("kannel", "", c.ID, monban.MessageDelivered, ""), true)
	if ok, err := db.MarkSent(ctx, c.ID, "kannel", "k-c", now); !ok || err != nil {
		t.Fatalf("MarkSent after receipt: %v %v", ok, err)
	}
	got = mustMessage(t, db, c.ID)
	wantEqual(t, "c", []any{got.Status, got.ProviderID}, []any{monban.MessageDelivered, "k-c"})

	wantEqual(t, "queued message", apply("kannel", "", queued.ID, monban.MessageDelivered, ""), false)
	wantEqual(t, "unknown id", apply("kannel", "nope", "", monban.MessageDelivered, ""), false)
	_, err := db.ApplyReceipt(ctx, "kannel", "k-x", "", monban.MessageQueued, "", now)
	wantEqual(t, "bad status", monban.ErrorCodeOf(err), monban.EInvalid)
	_, err = db.ApplyReceipt(ctx, "kannel", "", "", monban.MessageDelivered, "", now)
	wantEqual(t, "no id", monban.ErrorCodeOf(err), monban.EInvalid)
}

func testClaimConcurrent(t *testing.T, db *sqlstore.DB) {
	acc := monban.NewID("acc")
	const n = 200
	for i := range n {
		enqueue(t, db, acc, at(time.Duration(i)*time.Millisecond), nil)
	}
	now := at(time.Hour)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				ms, err := db.ClaimMessages(ctx, now, lease, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ms) == 0 {
					return
				}
				mu.Lock()
				for _, m := range ms {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	wantEqual(t, "claimed", len(seen), n)
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s claimed %d times", id, c)
		}
	}
}

func testMessagesByAccount(t *testing.T, db *sqlstore.DB) {
	acc := monban.NewID("acc")
	enqueue(t, db, acc, at(time.Second), nil)
	m2 := enqueue(t, db, acc, at(2*time.Second), nil)
	m3 := enqueue(t, db, acc, at(3*time.Second), nil)
	enqueue(t, db, monban.NewID("acc"), at(4*time.Second), nil)
	ms, err := db.MessagesByAccount(ctx, acc, 2)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "ids", []string{ms[0].ID, ms[1].ID}, []string{m3.ID, m2.ID})
	wantEqual(t, "count", len(ms), 2)
	_, err = db.MessageByID(ctx, "msg_nope")
	wantEqual(t, "missing", monban.IsNotFound(err), true)
}

func testDevMessages(t *testing.T, db *sqlstore.DB) {
	acc := monban.NewID("acc")
	m := enqueue(t, db, acc, at(0), nil)
	now := at(time.Hour)
	claimIDs(t, db, now, 10)
	if err := db.AddDevMessage(ctx, m, "old", "old body", "000000", now); err != nil {
		t.Fatal(err)
	}
	if err := db.AddDevMessage(ctx, m, "件名", "本文 123456", "123456", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.MarkSent(ctx, m.ID, "dev", m.ID, now); !ok || err != nil {
		t.Fatalf("MarkSent: %v %v", ok, err)
	}
	ds, err := db.DevMessages(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "dev messages", ds, []sqlstore.DevMessage{{
		MessageID: m.ID, Channel: monban.ChannelEmail, Destination: m.Destination, Template: m.Template, Lang: "ja",
		Subject: "件名", Body: "本文 123456", Code: "123456", CreatedAt: now.Add(time.Second), Status: monban.MessageSent,
	}})
}
