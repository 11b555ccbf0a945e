package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/delivery"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/storetest"
)

var ctx = context.Background()

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func testBox(t testing.TB) *seal.Box {
	t.Helper()
	box, err := seal.New([]byte("outbox test secret, 32 bytes...."))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// queueCode queues a code message the way internal/codes does.
func queueCode(t testing.TB, db *sqlstore.DB, box *seal.Box, ch monban.Channel, dest, code string, at time.Time,
	edit ...func(m *monban.Message)) *monban.Message {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"code": code, "minutes": 10})
	if err != nil {
		t.Fatal(err)
	}
	m := &monban.Message{
		ID: monban.NewID("msg"), AccountID: "acc_1", Channel: ch, Destination: dest,
		Template: "code.sign_in", Lang: "ja", Payload: box.Seal(payload),
		NextAttemptAt: at, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(time.Hour),
	}
	for _, e := range edit {
		e(m)
	}
	if err := db.EnqueueMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// recorder is a Sender that records every attempt and answers with result.
type recorder struct {
	name   string
	result func(ctx context.Context, out *delivery.Outgoing, attempt int) error

	mu    sync.Mutex
	sends map[string]int // message id → attempts seen
	outs  []*delivery.Outgoing
	sent  chan string // each successful send's message id
}

func newRecorder(result func(ctx context.Context, out *delivery.Outgoing, attempt int) error) *recorder {
	if result == nil {
		result = func(context.Context, *delivery.Outgoing, int) error { return nil }
	}
	return &recorder{name: "rec", result: result, sends: map[string]int{}, sent: make(chan string, 10000)}
}

func (r *recorder) Provider() string { return r.name }

func (r *recorder) Send(ctx context.Context, out *delivery.Outgoing) (string, error) {
	r.mu.Lock()
	r.sends[out.Message.ID]++
	n := r.sends[out.Message.ID]
	r.outs = append(r.outs, out)
	r.mu.Unlock()
	if err := r.result(ctx, out, n); err != nil {
		return "", err
	}
	r.sent <- out.Message.ID
	return "rec-" + out.Message.ID, nil
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sends[id]
}

type results struct {
	mu  sync.Mutex
	got []string
}

func (r *results) add(channel, provider, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, channel+"/"+provider+"/"+outcome)
}

func newWorker(t testing.TB, db delivery.Store, s delivery.Sender, clock monban.Clock, cfg delivery.Config) *delivery.Worker {
	t.Helper()
	senders := map[monban.Channel]delivery.Sender{monban.ChannelEmail: s, monban.ChannelSMS: s, monban.ChannelVoice: s}
	return delivery.New(db, senders, testBox(t), newRenderer(t), clock, quietLog, cfg)
}

func runOnce(t *testing.T, w *delivery.Worker, want int) {
	t.Helper()
	n, err := w.RunOnce(ctx)
	if err != nil || n != want {
		t.Fatalf("RunOnce: %d messages, %v; want %d", n, err, want)
	}
}

