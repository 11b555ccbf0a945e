package webhooks

import (
	"context"
	"crypto/rand"
	"net/url"
	"slices"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/seal"
)

// SubscriptionStore stores subscriptions and events.
type SubscriptionStore interface {
	CreateWebhookSubscription(ctx context.Context, s *monban.WebhookSubscription) error
	EmitWebhookEvent(ctx context.Context, ev *monban.WebhookEvent) error
}

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
// returns it with its secret in clear: shown once, stored sealed.
func (s *Service) Subscribe(ctx context.Context, apiKeyID, rawURL string, types []string) (*monban.WebhookSubscription, []byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, nil, monban.Errorf(monban.EInvalid, "webhook.url").WithField("url")
	}
	if len(types) == 0 {
		return nil, nil, monban.Errorf(monban.EInvalid, "webhook.types").WithField("types")
	}
	for _, t := range types {
		if !slices.Contains(monban.EventTypes, t) {
			return nil, nil, monban.Errorf(monban.EInvalid, "webhook.types").WithField("types")
		}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, nil, monban.Internalf("webhook secret: %w", err)
	}
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
