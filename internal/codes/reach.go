package codes

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/identifier"
)

// "Where is my code and what else can I do": one answer for every page and
// API response that shows a code (issue #16). Ways is the pure decision
// over recorded facts and the clock; Service.Facts reads the facts.

// Delivery is where the last message is, as a person reads it.
type Delivery string

// Deliveries. NotDelivered is a message still merely "sent" (SMS or voice)
// with no delivery report after NotDeliveredAfter: it probably will not
// arrive, so the other ways are offered first.
const (
	DeliveryQueued       Delivery = "queued"
	DeliverySent         Delivery = "sent"
	DeliveryDelivered    Delivery = "delivered"
	DeliveryFailed       Delivery = "failed"
	DeliveryNotDelivered Delivery = "not_delivered"
)

// NotDeliveredAfter is how long an SMS or voice message may stay merely
// "sent" before it counts as not delivered.
const NotDeliveredAfter = 2 * time.Minute

// Failure reasons, by category (the provider's words are for agents).
const (
	ReasonRejected    = "rejected"    // the carrier or mail server refused the destination
	ReasonUnreachable = "unreachable" // the phone is off, out of range or the mailbox full
	ReasonExpired     = "expired"     // not delivered before the code expired
	ReasonRetries     = "retries"     // monban's retries ran out
)

// Ways out of a code page, besides entering the code.
const (
	WayEmail    = "email"
	WaySMS      = "sms"
	WayVoice    = "voice"
	WayTOTP     = "totp"
	WayPasskey  = "passkey"
	WayApproval = "approval"
	WayRecovery = "recovery_code"
	WaySupport  = "support"
)

// Contact is one of the account's addresses or numbers.
type Contact struct {
	Kind     monban.IdentifierKind
	Value    string
	Verified bool
}

// Facts are what Ways decides on.
type Facts struct {
	Flow     *monban.Flow
	Last     *monban.Message // newest message of the flow, nil before one
	Contacts []Contact
	// NextByLimit is when the send limits next allow a code to each
	// destination+channel ("sms:+8190…"); missing means now.
	NextByLimit map[string]time.Time
	TOTP        bool
	Passkey     bool
	Recovery    bool // recovery codes left
	// Approval: the flow is a held sign-in, which a signed-in device may
	// approve; OtherSessions is how many active sessions of the account
	// other than the asking one there are now.
	Approval      bool
	OtherSessions int
}

// Way is one way out.
type Way struct {
	Kind   string    `json:"kind"`
	Masked string    `json:"destination,omitempty"` // for email, sms, voice
	NextAt time.Time `json:"next_at,omitzero"`      // when a code can be sent that way, if not now
	// Target is the contact's kind ("email", "phone") for a channel way.
	Target monban.IdentifierKind `json:"-"`
	Value  string                `json:"-"`
}

// ChannelNext is the next allowed send over one channel.
type ChannelNext struct {
	Channel monban.Channel `json:"channel"`
	At      time.Time      `json:"at"`
}

// Reach is the answer.
type Reach struct {
	FlowID   string         `json:"flow_id"`
	Channel  monban.Channel `json:"channel"`
	Masked   string         `json:"destination"`
	SentAt   time.Time      `json:"sent_at,omitzero"`
	Status   Delivery       `json:"status"`
	Reason   string         `json:"reason,omitempty"`
	Complete bool           `json:"completed"`
	// Undelivered: failed or not delivered in time. The page says so and
	// offers Ways first.
	Undelivered bool          `json:"undelivered"`
	Next        []ChannelNext `json:"next_send"`
	Ways        []Way         `json:"ways"`
	// ApprovalBy are the contacts that may carry an approval link: never
	// the one whose message just failed.
	ApprovalBy []Contact `json:"-"`
}

// NextAt returns the next allowed send over ch, zero if ch is not offered.
func (r *Reach) NextAt(ch monban.Channel) time.Time {
	for _, n := range r.Next {
		if n.Channel == ch {
			return n.At
		}
	}
	return time.Time{}
}

