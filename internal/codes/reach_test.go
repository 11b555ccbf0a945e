package codes

import (
	"slices"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

func TestWays(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	phone := Contact{Kind: monban.KindPhone, Value: "+819012345678", Verified: true}
	email := Contact{Kind: monban.KindEmail, Value: "taro@example.jp", Verified: true}
	smsFlow := func(p monban.Purpose) *monban.Flow {
		return &monban.Flow{ID: "flw_1", Purpose: p, Channel: monban.ChannelSMS, Destination: phone.Value,
			NextSendAt: t0.Add(30 * time.Second), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	}
	msg := func(st monban.MessageStatus, reason string) *monban.Message {
		return &monban.Message{Channel: monban.ChannelSMS, Status: st, Reason: reason, CreatedAt: t0, SentAt: t0}
	}
	kinds := func(r Reach) []string {
		var out []string
		for _, w := range r.Ways {
			out = append(out, w.Kind)
		}
		return out
	}
	tests := []struct {
		name       string
		facts      Facts
		at         time.Duration
		status     Delivery
		reason     string
		ways       []string
		smsNext    time.Duration // the flow's own channel may send again after this
		approvalBy []string
	}{
		{name: "sent a moment ago: waiting, the resend at its cooldown",
			facts: Facts{Flow: smsFlow(monban.PurposeSignIn), Last: msg(monban.MessageSent, ""), Contacts: []Contact{phone, email}},
			at:    10 * time.Second, status: DeliverySent, ways: []string{"voice", "email", "support"}, smsNext: 30 * time.Second,
			approvalBy: []string{phone.Value, email.Value}},
		{name: "the carrier reported failed: the SMS channel is free at once, the link never goes to that phone",
			facts: Facts{Flow: smsFlow(monban.PurposeSignIn), Last: msg(monban.MessageFailed, "absent subscriber"), Contacts: []Contact{phone, email},
				Approval: true, OtherSessions: 1},
			at: 10 * time.Second, status: DeliveryFailed, reason: ReasonUnreachable,
			ways: []string{"voice", "email", "approval", "support"}, smsNext: 10 * time.Second, approvalBy: []string{email.Value}},
		{name: "refused by the SMSC is a rejected number",
			facts: Facts{Flow: smsFlow(monban.PurposeSignIn), Last: msg(monban.MessageFailed, "rejected by the SMSC"), Contacts: []Contact{phone}},
			at:    time.Second, status: DeliveryFailed, reason: ReasonRejected, ways: []string{"voice", "support"}, smsNext: time.Second},
		{name: "no report after two minutes: not delivered, the other ways first, the resend keeps its cooldown",
			facts: Facts{Flow: smsFlow(monban.PurposeNewDevice), Last: msg(monban.MessageSent, ""), Contacts: []Contact{phone}},
			at:    NotDeliveredAfter, status: DeliveryNotDelivered, ways: []string{"voice", "support"}, smsNext: NotDeliveredAfter,
			approvalBy: nil},
		{name: "approval is no way without another signed-in session",
			facts: Facts{Flow: smsFlow(monban.PurposeSignIn), Last: msg(monban.MessageFailed, "x"), Contacts: []Contact{phone},
				Approval: true, OtherSessions: 0, TOTP: true, Passkey: true, Recovery: true},
			at: time.Second, status: DeliveryFailed, reason: ReasonUnreachable,
			ways: []string{"voice", "passkey", "totp", "recovery_code", "support"}, smsNext: time.Second},
		{name: "sign-up verification offers the contacts still to verify, not the verified ones",
			facts: Facts{Flow: smsFlow(monban.PurposeVerifyPhone), Last: msg(monban.MessageFailed, "x"),
				Contacts: []Contact{{Kind: monban.KindPhone, Value: phone.Value}, email}},
			at: time.Second, status: DeliveryFailed, reason: ReasonUnreachable, ways: []string{"voice", "support"}, smsNext: time.Second},
		{name: "the send limits hold every channel",
			facts: Facts{Flow: smsFlow(monban.PurposeSignIn), Last: msg(monban.MessageFailed, "x"), Contacts: []Contact{phone},
				NextByLimit: map[string]time.Time{"sms:" + phone.Value: t0.Add(20 * time.Minute)}},
			at: time.Second, status: DeliveryFailed, reason: ReasonUnreachable, ways: []string{"voice", "support"}, smsNext: 20 * time.Minute},
		{name: "nothing sent yet: queued",
			facts: Facts{Flow: smsFlow(monban.PurposeSignIn)},
			at:    time.Second, status: DeliveryQueued, ways: []string{"support"}, smsNext: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0.Add(tt.at)
			r := Ways(tt.facts, now)
			if r.Status != tt.status || r.Reason != tt.reason {
				t.Errorf("status %q %q, want %q %q", r.Status, r.Reason, tt.status, tt.reason)
			}
			if want := tt.status == DeliveryFailed || tt.status == DeliveryNotDelivered; r.Undelivered != want {
				t.Errorf("undelivered %v, want %v", r.Undelivered, want)
			}
			if got := kinds(r); !slices.Equal(got, tt.ways) {
				t.Errorf("ways %v, want %v", got, tt.ways)
			}
			if got := r.NextAt(monban.ChannelSMS); !got.Equal(t0.Add(tt.smsNext)) {
				t.Errorf("next SMS at %v, want %v", got, t0.Add(tt.smsNext))
			}
			var by []string
			for _, c := range r.ApprovalBy {
				by = append(by, c.Value)
			}
			if !slices.Equal(by, tt.approvalBy) {
				t.Errorf("approval link by %v, want %v", by, tt.approvalBy)
			}
		})
	}
}

// A voice call after a failed SMS is its own channel: free now even while
// the SMS cooldown runs.
func TestWaysVoiceFreeAfterFailedSMS(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	f := Facts{Flow: &monban.Flow{ID: "flw_1", Purpose: monban.PurposeSignIn, Channel: monban.ChannelSMS, Destination: "+819012345678",
		NextSendAt: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour)},
		Last:     &monban.Message{Channel: monban.ChannelSMS, Status: monban.MessageFailed, CreatedAt: t0},
		Contacts: []Contact{{Kind: monban.KindPhone, Value: "+819012345678", Verified: true}}}
	r := Ways(f, t0.Add(time.Second))
	if got := r.NextAt(monban.ChannelVoice); !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("voice next at %v, want now", got)
	}
}
