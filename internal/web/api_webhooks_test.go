package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/webhooks"
)

// hookReceiver is a host app's webhook endpoint on loopback: it verifies
// each request with webhooks.Verify on the node's clock, deduplicates on
// the event id, and answers 503 while down.
type hookReceiver struct {
	t      *testing.T
	clock  *clocktest.Clock
	mu     sync.Mutex
	secret []byte
	down   bool
	posts  int
	events []hookEvent // processed, first time each
	seen   map[string]bool
}

type hookEvent struct {
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	AccountID string            `json:"account_id"`
	CreatedAt time.Time         `json:"created_at"`
	Data      map[string]string `json:"data"`
}

func (rc *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		rc.t.Errorf("webhook signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev hookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != id {
		rc.t.Errorf("webhook body %s (header id %s): %v", body, id, err)
	}
	if !rc.seen[id] {
		rc.seen[id] = true
		rc.events = append(rc.events, ev)
	}
}

func (rc *hookReceiver) set(down bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.down = down
}

func (rc *hookReceiver) got() ([]hookEvent, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hookEvent(nil), rc.events...), rc.posts
}

// TestWebhooksHostAPI: a host app subscribes with its API key, a sign-up
// reaches its receiver signed; a delivery that keeps failing is listed
// as failed and redelivered once the receiver is back; every call is
// scoped to the key.
func TestWebhooksHostAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		key, _, err := h.n.Keys.Create(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		other, _, err := h.n.Keys.Create(ctx, "blog")
		if err != nil {
			t.Fatal(err)
		}
		rc := &hookReceiver{t: t, clock: h.clock, seen: map[string]bool{}}
		recv := httptest.NewServer(rc)
		defer recv.Close()
		deliver := func(want int) {
			t.Helper()
			if n, err := h.n.DeliverWebhooks(ctx); err != nil || n != want {
				t.Fatalf("DeliverWebhooks = %d, %v; want %d", n, err, want)
			}
		}

		// Refusals change nothing.
		for _, c := range []struct {
			name, apiKey string
			body         map[string]any
			status       int
			key, field   string
		}{
			{"no key", "", map[string]any{"url": recv.URL, "events": []string{"account.registered"}}, 401, "apikey.missing", ""},
			{"session token", "mbs_x", map[string]any{"url": recv.URL, "events": []string{"account.registered"}}, 401, "apikey.invalid", ""},
			{"ftp", key, map[string]any{"url": "ftp://host/x", "events": []string{"account.registered"}}, 400, "webhook.url", "url"},
			{"no events", key, map[string]any{"url": recv.URL, "events": []string{}}, 400, "request.field_missing", "events"},
			{"unknown event", key, map[string]any{"url": recv.URL, "events": []string{"account.deleted"}}, 400, "request.field_enum", "events[0]"},
		} {
			p := h.do(request{method: "POST", path: "/api/v1/webhooks", bearer: c.apiKey, json: c.body}).wantStatus(t, c.status).problem(t)
			if p.Key != c.key || p.Field != c.field {
				t.Errorf("%s: %s field %q, want %s %q", c.name, p.Key, p.Field, c.key, c.field)
			}
		}

		r := h.do(request{method: "POST", path: "/api/v1/webhooks", bearer: key,
			json: map[string]any{"url": recv.URL + "/hooks/monban", "events": []string{"account.registered", "account.locked"}}})
		var sub struct {
			ID, URL, Secret string
			Events          []string
		}
		decode(t, r.wantStatus(t, http.StatusCreated).body, &sub)
		if !strings.HasPrefix(sub.Secret, webhooks.SecretPrefix) || sub.URL != recv.URL+"/hooks/monban" || len(sub.Events) != 2 {
			t.Fatalf("subscription %s", r.body)
		}
		rc.secret = []byte(sub.Secret)

		// A sign-up reaches the receiver, signed, with the account's id.
		taro := registerTaro(h)
		deliver(1)
		evs, _ := rc.got()
		if len(evs) != 1 || evs[0].Type != "account.registered" || evs[0].AccountID != taro.ID || !evs[0].CreatedAt.Equal(t0) {
			t.Fatalf("received %+v", evs)
		}
		if strings.Contains(string(mustJSON(t, evs[0])), "taro@") {
			t.Errorf("the event carries contact data: %+v", evs[0])
		}
		deliver(0)

		// Lists are the key's own; secrets are never shown again.
		r = h.do(request{method: "GET", path: "/api/v1/webhooks", bearer: key}).wantStatus(t, http.StatusOK)
		if m := r.object(t); len(m["webhooks"].([]any)) != 1 || strings.Contains(string(r.body), sub.Secret) {
			t.Errorf("list %s", r.body)
		}
		if m := h.do(request{method: "GET", path: "/api/v1/webhooks", bearer: other}).wantStatus(t, http.StatusOK).object(t); len(m["webhooks"].([]any)) != 0 {
			t.Errorf("other key sees %v", m)
		}

		// The receiver is down: retries back off, run out, and the delivery
		// is listed as failed.
		rc.set(true)
		hanako := h.register(map[string]any{"username": "hanako", "password": goodPassword})
		for range 10 {
			deliver(1)
			h.clock.Advance(2 * time.Hour)
		}
		deliver(0)
		r = h.do(request{method: "GET", path: "/api/v1/webhooks/deliveries?status=failed", bearer: key}).wantStatus(t, http.StatusOK)
		var failed struct {
			Deliveries []struct {
				ID        string `json:"id"`
				EventID   string `json:"event_id"`
				EventType string `json:"event_type"`
				WebhookID string `json:"webhook_id"`
				Status    string `json:"status"`
				LastError string `json:"last_error"`
				Attempts  int    `json:"attempts"`
			}
		}
		decode(t, r.body, &failed)
		if len(failed.Deliveries) != 1 {
			t.Fatalf("failed deliveries %s", r.body)
		}
		d := failed.Deliveries[0]
		if d.Status != "failed" || d.Attempts != 10 || d.LastError != "HTTP 503" || d.WebhookID != sub.ID || d.EventType != "account.registered" {
			t.Errorf("failed delivery %s", r.body)
		}
		if m := h.do(request{method: "GET", path: "/api/v1/webhooks/deliveries?status=failed", bearer: other}).wantStatus(t, http.StatusOK).object(t); len(m["deliveries"].([]any)) != 0 {
			t.Errorf("other key sees deliveries %v", m)
		}
		if p := h.do(request{method: "GET", path: "/api/v1/webhooks/deliveries?status=lost", bearer: key}).wantStatus(t, 400).problem(t); p.Key != "webhook.status" {
			t.Errorf("bad status: %s", p.Key)
		}
		h.do(request{method: "POST", path: "/api/v1/webhooks/deliveries/" + d.ID + "/redeliver", bearer: other}).wantStatus(t, http.StatusNotFound)

		// Back up: the redelivered event arrives once, with its first id.
		rc.set(false)
		h.do(request{method: "POST", path: "/api/v1/webhooks/deliveries/" + d.ID + "/redeliver", bearer: key}).wantStatus(t, http.StatusAccepted)
		h.do(request{method: "POST", path: "/api/v1/webhooks/deliveries/" + d.ID + "/redeliver", bearer: key}).wantStatus(t, http.StatusNotFound)
		deliver(1)
		evs, posts := rc.got()
		if len(evs) != 2 || evs[1].ID != d.EventID || evs[1].AccountID != hanako.ID || posts != 12 {
			t.Fatalf("after redelivery: %+v, %d posts", evs, posts)
		}
		if m := h.do(request{method: "GET", path: "/api/v1/webhooks/deliveries?status=failed", bearer: key}).wantStatus(t, http.StatusOK).object(t); len(m["deliveries"].([]any)) != 0 {
			t.Errorf("still failed: %v", m)
		}

		// Removing the subscription: only by its key; then nothing more is sent.
		h.do(request{method: "DELETE", path: "/api/v1/webhooks/" + sub.ID, bearer: other}).wantStatus(t, http.StatusNotFound)
		h.do(request{method: "DELETE", path: "/api/v1/webhooks/" + sub.ID, bearer: key}).wantStatus(t, http.StatusNoContent)
		h.do(request{method: "DELETE", path: "/api/v1/webhooks/" + sub.ID, bearer: key}).wantStatus(t, http.StatusNotFound)
		h.register(map[string]any{"username": "jiro", "password": goodPassword})
		deliver(0)
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