// Has reports whether kind is among the ways out.
func (r *Reach) Has(kind string) bool {
	for _, w := range r.Ways {
		if w.Kind == kind {
			return true
		}
	}
	return false
}

// DeliveryOf reads a message's status at now.
func DeliveryOf(m *monban.Message, now time.Time) (Delivery, string) {
	if m == nil {
		return DeliveryQueued, ""
	}
	switch m.Status {
	case monban.MessageDelivered:
		return DeliveryDelivered, ""
	case monban.MessageFailed:
		return DeliveryFailed, reasonOf(m.Reason)
	case monban.MessageAbandoned:
		return DeliveryFailed, ReasonRetries
	case monban.MessageExpired:
		return DeliveryNotDelivered, ReasonExpired
	case monban.MessageSent:
		if m.Channel != monban.ChannelEmail && !m.SentAt.IsZero() && now.Sub(m.SentAt) >= NotDeliveredAfter {
			return DeliveryNotDelivered, ""
		}
		return DeliverySent, ""
	}
	return DeliveryQueued, ""
}

// Freed reports whether m is known not to have arrived (failed, retries
// run out, expired): its channel may send again at once. A message merely
// "sent" for long is not: it may still arrive, and the other channels are
// free anyway, the cooldown being per channel.
func Freed(m *monban.Message) bool {
	return m != nil && (m.Status == monban.MessageFailed || m.Status == monban.MessageAbandoned || m.Status == monban.MessageExpired)
}

func reasonOf(provider string) string {
	p := strings.ToLower(provider)
	for _, w := range []string{"reject", "550", "no such", "invalid", "unknown", "barred", "blocked"} {
		if strings.Contains(p, w) {
			return ReasonRejected
		}
	}
	return ReasonUnreachable
}

func channelsOf(k monban.IdentifierKind) []monban.Channel {
	switch k {
	case monban.KindEmail:
		return []monban.Channel{monban.ChannelEmail}
	case monban.KindPhone:
		return []monban.Channel{monban.ChannelSMS, monban.ChannelVoice}
	}
	return nil
}

func verifying(p monban.Purpose) bool {
	return p == monban.PurposeVerifyEmail || p == monban.PurposeVerifyPhone
}

// Ways decides what the page shows: the delivery of the last message, the
// next send per channel and the ways out that exist now.
//
//   - A channel way is offered for each contact the flow may use (for a
//     verification flow the contacts still to verify, otherwise the
//     verified ones), over each of its channels except the flow's own: that
//     one is the resend.
//   - The flow's own channel may send again at its cooldown, or at once
//     when its last message failed or was not delivered; never before the
//     send limits allow.
//   - Authenticator, passkey and recovery code when the account has them;
//     approval only for a held sign-in with another active session now.
//   - The approval link goes by every usable contact except the one whose
//     message did not arrive.
//   - Support always, last.
func Ways(f Facts, now time.Time) Reach {
	fl := f.Flow
	r := Reach{FlowID: fl.ID, Channel: fl.Channel, Masked: mask(fl.Channel, fl.Destination), Complete: !fl.CompletedAt.IsZero()}
	r.Status, r.Reason = DeliveryOf(f.Last, now)
	if f.Last != nil {
		r.SentAt = f.Last.CreatedAt
	}
	r.Undelivered = r.Status == DeliveryFailed || r.Status == DeliveryNotDelivered
	limit := func(ch monban.Channel, dest string) time.Time {
		at := f.NextByLimit[string(ch)+":"+dest]
		if at.Before(now) {
			return now
		}
		return at
	}
	own := fl.NextSendAt
	if Freed(f.Last) || own.Before(now) {
		own = now
	}
	own = later(own, limit(fl.Channel, fl.Destination))
	open := !r.Complete && now.Before(fl.ExpiresAt)
	if open {
		r.Next = append(r.Next, ChannelNext{Channel: fl.Channel, At: own})
	}
	seen := map[monban.Channel]bool{fl.Channel: true}
	verify := verifying(fl.Purpose)
	// The flow's own contact first: another channel to the same number is
	// the nearest way.
	contacts := slices.Clone(f.Contacts)
	slices.SortStableFunc(contacts, func(a, b Contact) int {
		return cmpBool(!sameContact(a, fl), !sameContact(b, fl))
	})
	for _, c := range contacts {
		if c.Verified == verify {
			continue
		}
		for _, ch := range channelsOf(c.Kind) {
			if ch == fl.Channel && sameContact(c, fl) {
				continue
			}
			// A verification flow verifies one contact: its phone may be
			// called instead, the other contact is verified separately.
			next := limit(ch, c.Value)
			w := Way{Kind: string(ch), Masked: mask(ch, c.Value), Target: c.Kind, Value: c.Value}
			if next.After(now) {
				w.NextAt = next
			}
			r.Ways = append(r.Ways, w)
			if open && !seen[ch] {
				seen[ch] = true
				r.Next = append(r.Next, ChannelNext{Channel: ch, At: next})
			}
		}
		if !verify && !(r.Undelivered && sameContact(c, fl)) {
			r.ApprovalBy = append(r.ApprovalBy, c)
		}
	}
	if f.Passkey {
		r.Ways = append(r.Ways, Way{Kind: WayPasskey})
	}
	if f.TOTP {
		r.Ways = append(r.Ways, Way{Kind: WayTOTP})
	}
	if f.Approval && f.OtherSessions > 0 {
		r.Ways = append(r.Ways, Way{Kind: WayApproval})
	}
	if f.Recovery {
		r.Ways = append(r.Ways, Way{Kind: WayRecovery})
	}
	r.Ways = append(r.Ways, Way{Kind: WaySupport})
	return r
}

