package web

import (
	"context"
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
)

// CodeService is what the pages and the API need of the code engine.
type CodeService interface {
	Start(ctx context.Context, in codes.StartInput) (*monban.Flow, error)
	Resend(ctx context.Context, flowID, accountID, ip string) (*monban.Flow, error)
	Verify(ctx context.Context, flowID, accountID, code string) (*monban.Flow, error)
	Status(ctx context.Context, flowID, accountID string) (*codes.Status, error)
	Reach(ctx context.Context, flowID, accountID string, contacts []codes.Contact) (*codes.Reach, error)
	// Destination checks a destination as a send would, sending nothing.
	Destination(ch monban.Channel, raw string) (string, error)
	Config() codes.Config
}

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
	Reach         *codes.Reach
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
	}
	ov, err := s.accounts.Overview(ctx, cur)
	if err != nil {
		return nil, err
	}
	reach, err := s.codes.Reach(ctx, f.ID, cur.Account.ID, contactsOf(ov.Identifiers))
	if err != nil {
		return nil, err
	}
	v.Reach, v.OfferOthers = reach, reach.Undelivered
	v.Alternatives = alternatives(reach)
	return v, nil
}

func contactsOf(ids []monban.Identifier) []codes.Contact {
	var out []codes.Contact
	for _, id := range ids {
		if id.Kind == monban.KindEmail || id.Kind == monban.KindPhone {
			out = append(out, codes.Contact{Kind: id.Kind, Value: id.Value, Verified: id.Verified})
		}
	}
	return out
}

// localClock shows a time of day in Japan time, as people read it on the page.
func localClock(lang string, t time.Time) string {
	return nextTry(lang, t, time.Time{})
}

// alternatives are the verification page's forms for the channel ways
// codes.Ways found: a voice call (or SMS) to the number being verified
// starts at once; the other contact shows its confirm page first.
func alternatives(r *codes.Reach) []alternative {
	var out []alternative
	for _, w := range r.Ways {
		if w.Target == "" {
			continue
		}
		a := alternative{Channel: w.Kind, Masked: w.Masked, LabelKey: "alt." + w.Kind, HintKey: "alt." + w.Kind + "_hint"}
		switch {
		case w.Target == monban.KindPhone && r.Channel != monban.ChannelEmail:
			a.Action, a.Fields = "/verify/start", map[string]string{"kind": "phone", "channel": w.Kind}
		case w.Kind == codes.WayVoice:
			continue // a phone still to verify is offered by SMS first, from its confirm page
		default:
			a.Action, a.Fields, a.Confirm = "/verify/confirm", map[string]string{"kind": string(w.Target)}, true
		}
		out = append(out, a)
	}
	return out
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
