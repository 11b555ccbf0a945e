package monban

import "time"

// Purpose binds a one-time code (and its flow) to one use. A code made for
// one purpose is refused for every other.
type Purpose string

// Code purposes.
const (
	PurposeVerifyEmail   Purpose = "verify_email"
	PurposeVerifyPhone   Purpose = "verify_phone"
	PurposeSignIn        Purpose = "sign_in"
	PurposeNewDevice     Purpose = "new_device"
	PurposeAddPhone      Purpose = "add_phone"
	PurposeRecovery      Purpose = "recovery"
	PurposeTransfer      Purpose = "transfer"
	PurposeUnlock        Purpose = "unlock"
	PurposeContactChange Purpose = "contact_change"
)

// Purposes lists every purpose, for validation and configuration.
var Purposes = []Purpose{PurposeVerifyEmail, PurposeVerifyPhone, PurposeSignIn, PurposeNewDevice,
	PurposeAddPhone, PurposeRecovery, PurposeTransfer, PurposeUnlock, PurposeContactChange}

// Channel is how a message travels.
type Channel string

// Channels.
const (
	ChannelEmail Channel = "email"
	ChannelSMS   Channel = "sms"
	ChannelVoice Channel = "voice"
)

// Flow is one attempt to prove control of a destination for a purpose: e.g.
// "verify this phone number for this account", started once and answered by
// one of the codes sent within it. Resends stay in the flow, so failures are
// counted across them (NIST SP 800-63B-4 §3.1.3.2).
type Flow struct {
	ID          string
	AccountID   string // "" before an account exists (never for now)
	Purpose     Purpose
	Channel     Channel
	Destination string // E.164 phone or normalised email
	Sends       int    // codes sent in this flow
	Failures    int    // wrong codes entered in this flow
	NextSendAt  time.Time
	CreatedAt   time.Time
	ExpiresAt   time.Time
	CompletedAt time.Time
}

// Code is one one-time code of a flow. Only a keyed hash is stored.
type Code struct {
	ID        string
	FlowID    string
	Hash      []byte // HMAC-SHA256(server key, flow id | code)
	Checks    int    // wrong guesses against this code
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
	MessageID string // the outbox message that carries it
}

// MessageStatus is where a message is on its way.
type MessageStatus string

// Message states. "sent" means a provider accepted it; only a delivery
// receipt makes it "delivered".
const (
	MessageQueued    MessageStatus = "queued"
	MessageSending   MessageStatus = "sending"
	MessageSent      MessageStatus = "sent"
	MessageDelivered MessageStatus = "delivered"
	MessageFailed    MessageStatus = "failed"
	MessageExpired   MessageStatus = "expired"
	MessageAbandoned MessageStatus = "abandoned" // retries exhausted
)

// MessageStatuses lists every message state.
var MessageStatuses = []MessageStatus{MessageQueued, MessageSending, MessageSent, MessageDelivered, MessageFailed,
	MessageExpired, MessageAbandoned}

// Channels lists every channel.
var Channels = []Channel{ChannelEmail, ChannelSMS, ChannelVoice}

// Final reports whether no further change is expected.
func (s MessageStatus) Final() bool {
	return s == MessageDelivered || s == MessageFailed || s == MessageExpired || s == MessageAbandoned
}

// Message is one outbox entry: a code or a notice on its way to a person.
// Payload holds the template parameters (a code among them) sealed with the
// server key; it is erased once the message reaches a final state.
type Message struct {
	ID            string
	AccountID     string
	FlowID        string
	Channel       Channel
	Destination   string
	Template      string // e.g. "code.verify_phone"
	Lang          string
	Payload       []byte // sealed JSON of template parameters
	Status        MessageStatus
	Attempts      int
	NextAttemptAt time.Time
	LeaseUntil    time.Time
	Provider      string
	ProviderID    string
	Reason        string // provider's failure reason, for people and agents
	CreatedAt     time.Time
	SentAt        time.Time
	DeliveredAt   time.Time
	FailedAt      time.Time
	ExpiresAt     time.Time // undelivered after this: expired (codes)
	UpdatedAt     time.Time
}
