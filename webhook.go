package monban

import "time"

// Webhook event types a host app can subscribe to. Notice topics that
// concern the host app are events of the same name.
const (
	EventAccountRegistered  = "account.registered"
	EventAccountLocked      = TopicAccountLocked
	EventAccountUnlocked    = TopicAccountUnlocked
	EventAccountTransferred = TopicAccountTransferred
	EventContactChanged     = TopicContactChanged
	EventFactorChanged      = TopicFactorChanged
	EventCaseUpdated        = TopicCaseUpdated
)

// EventTypes lists every webhook event type.
var EventTypes = []string{EventAccountRegistered, EventAccountLocked, EventAccountUnlocked,
	EventAccountTransferred, EventContactChanged, EventFactorChanged, EventCaseUpdated}

// WebhookEvent is one thing that happened, to be told to every host app
// subscribed to its type. Its ID is what receivers deduplicate on: every
// delivery and redelivery of the event carries the same one.
type WebhookEvent struct {
	ID        string // "evt_…"
	Type      string // e.g. EventAccountLocked
	AccountID string
	Data      map[string]string
	CreatedAt time.Time
}

// WebhookSubscription sends the events of Types to URL for the host app of
// one API key, signed with Secret.
type WebhookSubscription struct {
	ID         string
	APIKeyID   string
	URL        string
	Secret     []byte // HMAC-SHA256 key; shown once when created
	Types      []string
	CreatedAt  time.Time
	DisabledAt time.Time
}

// Webhook delivery states.
const (
	DeliveryQueued    = "queued"
	DeliverySending   = "sending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed" // retries exhausted; a host app may redeliver
)

// WebhookDelivery is one event on its way to one subscription, with its
// retry state. Claimed deliveries carry what the sender needs: the body,
// the URL and the secret.
type WebhookDelivery struct {
	ID             string
	EventID        string
	SubscriptionID string
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	LeaseUntil     time.Time
	LastError      string
	CreatedAt      time.Time
	DeliveredAt    time.Time
	FailedAt       time.Time

	EventType string
	Body      []byte // the signed JSON body
	URL       string
	Secret    []byte
}
