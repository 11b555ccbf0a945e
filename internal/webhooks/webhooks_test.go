package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/storetest"
	"github.com/monban-dev/monban/internal/webhooks"
)

func TestSignVerify(t *testing.T) {
	secret := []byte("s3cret-s3cret-s3cret-s3cret-s3cr")
	now := time.Unix(1_775_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"account.locked"}`)
	sig := webhooks.Sign(secret, "evt_1", now, body)
	ts := "1775000000"
	for _, tt := range []struct {
		name        string
		id, ts, sig string
		body        []byte
		at          time.Time
		want        error
	}{
		{"valid", "evt_1", ts, sig, body, now, nil},
		{"valid at the window's edge", "evt_1", ts, sig, body, now.Add(webhooks.ReplayWindow), nil},
		{"replayed after the window", "evt_1", ts, sig, body, now.Add(webhooks.ReplayWindow + time.Second), webhooks.ErrStale},
		{"from the future", "evt_1", ts, sig, body, now.Add(-webhooks.ReplayWindow - time.Second), webhooks.ErrStale},
		{"body changed", "evt_1", ts, sig, []byte(`{"id":"evt_1","type":"account.unlocked"}`), now, webhooks.ErrBadSignature},
		{"timestamp moved forward to pass the window", "evt_1", "1775000600", sig, body, now.Add(10 * time.Minute), webhooks.ErrBadSignature},
		{"id swapped", "evt_2", ts, sig, body, now, webhooks.ErrBadSignature},
		{"other secret", "evt_1", ts, webhooks.Sign([]byte("other"), "evt_1", now, body), body, now, webhooks.ErrBadSignature},
		{"garbage", "evt_1", ts, "v1=zz", body, now, webhooks.ErrBadSignature},
		{"no timestamp", "evt_1", "", sig, body, now, webhooks.ErrBadSignature},
	} {
		if err := webhooks.Verify(secret, tt.id, tt.ts, tt.sig, tt.body, tt.at, webhooks.ReplayWindow); err != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// receiver is a host app that verifies, deduplicates on the event id, and
// fails while down is set.
type receiver struct {
	t      *testing.T
	secret []byte
	clock  *clocktest.Clock
	mu     sync.Mutex
	down   bool
	posts  int
	seen   map[string]int // event id → times processed
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	if rc.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	id := r.Header.Get(webhooks.HeaderID)
	if err := webhooks.Verify(rc.secret, id, r.Header.Get(webhooks.HeaderTimestamp), r.Header.Get(webhooks.HeaderSignature),
		body, rc.clock.Now(), webhooks.ReplayWindow); err != nil {
		rc.t.Errorf("verify: %v", err)
		http.Error(w, "bad", http.StatusUnauthorized)
		return
	}
	var ev struct{ ID string }
	if json.Unmarshal(body, &ev); ev.ID != id {
		rc.t.Errorf("body id %q, header %q", ev.ID, id)
	}
	if _, dup := rc.seen[id]; !dup {
		rc.seen[id] = 0
	}
	rc.seen[id]++
}

// TestFailThenRecover: a receiver that is down gets nothing processed; the
// deliveries back off, run out, are listed as failed and redelivered; once
// it is up every event arrives, and after dedup each was processed once
// (here also delivered once: a 503 is never processed).
func TestFailThenRecover(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	clock := clocktest.New(time.Now().Truncate(time.Second))
	box, _ := seal.New([]byte("0123456789abcdef0123456789abcdef"))
	svc := webhooks.New(db, box, clock)
	rc := &receiver{t: t, clock: clock, down: true, seen: map[string]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	sub, secret, err := svc.Subscribe(ctx, "key_1", srv.URL+"/hook", []string{monban.EventAccountLocked, monban.EventAccountRegistered})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = secret
	if _, _, err := svc.Subscribe(ctx, "key_1", "ftp://x", []string{monban.EventAccountLocked}); monban.ErrorCodeOf(err) != monban.EInvalid {
		t.Errorf("ftp URL: %v", err)
	}
	var ids []string
	for _, typ := range []string{monban.EventAccountRegistered, monban.EventAccountLocked, monban.EventCaseUpdated, monban.EventAccountLocked} {
		ev, err := svc.Emit(ctx, typ, "acc_1", map[string]string{"n": typ})
		if err != nil {
			t.Fatal(err)
		}
		if typ != monban.EventCaseUpdated {
			ids = append(ids, ev.ID)
		}
	}
	w := webhooks.NewWorker(db, box, srv.Client(), clock, nil, webhooks.Config{MaxAttempts: 3, Rand: func(n int64) int64 { return n - 1 }})
	// Three attempts each while the receiver is down, with backoff between.
	for range 3 {
		if n, err := w.RunOnce(ctx); err != nil || n != 3 {
			t.Fatalf("RunOnce = %d, %v; want 3 (the case.updated event has no subscriber)", n, err)
		}
		if n, _ := w.RunOnce(ctx); n != 0 {
			t.Fatalf("retried before its backoff: %d", n)
		}
		clock.Advance(time.Hour + time.Second)
	}
	failed, err := db.WebhookDeliveries(ctx, "key_1", monban.DeliveryFailed, 10)
	if err != nil || len(failed) != 3 {
		t.Fatalf("failed deliveries: %d, %v", len(failed), err)
	}
	if failed[0].LastError != "HTTP 503" || failed[0].Attempts != 3 || failed[0].Secret != nil {
		t.Errorf("failed delivery %+v", failed[0])
	}
	if other, _ := db.WebhookDeliveries(ctx, "key_2", "", 10); len(other) != 0 {
		t.Errorf("another key sees %d deliveries", len(other))
	}
	if err := db.RedeliverWebhook(ctx, "key_2", failed[0].ID, clock.Now()); !monban.IsNotFound(err) {
		t.Errorf("another key redelivered: %v", err)
	}
	rc.mu.Lock()
	rc.down = false
	rc.mu.Unlock()
	for _, d := range failed {
		if err := db.RedeliverWebhook(ctx, "key_1", d.ID, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RedeliverWebhook(ctx, "key_1", failed[0].ID, clock.Now()); !monban.IsNotFound(err) {
		t.Errorf("redelivering a queued delivery: %v", err)
	}
	if n, err := w.RunOnce(ctx); err != nil || n != 3 {
		t.Fatalf("after recovery RunOnce = %d, %v", n, err)
	}
	// A lost acknowledgement: the same event delivered again is dropped by
	// the receiver's dedup, so it is processed once.
	d := failed[0]
	if err := db.RedeliverWebhook(ctx, "key_1", d.ID, clock.Now()); !monban.IsNotFound(err) {
		t.Errorf("a delivered delivery redelivered: %v", err)
	}
	if n, _ := w.RunOnce(ctx); n != 0 {
		t.Errorf("delivered ones claimed again: %d", n)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.seen) != len(ids) {
		t.Errorf("received %d distinct events, want %d", len(rc.seen), len(ids))
	}
	for _, id := range ids {
		if rc.seen[id] != 1 {
			t.Errorf("event %s processed %d times", id, rc.seen[id])
		}
	}
	if rc.posts != 12 {
		t.Errorf("%d posts, want 9 refused + 3 accepted", rc.posts)
	}
	_ = sub
}