func sameContact(c Contact, fl *monban.Flow) bool {
	return c.Value == fl.Destination
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Facts reads what Ways needs of a flow of accountID besides the account's
// factors and sessions, which the caller adds: the flow, its newest
// message, the account's contacts and the send limits per channel.
func (s *Service) Facts(ctx context.Context, flowID, accountID string, contacts []Contact) (Facts, error) {
	f, err := s.flow(ctx, flowID, accountID)
	if err != nil {
		return Facts{}, err
	}
	msgs, err := s.store.MessagesByFlow(ctx, f.ID)
	if err != nil {
		return Facts{}, err
	}
	fs := Facts{Flow: f, Contacts: contacts, NextByLimit: map[string]time.Time{}}
	if len(msgs) > 0 {
		m := msgs[0]
		m.Payload = nil
		fs.Last = &m
	}
	now := s.clock.Now()
	peek := func(ch monban.Channel, dest string) error {
		at, err := s.store.PeekLimits(ctx, now, s.sendLimits(accountID, ch, dest, ""))
		fs.NextByLimit[string(ch)+":"+dest] = at
		return err
	}
	if err := peek(f.Channel, f.Destination); err != nil {
		return Facts{}, err
	}
	for _, c := range contacts {
		for _, ch := range channelsOf(c.Kind) {
			dest := c.Value
			if c.Kind == monban.KindPhone {
				if p, err := identifier.NormalizePhone(c.Value, "JP"); err == nil {
					dest = p.E164
				}
			}
			if err := peek(ch, dest); err != nil {
				return Facts{}, err
			}
		}
	}
	return fs, nil
}

// Reach answers for accountID's flow with the account's contacts only
// (no factors, no sessions): the sign-up verification and contact change
// pages, where those are not ways to finish.
func (s *Service) Reach(ctx context.Context, flowID, accountID string, contacts []Contact) (*Reach, error) {
	fs, err := s.Facts(ctx, flowID, accountID, contacts)
	if err != nil {
		return nil, err
	}
	r := Ways(fs, s.clock.Now())
	return &r, nil
}

// Undelivered reports whether a message is known not to have reached the
// person at now: failed, or not delivered in time.
func Undelivered(m *monban.Message, now time.Time) bool {
	d, _ := DeliveryOf(m, now)
	return d == DeliveryFailed || d == DeliveryNotDelivered
}
