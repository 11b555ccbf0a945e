package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// webhookTests cover the webhook delivery queue.
var webhookTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"WebhookQueue", testWebhookQueue},
	{"WebhookClaimConcurrent", testWebhookClaimConcurrent},
}

func subscribe(t *testing.T, db *sqlstore.DB, key string, types ...string) *monban.WebhookSubscription {
	t.Helper()
	s := &monban.WebhookSubscription{ID: monban.NewID("whs"), APIKeyID: key, URL: "https://host.example/hook",
		Secret: []byte("sealed"), Types: types, CreatedAt: at(0)}
	if err := db.CreateWebhookSubscription(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func emit(t *testing.T, db *sqlstore.DB, typ string, when time.Time) *monban.WebhookEvent {
	t.Helper()
	ev := &monban.WebhookEvent{ID: monban.NewID("evt"), Type: typ, AccountID: "acc_1", CreatedAt: when}
	if err := db.EmitWebhookEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func testWebhookQueue(t *testing.T, db *sqlstore.DB) {
	locked := subscribe(t, db, "key_1", monban.EventAccountLocked)
	subscribe(t, db, "key_2", monban.EventAccountRegistered)
	off := subscribe(t, db, "key_3", monban.EventAccountLocked)
	if err := db.DisableWebhookSubscription(ctx, "key_3", off.ID, at(0)); err != nil {
		t.Fatal(err)
	}
	ev := emit(t, db, monban.EventAccountLocked, at(time.Second))
	ds, err := db.ClaimWebhookDeliveries(ctx, at(2*time.Second), time.Minute, 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("claim = %d, %v; want the one enabled subscriber", len(ds), err)
	}
	d := ds[0]
	if d.EventID != ev.ID || d.SubscriptionID != locked.ID || d.Attempts != 1 || string(d.Secret) != "sealed" ||
		d.URL != locked.URL || d.EventType != monban.EventAccountLocked || len(d.Body) == 0 {
		t.Errorf("claimed %+v", d)
	}
	if again, _ := db.ClaimWebhookDeliveries(ctx, at(3*time.Second), time.Minute, 10); len(again) != 0 {
		t.Errorf("claimed under lease: %d", len(again))
	}
	// A lapsed lease is claimed again.
	again, _ := db.ClaimWebhookDeliveries(ctx, at(2*time.Minute), time.Minute, 10)
	if len(again) != 1 || again[0].Attempts != 2 {
		t.Fatalf("after lease: %+v", again)
	}
	if ok, err := db.MarkWebhookDelivered(ctx, d.ID, at(3*time.Minute)); !ok || err != nil {
		t.Errorf("delivered: %v %v", ok, err)
	}
	if ok, _ := db.MarkWebhookRetry(ctx, d.ID, at(time.Hour), "late"); ok {
		t.Error("a late worker overwrote the delivered state")
	}
	got, _ := db.WebhookDeliveries(ctx, "key_1", monban.DeliveryDelivered, 10)
	if len(got) != 1 || !got[0].DeliveredAt.Equal(at(3*time.Minute)) {
		t.Errorf("delivered list %+v", got)
	}
}

func testWebhookClaimConcurrent(t *testing.T, db *sqlstore.DB) {
	subscribe(t, db, "key_1", monban.EventAccountLocked)
	const events = 40
	for i := range events {
		emit(t, db, monban.EventAccountLocked, at(time.Duration(i)*time.Millisecond))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := db.ClaimWebhookDeliveries(ctx, at(time.Second), time.Hour, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != events {
		t.Errorf("claimed %d distinct deliveries, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
}
