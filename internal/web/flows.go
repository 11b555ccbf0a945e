package web

import (
	"context"
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/identifier"
)

// CodeService is what the pages and the API need of the code engine.
type CodeService interface {
	Start(ctx context.Context, in codes.StartInput) (*monban.Flow, error)
	Resend(ctx context.Context, flowID, accountID, ip string) (*monban.Flow, error)
	Verify(ctx context.Context, flowID, accountID, code string) (*monban.Flow, error)
	Status(ctx context.Context, flowID, accountID string) (*codes.Status, error)
	Config() codes.Config
}

// notDeliveredAfter is how long an SMS may stay merely "sent" before the
// page offers the other ways in first.
const notDeliveredAfter = 2 * time.Minute

// flowView is what the code pages and the API show of a flow.
type flowView struct {
	FlowID        string
	Purpose       monban.Purpose
	Channel       monban.Channel
	Masked        string
	Digits        int
	Minutes       int
	Last          *monban.Message
	Messages      []monban.Message
	Completed     bool
	NextSendAt    time.Time
	NextSendLocal string
	CanResend     bool
	OfferOthers   bool
	Alternatives  []alternative
}

// alternative is another way to finish what the flow was for.
type alternative struct {
	Channel  string
	Masked   string
	LabelKey string
	HintKey  string
	Action   string
	Fields   map[string]string
	// Confirm: Action is the confirm page (GET), which shows the other
	// destination back — and a carrier address its receive-settings advice —
	// before anything is sent to it.
	Confirm bool
}

// undelivered reports whether a message is known not to have arrived, or
// has been "sent" without a delivery report for too long.
func undelivered(m *monban.Message, now time.Time) bool {
	switch m.Status {
	case monban.MessageFailed, monban.MessageAbandoned, monban.MessageExpired:
		return true
	case monban.MessageSent:
		return m.Channel != monban.ChannelEmail && !m.SentAt.IsZero() && now.Sub(m.SentAt) >= notDeliveredAfter
	}
	return false
}

func (s *Server) flowView(ctx context.Context, st *codes.Status, cur *account.Current, lang string) (*flowView, error) {
	now := s.clock.Now()
	cfg := s.codes.Config()
	f := st.Flow
	v := &flowView{FlowID: f.ID, Purpose: f.Purpose, Channel: f.Channel, Masked: st.Masked,
		Digits: cfg.DigitsFor(f.Purpose), Minutes: int(cfg.LifetimeFor(f.Purpose) / time.Minute), Messages: st.Messages,
		Completed: !f.CompletedAt.IsZero(), NextSendAt: st.NextSendAt,
		CanResend: !st.NextSendAt.IsZero() && !now.Before(st.NextSendAt)}
	v.NextSendLocal = nextTry(lang, st.NextSendAt, now) // rounded up; to the second under a minute
	if len(st.Messages) > 0 {
		v.Last = &st.Messages[0]
		v.OfferOthers = undelivered(v.Last, now)
	}
	alts, err := s.alternatives(ctx, f, cur)
	if err != nil {
		return nil, err
	}
	v.Alternatives = alts
	return v, nil
}

// localClock shows a time of day in Japan time, as people read it on the page.
func localClock(lang string, t time.Time) string {
	return nextTry(lang, t, time.Time{})
}

// alternatives lists the other channels bound to the account that can do
// what the flow was for: a voice call instead of SMS for the same number,
// the email address, or SMS when the flow used email.
func (s *Server) alternatives(ctx context.Context, f *monban.Flow, cur *account.Current) ([]alternative, error) {
	ov, err := s.accounts.Overview(ctx, cur)
	if err != nil {
		return nil, err
	}
	var out []alternative
	if f.Channel == monban.ChannelSMS {
		out = append(out, alternative{Channel: "voice", Masked: identifier.MaskPhone(f.Destination), LabelKey: "alt.voice",
			HintKey: "alt.voice_hint", Action: "/verify/start", Fields: map[string]string{"kind": "phone", "channel": "voice"}})
	}
	if f.Channel == monban.ChannelVoice {
		out = append(out, alternative{Channel: "sms", Masked: identifier.MaskPhone(f.Destination), LabelKey: "alt.sms",
			HintKey: "alt.sms_hint", Action: "/verify/start", Fields: map[string]string{"kind": "phone", "channel": "sms"}})
	}
	for _, id := range ov.Identifiers {
		switch {
		case id.Kind == monban.KindEmail && f.Channel != monban.ChannelEmail && !id.Verified:
			out = append(out, alternative{Channel: "email", Masked: identifier.MaskEmail(id.Value), LabelKey: "alt.email",
				HintKey: "alt.email_hint", Action: "/verify/confirm", Fields: map[string]string{"kind": "email"}, Confirm: true})
		case id.Kind == monban.KindPhone && f.Channel == monban.ChannelEmail && !id.Verified:
			out = append(out, alternative{Channel: "sms", Masked: identifier.MaskPhone(id.Value), LabelKey: "alt.sms",
				HintKey: "alt.sms_hint", Action: "/verify/confirm", Fields: map[string]string{"kind": "phone"}, Confirm: true})
		}
	}
	return out, nil
}

// verifyTarget finds the unverified identifier of kind, for a verify flow.
func (s *Server) verifyTarget(ctx context.Context, cur *account.Current, kind monban.IdentifierKind) (*monban.Identifier, error) {
	ov, err := s.accounts.Overview(ctx, cur)
	if err != nil {
		return nil, err
	}
	var found *monban.Identifier
	for i := range ov.Identifiers {
		if ov.Identifiers[i].Kind == kind {
			found = &ov.Identifiers[i]
		}
	}
	if found == nil || (kind != monban.KindPhone && kind != monban.KindEmail) {
		return nil, monban.Errorf(monban.EInvalid, "flow.missing").WithField("kind")
	}
	if found.Verified {
		return nil, monban.Errorf(monban.EConflict, "flow.already_verified").WithField("kind")
	}
	return found, nil
}

// startVerify starts the flow that verifies the account's phone or email.
func (s *Server) startVerify(r *http.Request, cur *account.Current, kind, channel, lang string) (*monban.Flow, error) {
	id, err := s.verifyTarget(r.Context(), cur, monban.IdentifierKind(kind))
	if err != nil {
		return nil, err
	}
	in := codes.StartInput{AccountID: cur.Account.ID, Destination: id.Value, Lang: lang, IP: clientIP(r)}
	switch {
	case id.Kind == monban.KindEmail:
		in.Purpose, in.Channel = monban.PurposeVerifyEmail, monban.ChannelEmail
	case channel == "voice":
		in.Purpose, in.Channel = monban.PurposeVerifyPhone, monban.ChannelVoice
	case channel == "" || channel == "sms":
		in.Purpose, in.Channel = monban.PurposeVerifyPhone, monban.ChannelSMS
	default:
		return nil, monban.Errorf(monban.EInvalid, "flow.channel").WithField("channel")
	}
	f, err := s.codes.Start(r.Context(), in)
	if err != nil {
		return nil, err
	}
	s.notifyOutbox()
	return f, nil
}

func (s *Server) notifyOutbox() {
	if s.outbox != nil {
		s.outbox.Notify()
	}
}
