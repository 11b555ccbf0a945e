package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"slices"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/seal"
)

// SubscriptionStore stores subscriptions and events. An apiKeyID of ""
// means every key's (the operator's view).
type SubscriptionStore interface {
	CreateWebhookSubscription(ctx context.Context, s *monban.WebhookSubscription) error
	EmitWebhookEvent(ctx context.Context, ev *monban.WebhookEvent) error
	WebhookSubscriptions(ctx context.Context, apiKeyID string) ([]monban.WebhookSubscription, error)
	DisableWebhookSubscription(ctx context.Context, apiKeyID, id string, at time.Time) error
	WebhookDeliveries(ctx context.Context, apiKeyID, status string, limit int) ([]monban.WebhookDelivery, error)
	RedeliverWebhook(ctx context.Context, apiKeyID, id string, now time.Time) error
}

// SecretPrefix starts every signing secret. The HMAC key is the whole
// secret string, prefix included, as the host app stores it.
const SecretPrefix = "whsec_"

// Service manages subscriptions and emits events outside other
// transactions (store methods emit inside theirs with insertWebhookEvent).
type Service struct {
	store SubscriptionStore
	box   *seal.Box
	clock monban.Clock
}

// New returns a Service.
func New(store SubscriptionStore, box *seal.Box, clock monban.Clock) *Service {
	return &Service{store: store, box: box, clock: clock}
}

// Subscribe creates a subscription of apiKeyID to types at rawURL and
// returns it with its secret in clear ("whsec_…", the HMAC key as is):
// shown once, stored sealed.
func (s *Service) Subscribe(ctx context.Context, apiKeyID, rawURL string, types []string) (*monban.WebhookSubscription, []byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(rawURL) > 2000 {
		return nil, nil, monban.Errorf(monban.EInvalid, "webhook.url").WithField("url")
	}
	if len(types) == 0 {
		return nil, nil, monban.Errorf(monban.EInvalid, "webhook.types").WithField("events")
	}
	for _, t := range types {
		if !slices.Contains(monban.EventTypes, t) {
			return nil, nil, monban.Errorf(monban.EInvalid, "webhook.types").WithField("events")
		}
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, nil, monban.Internalf("webhook secret: %w", err)
	}
	secret := []byte(SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]))
	sub := &monban.WebhookSubscription{ID: monban.NewID("whs"), APIKeyID: apiKeyID, URL: u.String(),
		Secret: s.box.Seal(secret), Types: slices.Compact(slices.Sorted(slices.Values(types))), CreatedAt: s.clock.Now()}
	if err := s.store.CreateWebhookSubscription(ctx, sub); err != nil {
		return nil, nil, err
	}
	return sub, secret, nil
}

// Emit records an event whose cause is already stored.
func (s *Service) Emit(ctx context.Context, typ, accountID string, data map[string]string) (*monban.WebhookEvent, error) {
	ev := &monban.WebhookEvent{ID: monban.NewID("evt"), Type: typ, AccountID: accountID, Data: data, CreatedAt: s.clock.Now()}
	return ev, s.store.EmitWebhookEvent(ctx, ev)
}

// Subscriptions lists the key's subscriptions, disabled ones included,
// oldest first, without their secrets.
func (s *Service) Subscriptions(ctx context.Context, apiKeyID string) ([]monban.WebhookSubscription, error) {
	subs, err := s.store.WebhookSubscriptions(ctx, apiKeyID)
	for i := range subs {
		subs[i].Secret = nil
	}
	return subs, err
}

// Unsubscribe stops new deliveries to the key's subscription id; queued
// ones are still attempted. Another key's or an unknown id is ENotFound.
func (s *Service) Unsubscribe(ctx context.Context, apiKeyID, id string) error {
	return s.store.DisableWebhookSubscription(ctx, apiKeyID, id, s.clock.Now())
}

// Deliveries lists the key's deliveries in status (every status when ""),
// newest first, at most limit (1–500).
func (s *Service) Deliveries(ctx context.Context, apiKeyID, status string, limit int) ([]monban.WebhookDelivery, error) {
	switch status {
	case "", monban.DeliveryQueued, monban.DeliverySending, monban.DeliveryDelivered, monban.DeliveryFailed:
	default:
		return nil, monban.Errorf(monban.EInvalid, "webhook.status").WithField("status")
	}
	return s.store.WebhookDeliveries(ctx, apiKeyID, status, min(max(limit, 1), 500))
}

// Redeliver queues a failed delivery of the key's again, with the same
// event id; anything else is ENotFound.
func (s *Service) Redeliver(ctx context.Context, apiKeyID, id string) error {
	return s.store.RedeliverWebhook(ctx, apiKeyID, id, s.clock.Now())
}