func message(t *testing.T, db *sqlstore.DB, id string) *monban.Message {
	t.Helper()
	m, err := db.MessageByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWorkerSends(t *testing.T) {
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	rec := newRecorder(nil)
	w := newWorker(t, db, rec, clock, delivery.Config{})
	var res results
	w.OnResult(res.add)
	m := queueCode(t, db, box, monban.ChannelSMS, "+819012345678", "482910", clock.Now())

	runOnce(t, w, 1)
	runOnce(t, w, 0)
	out := rec.outs[0]
	if out.IdempotencyKey != m.ID || !strings.Contains(out.Text, "482910") || out.Code != "482910" {
		t.Errorf("outgoing: key %q code %q text %q", out.IdempotencyKey, out.Code, out.Text)
	}
	got := message(t, db, m.ID)
	if got.Status != monban.MessageSent || got.Provider != "rec" || got.ProviderID != "rec-"+m.ID ||
		got.Payload != nil || got.Attempts != 1 || !got.SentAt.Equal(clock.Now()) {
		t.Errorf("after send: %+v", got)
	}
	if strings.Join(res.got, ",") != "sms/rec/sent" {
		t.Errorf("OnResult: %v", res.got)
	}
}

func TestWorkerRetriesToTheCapThenAbandons(t *testing.T) {
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	rec := newRecorder(func(context.Context, *delivery.Outgoing, int) error { return errors.New("connection refused") })
	// Rand returns its largest value: each delay is the full ceiling.
	w := newWorker(t, db, rec, clock, delivery.Config{MaxAttempts: 5, BackoffBase: 2 * time.Second,
		BackoffCap: 5 * time.Second, Rand: func(n int64) int64 { return n - 1 }})
	m := queueCode(t, db, box, monban.ChannelEmail, "taro@example.jp", "111111", clock.Now())

	for i, delay := range []time.Duration{2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		runOnce(t, w, 1)
		got := message(t, db, m.ID)
		if got.Status != monban.MessageQueued || !got.NextAttemptAt.Equal(clock.Now().Add(delay)) ||
			!strings.Contains(got.Reason, "connection refused") || got.Payload == nil {
			t.Fatalf("after attempt %d: %s next in %v, reason %q", i+1, got.Status, got.NextAttemptAt.Sub(clock.Now()), got.Reason)
		}
		clock.Advance(delay - time.Microsecond)
		runOnce(t, w, 0) // not due yet
		clock.Advance(time.Microsecond)
	}
	runOnce(t, w, 1)
	got := message(t, db, m.ID)
	if got.Status != monban.MessageAbandoned || !strings.Contains(got.Reason, "connection refused") || got.Payload != nil {
		t.Errorf("after the last attempt: %s %q payload %v", got.Status, got.Reason, got.Payload != nil)
	}
	clock.Advance(time.Hour)
	runOnce(t, w, 0)
	if n := rec.count(m.ID); n != 5 {
		t.Errorf("%d attempts, want 5", n)
	}
}

func TestWorkerBackoffJitter(t *testing.T) {
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	rec := newRecorder(func(context.Context, *delivery.Outgoing, int) error { return errors.New("timeout") })
	var asked []int64
	w := newWorker(t, db, rec, clock, delivery.Config{BackoffBase: time.Second, BackoffCap: time.Minute,
		Rand: func(n int64) int64 { asked = append(asked, n); return n / 2 }})
	m := queueCode(t, db, box, monban.ChannelEmail, "taro@example.jp", "111111", clock.Now())
	runOnce(t, w, 1)
	if len(asked) != 1 || asked[0] != int64(time.Second)+1 {
		t.Fatalf("jitter drawn from %v, want [0, 1s]", asked)
	}
	if got := message(t, db, m.ID).NextAttemptAt.Sub(clock.Now()); got != time.Second/2 {
		t.Errorf("delay %v, want the drawn 500ms", got)
	}
}

func TestWorkerPermanentFailure(t *testing.T) {
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	rec := newRecorder(func(context.Context, *delivery.Outgoing, int) error {
		return delivery.Permanent("550 5.1.1 no such user", errors.New("rcpt"))
	})
	w := newWorker(t, db, rec, clock, delivery.Config{})
	var res results
	w.OnResult(res.add)
	m := queueCode(t, db, box, monban.ChannelEmail, "nobody@example.jp", "111111", clock.Now())
	runOnce(t, w, 1)
	clock.Advance(time.Hour)
	runOnce(t, w, 0)
	got := message(t, db, m.ID)
	if got.Status != monban.MessageFailed || got.Reason != "550 5.1.1 no such user" || got.Payload != nil || rec.count(m.ID) != 1 {
		t.Errorf("%s %q, %d sends", got.Status, got.Reason, rec.count(m.ID))
	}
	if strings.Join(res.got, ",") != "email/rec/failed" {
		t.Errorf("OnResult: %v", res.got)
	}
}

func TestWorkerUnsendable(t *testing.T) {
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	other, err := seal.New([]byte("another secret"))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(nil)
	senders := map[monban.Channel]delivery.Sender{monban.ChannelEmail: rec}
	w := delivery.New(db, senders, box, newRenderer(t), clock, quietLog, delivery.Config{})
	good := queueCode(t, db, box, monban.ChannelEmail, "a@example.jp", "1", clock.Now())
	noSender := queueCode(t, db, box, monban.ChannelVoice, "+819012345678", "1", clock.Now())
	badTemplate := &monban.Message{ID: monban.NewID("msg"), Channel: monban.ChannelEmail, Destination: "a@example.jp",
		Template: "code.nope", Lang: "ja", Payload: box.Seal([]byte(`{"code":"1","minutes":10}`)),
		CreatedAt: clock.Now(), UpdatedAt: clock.Now()}
	badSeal := &monban.Message{ID: monban.NewID("msg"), Channel: monban.ChannelEmail, Destination: "a@example.jp",
		Template: "code.sign_in", Lang: "ja", Payload: other.Seal([]byte(`{"code":"1","minutes":10}`)),
		CreatedAt: clock.Now(), UpdatedAt: clock.Now()}
	for _, m := range []*monban.Message{badTemplate, badSeal} {
		if err := db.EnqueueMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	n, err := w.RunOnce(ctx)
	if err != nil || n != 4 {
		t.Fatalf("RunOnce: %d, %v", n, err)
	}
	for id, reason := range map[string]string{
		badTemplate.ID: "cannot render", badSeal.ID: "payload cannot be opened", noSender.ID: "no sender for channel voice",
	} {
		got := message(t, db, id)
		if got.Status != monban.MessageFailed || got.Reason != reason {
			t.Errorf("%s: %s %q, want failed %q", id, got.Status, got.Reason, reason)
		}
		if rec.count(id) != 0 {
			t.Errorf("%s was handed to the sender", id)
		}
	}
	if got := message(t, db, good.ID).Status; got != monban.MessageSent {
		t.Errorf("good message: %s", got)
	}
}

// TestWorkerLeaseExpiry: a worker that claimed messages and died leaves
// them "sending"; once the lease runs out another worker sends them.
func TestWorkerLeaseExpiry(t *testing.T) {
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	m := queueCode(t, db, box, monban.ChannelEmail, "taro@example.jp", "111111", clock.Now())
	// The dead worker's claim.
	if ms, err := db.ClaimMessages(ctx, clock.Now(), time.Minute, 10); err != nil || len(ms) != 1 {
		t.Fatalf("claim: %v %v", ms, err)
	}
	rec := newRecorder(nil)
	w := newWorker(t, db, rec, clock, delivery.Config{Lease: time.Minute})
	runOnce(t, w, 0)
	clock.Advance(time.Minute)
	runOnce(t, w, 0) // the lease still holds at its last instant
	clock.Advance(time.Microsecond)
	runOnce(t, w, 1)
	got := message(t, db, m.ID)
	if got.Status != monban.MessageSent || got.Attempts != 2 || rec.count(m.ID) != 1 {
		t.Errorf("after lease expiry: %s, attempts %d, sends %d", got.Status, got.Attempts, rec.count(m.ID))
	}
}

func TestWorkerExpiredBeforeSending(t *testing.T) {
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	m := queueCode(t, db, box, monban.ChannelSMS, "+819012345678", "111111", clock.Now())
	rec := newRecorder(nil)
	w := newWorker(t, db, rec, clock, delivery.Config{})
	clock.Advance(time.Hour) // its ExpiresAt
	runOnce(t, w, 0)
	if got := message(t, db, m.ID); got.Status != monban.MessageExpired || got.Payload != nil || rec.count(m.ID) != 0 {
		t.Errorf("%s, payload %v, sends %d", got.Status, got.Payload != nil, rec.count(m.ID))
	}
}

// TestWorkerSendTimeout: a provider that hangs holds only its own send, for
// SendTimeout, and the message is retried.
func TestWorkerSendTimeout(t *testing.T) {
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	hang := queueCode(t, db, box, monban.ChannelEmail, "hang@example.jp", "111111", clock.Now())
	fine := queueCode(t, db, box, monban.ChannelEmail, "fine@example.jp", "222222", clock.Now())
	rec := newRecorder(func(ctx context.Context, out *delivery.Outgoing, _ int) error {
		if out.Message.ID == hang.ID {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	w := newWorker(t, db, rec, clock, delivery.Config{SendTimeout: 50 * time.Millisecond})
	runOnce(t, w, 2)
	if got := message(t, db, hang.ID); got.Status != monban.MessageQueued || !strings.Contains(got.Reason, "deadline") {
		t.Errorf("hanging send: %s %q", got.Status, got.Reason)
	}
	if got := message(t, db, fine.ID); got.Status != monban.MessageSent {
		t.Errorf("other send: %s", got.Status)
	}
}

func TestReceipts(t *testing.T) {
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	dev := delivery.NewDev(db, clock)
	w := newWorker(t, db, dev, clock, delivery.Config{})
	a := queueCode(t, db, box, monban.ChannelSMS, "+819012345678", "123456", clock.Now())
	b := queueCode(t, db, box, monban.ChannelEmail, "taro@example.jp", "654321", clock.Now())
	runOnce(t, w, 2)

	ds, err := db.DevMessages(ctx, 10)
	if err != nil || len(ds) != 2 {
		t.Fatalf("dev outbox: %v %v", ds, err)
	}
	for _, d := range ds {
		if d.Status != monban.MessageSent || d.Code == "" || !strings.Contains(d.Body, d.Code) {
			t.Errorf("dev message: %+v", d)
		}
	}
	apply := func(r delivery.Receipt) bool {
		t.Helper()
		ok, err := delivery.ApplyReceipt(ctx, db, r, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if apply(delivery.Receipt{Provider: "dev", ProviderID: a.ID, Status: monban.MessageSent}) {
		t.Error("an 'accepted' receipt changed the message")
	}
	if !apply(delivery.Receipt{Provider: "dev", ProviderID: a.ID, Status: monban.MessageDelivered}) {
		t.Error("delivered not applied")
	}
	if apply(delivery.Receipt{Provider: "dev", ProviderID: a.ID, Status: monban.MessageDelivered}) {
		t.Error("duplicate applied")
	}
	if !apply(delivery.Receipt{Provider: "dev", MessageID: b.ID, Status: monban.MessageFailed, Reason: "mailbox full"}) {
		t.Error("failed not applied")
	}
	if apply(delivery.Receipt{Provider: "dev", MessageID: b.ID, Status: monban.MessageDelivered}) {
		t.Error("a receipt moved a final state")
	}
	if got := message(t, db, a.ID).Status; got != monban.MessageDelivered {
		t.Errorf("a: %s", got)
	}
	if got := message(t, db, b.ID); got.Status != monban.MessageFailed || got.Reason != "mailbox full" {
		t.Errorf("b: %s %q", got.Status, got.Reason)
	}
	for _, bad := range []delivery.Receipt{{ProviderID: "x", Status: monban.MessageDelivered},
		{Provider: "dev", Status: monban.MessageDelivered}, {Provider: "dev", ProviderID: "x", Status: "read"}} {
		if _, err := delivery.ApplyReceipt(ctx, db, bad, clock.Now()); monban.ErrorCodeOf(err) != monban.EInvalid {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// TestRunNotify: Run sends what is queued as soon as it is woken, and
// returns once ctx ends.
func TestRunNotify(t *testing.T) {
	db, box := storetest.Open(t), testBox(t)
	rec := newRecorder(nil)
	w := newWorker(t, db, rec, monban.SystemClock{}, delivery.Config{Poll: time.Hour})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- w.Run(runCtx) }()
	for i := range 3 {
		m := queueCode(t, db, box, monban.ChannelEmail, "taro@example.jp", fmt.Sprint(100000+i), time.Now())
		w.Notify()
		select {
		case id := <-rec.sent:
			if id != m.ID {
				t.Fatalf("sent %s, want %s", id, m.ID)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("not sent after Notify")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

// TestTwoWorkersNeverSendTwice runs two workers, each on its own store
// handle (two nodes), over one outbox of 500 messages; in the normal path
// every message is sent exactly once.
func TestTwoWorkersNeverSendTwice(t *testing.T) {
	dsns := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return t.TempDir() + "/two.db" },
		"postgres": func(t *testing.T) string { return storetest.PostgresSchema(t) }, // skips without MONBAN_TEST_POSTGRES
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			a, b := openStore(t, dsn), openStore(t, dsn)
			box := testBox(t)
			const n = 500
			for i := range n {
				queueCode(t, a, box, monban.ChannelEmail, fmt.Sprintf("u%d@example.jp", i), "123456", time.Now())
			}
			rec := newRecorder(nil)
			runCtx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			for _, db := range []*sqlstore.DB{a, b} {
				w := newWorker(t, db, rec, monban.SystemClock{}, delivery.Config{Concurrency: 8, Poll: 10 * time.Millisecond})
				wg.Go(func() { _ = w.Run(runCtx) })
			}
			deadline := time.After(60 * time.Second)
			for range n {
				select {
				case <-rec.sent:
				case <-deadline:
					cancel()
					t.Fatalf("only some of %d messages sent in time", n)
				}
			}
			cancel()
			wg.Wait()
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.sends) != n {
				t.Errorf("%d distinct messages sent, want %d", len(rec.sends), n)
			}
			for id, c := range rec.sends {
				if c != 1 {
					t.Errorf("%s sent %d times", id, c)
				}
			}
		})
	}
}

func openStore(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}
