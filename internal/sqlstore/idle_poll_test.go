package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

// TestIdlePollWritesNothing: the outbox and webhook workers poll every
// second. A poll that finds nothing due must not commit: on SQLite every
// commit empties the session-check cache, and a host app's checks would
// all go to the database twice a second. A poll that finds work still
// claims it.
func TestIdlePollWritesNothing(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "monban.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.watch.halt() // only this process writes; its commits are what is counted
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

	before := db.commits.Load()
	for range 3 {
		ms, err := db.ClaimMessages(ctx, now, time.Minute, 10)
		if err != nil || len(ms) != 0 {
			t.Fatalf("ClaimMessages on an empty outbox = %d, %v", len(ms), err)
		}
		ds, err := db.ClaimWebhookDeliveries(ctx, now, time.Minute, 10)
		if err != nil || len(ds) != 0 {
			t.Fatalf("ClaimWebhookDeliveries with none due = %d, %v", len(ds), err)
		}
	}
	if got := db.commits.Load(); got != before {
		t.Fatalf("idle polls committed %d times", got-before)
	}

	// Work that is due is still found and claimed.
	m := &monban.Message{ID: monban.NewID("msg"), AccountID: "acc_x", Channel: monban.ChannelEmail,
		Destination: "taro@example.com", Template: "code", Lang: "ja", Payload: []byte("{}"),
		Status: monban.MessageQueued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	if err := db.EnqueueMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	ms, err := db.ClaimMessages(ctx, now, time.Minute, 10)
	if err != nil || len(ms) != 1 || ms[0].ID != m.ID {
		t.Fatalf("ClaimMessages with one due = %v, %v", ms, err)
	}
	// And a message whose sender died (lease lapsed) comes back.
	ms, err = db.ClaimMessages(ctx, now.Add(2*time.Minute), time.Minute, 10)
	if err != nil || len(ms) != 1 || ms[0].ID != m.ID {
		t.Fatalf("ClaimMessages after the lease lapsed = %v, %v", ms, err)
	}
}
