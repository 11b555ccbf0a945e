package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/monban-dev/monban"
)

// Host apps manage their own webhooks with their API key: each key sees
// and changes only its subscriptions and their deliveries.

type webhookJSON struct {
	ID         string     `json:"id"`
	URL        string     `json:"url"`
	Events     []string   `json:"events"`
	Secret     string     `json:"secret,omitempty"` // only when created
	CreatedAt  time.Time  `json:"created_at"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

func webhookView(s monban.WebhookSubscription) webhookJSON {
	return webhookJSON{ID: s.ID, URL: s.URL, Events: s.Types, CreatedAt: s.CreatedAt.UTC(), DisabledAt: optTime(s.DisabledAt)}
}

// apiWebhookSubscribe subscribes the key's host app to events at a URL and
// shows the signing secret, once.
func (s *Server) apiWebhookSubscribe(w http.ResponseWriter, r *http.Request) error {
	k, err := s.hostKey(r)
	if err != nil {
		return err
	}
	var req struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Events) > len(monban.EventTypes) {
		return monban.Errorf(monban.EInvalid, "webhook.types").WithField("events")
	}
	sub, secret, err := s.webhooks.Subscribe(r.Context(), k.ID, req.URL, req.Events)
	if err != nil {
		return err
	}
	out := webhookView(*sub)
	out.Secret = string(secret)
	return writeJSON(w, http.StatusCreated, out)
}

// apiWebhooks lists the key's subscriptions, without secrets.
func (s *Server) apiWebhooks(w http.ResponseWriter, r *http.Request) error {
	k, err := s.hostKey(r)
	if err != nil {
		return err
	}
	subs, err := s.webhooks.Subscriptions(r.Context(), k.ID)
	if err != nil {
		return err
	}
	out := make([]webhookJSON, 0, len(subs))
	for _, sub := range subs {
		out = append(out, webhookView(sub))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
}

// apiWebhookDelete stops deliveries to one of the key's subscriptions.
func (s *Server) apiWebhookDelete(w http.ResponseWriter, r *http.Request) error {
	k, err := s.hostKey(r)
	if err != nil {
		return err
	}
	if err := s.webhooks.Unsubscribe(r.Context(), k.ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type deliveryJSON struct {
	ID            string     `json:"id"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	WebhookID     string     `json:"webhook_id"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
	FailedAt      *time.Time `json:"failed_at,omitempty"`
}

// apiWebhookDeliveries lists the key's deliveries, newest first,
// optionally of one status (?status=failed) and at most ?limit (100).
func (s *Server) apiWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	k, err := s.hostKey(r)
	if err != nil {
		return err
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return monban.Errorf(monban.EInvalid, "webhook.limit").WithField("limit")
		}
		limit = n
	}
	ds, err := s.webhooks.Deliveries(r.Context(), k.ID, r.URL.Query().Get("status"), limit)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, 0, len(ds))
	for _, d := range ds {
		j := deliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, WebhookID: d.SubscriptionID,
			Status: d.Status, Attempts: d.Attempts, LastError: d.LastError, CreatedAt: d.CreatedAt.UTC(),
			DeliveredAt: optTime(d.DeliveredAt), FailedAt: optTime(d.FailedAt)}
		if d.Status == monban.DeliveryQueued {
			j.NextAttemptAt = optTime(d.NextAttemptAt)
		}
		out = append(out, j)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
}

// apiWebhookRedeliver queues one of the key's failed deliveries again; the
// event keeps its id, so a receiver that got it after all drops it.
func (s *Server) apiWebhookRedeliver(w http.ResponseWriter, r *http.Request) error {
	k, err := s.hostKey(r)
	if err != nil {
		return err
	}
	if err := s.webhooks.Redeliver(r.Context(), k.ID, r.PathValue("id")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"id": r.PathValue("id"), "status": monban.DeliveryQueued})
}
