package codes

import (
	"context"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/identifier"
)

// Status is what the code page shows of a flow.
type Status struct {
	Flow     *monban.Flow
	Messages []monban.Message // newest first, without their sealed payloads
	// NextSendAt is when a resend is allowed, by the cooldown and the send
	// limits; zero once the flow can no longer send.
	NextSendAt time.Time
	Masked     string // the destination as shown: "080-****-5678", "t***@example.com"
	Digits     int    // the code length
}

// Status returns accountID's flow with its messages and the next time a
// code can be resent. Another account's flow is "code.not_found".
func (s *Service) Status(ctx context.Context, flowID, accountID string) (*Status, error) {
	f, err := s.flow(ctx, flowID, accountID)
	if err != nil {
		return nil, err
	}
	msgs, err := s.store.MessagesByFlow(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	for i := range msgs {
		msgs[i].Payload = nil
	}
	st := &Status{Flow: f, Messages: msgs, Masked: mask(f.Channel, f.Destination), Digits: s.cfg.DigitsFor(f.Purpose)}
	now := s.clock.Now()
	if f.CompletedAt.IsZero() && now.Before(f.ExpiresAt) {
		next, err := s.store.PeekLimits(ctx, now, s.sendLimits(accountID, f.Channel, f.Destination, ""))
		if err != nil {
			return nil, err
		}
		st.NextSendAt = f.NextSendAt
		if Freed(firstOf(msgs)) {
			st.NextSendAt = now // a message that did not arrive frees its channel
		}
		if next.After(st.NextSendAt) {
			st.NextSendAt = next
		}
	}
	return st, nil
}

func mask(ch monban.Channel, dest string) string {
	if ch == monban.ChannelEmail {
		return identifier.MaskEmail(dest)
	}
	return identifier.MaskPhone(dest)
}

func firstOf(msgs []monban.Message) *monban.Message {
	if len(msgs) == 0 {
		return nil
	}
	return &msgs[0]
}
