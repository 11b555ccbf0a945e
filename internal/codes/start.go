package codes

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// StartInput asks for a code to be sent.
type StartInput struct {
	AccountID   string
	Purpose     monban.Purpose
	Channel     monban.Channel
	Destination string // as typed: normalised here
	Lang        string // of the message: "ja" or "en"
	IP          string // of the request, for the per-IP limit
	// Limits are the caller's own limits this send also counts against, in
	// the same transaction (e.g. transfer attempts per account per day).
	Limits []monban.Limit
}

func (in StartInput) validate() error {
	if !slices.Contains(monban.Purposes, in.Purpose) {
		return monban.Errorf(monban.EInvalid, "code.purpose").WithField("purpose")
	}
	if in.AccountID == "" {
		return monban.Internalf("codes: start without an account")
	}
	return nil
}

// Start opens a flow for in.Purpose and sends its first code to
// in.Destination over in.Channel.
func (s *Service) Start(ctx context.Context, in StartInput) (*monban.Flow, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	dest, err := s.destination(in.Channel, in.Destination)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	f := &monban.Flow{
		ID: monban.NewID("flw"), AccountID: in.AccountID, Purpose: in.Purpose, Channel: in.Channel,
		Destination: dest, Sends: 1, NextSendAt: now.Add(s.cfg.cooldown(1)),
		CreatedAt: now, ExpiresAt: now.Add(max(s.cfg.FlowLifetime, s.cfg.lifetimeOn(in.Purpose, in.Channel))),
	}
	issue := monban.CodeIssue{Now: now, NewFlow: f, Limits: append(s.sendLimits(in.AccountID, in.Channel, dest, in.IP), in.Limits...)}
	if err := s.issue(ctx, &issue, f, in.Lang); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "code sent", "flow", f.ID, "account", f.AccountID, "purpose", f.Purpose,
		"channel", f.Channel, "sends", f.Sends)
	return f, nil
}

// Resend sends a new code in the flow once its cooldown has passed; the
// cooldown grows with each send. Earlier codes of the flow stay valid until
// they expire (a late SMS still works), and failures are not reset.
func (s *Service) Resend(ctx context.Context, flowID, accountID, ip string) (*monban.Flow, error) {
	f, err := s.openFlow(ctx, flowID, accountID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if now.Before(f.NextSendAt) && !s.lastUndelivered(ctx, f.ID) {
		return nil, monban.RateLimited("code.resend_cooldown", f.NextSendAt)
	}
	next := now.Add(s.cfg.cooldown(f.Sends + 1))
	issue := monban.CodeIssue{Now: now, FlowID: f.ID, ExpectSends: f.Sends, NextSendAt: next,
		Limits: s.sendLimits(accountID, f.Channel, f.Destination, ip)}
	if err := s.issue(ctx, &issue, f, ""); err != nil {
		return nil, err
	}
	f.Sends++
	f.NextSendAt = next
	s.log.InfoContext(ctx, "code resent", "flow", f.ID, "account", f.AccountID, "purpose", f.Purpose,
		"channel", f.Channel, "sends", f.Sends)
	return f, nil
}

// lastUndelivered reports whether the flow's newest message failed or was
// not delivered in time: then its channel is free at once (the store
// checks the same when it claims the resend).
func (s *Service) lastUndelivered(ctx context.Context, flowID string) bool {
	msgs, err := s.store.MessagesByFlow(ctx, flowID)
	if err != nil || len(msgs) == 0 {
		return false
	}
	return Freed(&msgs[0])
}

// openFlow returns accountID's flow that can still send and check codes.
func (s *Service) openFlow(ctx context.Context, flowID, accountID string) (*monban.Flow, error) {
	f, err := s.flow(ctx, flowID, accountID)
	if err != nil {
		return nil, err
	}
	if !f.CompletedAt.IsZero() {
		return nil, monban.Errorf(monban.EConflict, "code.used").WithField("code")
	}
	if !s.clock.Now().Before(f.ExpiresAt) {
		return nil, monban.Errorf(monban.EInvalid, "code.expired").WithField("code")
	}
	return f, nil
}

// flow returns accountID's flow; another account's is answered as unknown.
func (s *Service) flow(ctx context.Context, flowID, accountID string) (*monban.Flow, error) {
	f, err := s.store.FlowByID(ctx, flowID)
	if monban.IsNotFound(err) || err == nil && f.AccountID != accountID {
		return nil, monban.Errorf(monban.ENotFound, "code.not_found")
	}
	return f, err
}

// payload is what the outbox message carries, sealed until it is sent.
type payload struct {
	Code    string `json:"code"`
	Minutes int    `json:"minutes"`
	// Hours is set for codes that live two hours or more (emailed login
	// help: 24), so the email says "24 hours", not "1440 minutes".
	Hours int `json:"hours,omitempty"`
}

// issue makes a code and its message for flow f and has the store write
// them with in's flow change and limits.
func (s *Service) issue(ctx context.Context, in *monban.CodeIssue, f *monban.Flow, lang string) error {
	code, err := s.newCode(s.cfg.DigitsFor(f.Purpose))
	if err != nil {
		return err
	}
	expires := in.Now.Add(s.cfg.lifetimeOn(f.Purpose, f.Channel))
	if expires.After(f.ExpiresAt) {
		expires = f.ExpiresAt // a code never outlives its flow
	}
	if lang == "" {
		lang = s.flowLang(ctx, f.ID)
	}
	minutes := int((expires.Sub(in.Now) + time.Minute - 1) / time.Minute)
	p := payload{Code: code, Minutes: minutes}
	if minutes >= 120 && minutes%60 == 0 {
		p.Hours = minutes / 60
	}
	body, err := json.Marshal(p)
	if err != nil {
		return monban.Internalf("code payload: %w", err)
	}
	in.Message = &monban.Message{
		ID: monban.NewID("msg"), AccountID: f.AccountID, FlowID: f.ID, Channel: f.Channel, Destination: f.Destination,
		Template: "code." + string(f.Purpose), Lang: lang, Payload: s.box.Seal(body), Status: monban.MessageQueued,
		NextAttemptAt: in.Now, CreatedAt: in.Now, ExpiresAt: expires, UpdatedAt: in.Now,
	}
	in.Code = &monban.Code{ID: monban.NewID("cod"), FlowID: f.ID, Hash: s.hash(f.ID, code),
		CreatedAt: in.Now, ExpiresAt: expires, MessageID: in.Message.ID}
	err = s.store.IssueCode(ctx, *in)
	s.budgetAlarm(ctx, err)
	return err
}

// flowLang is the language of the flow's last message, for a resend.
func (s *Service) flowLang(ctx context.Context, flowID string) string {
	msgs, err := s.store.MessagesByFlow(ctx, flowID)
	if err != nil || len(msgs) == 0 {
		return "ja"
	}
	return msgs[0].Lang
}

// budgetAlarm raises the alarm for each SMS budget that refused a send.
func (s *Service) budgetAlarm(ctx context.Context, err error) {
	var ex *monban.LimitExceeded
	if !errors.As(err, &ex) {
		return
	}
	for _, l := range ex.Limits {
		if l.Err != budgetKey {
			continue
		}
		scope := strings.TrimPrefix(l.Key, "sms:")
		s.log.WarnContext(ctx, "SMS budget exceeded: sends refused", "scope", scope, "max_per_hour", l.Max)
		s.alarm(scope)
	}
}

// NextAllowed returns when Start(in) would next be allowed by the send
// limits (now when it is allowed already), without counting anything, so a
// page can show the time before the person asks.
func (s *Service) NextAllowed(ctx context.Context, in StartInput) (time.Time, error) {
	dest, err := s.destination(in.Channel, in.Destination)
	if err != nil {
		return time.Time{}, err
	}
	return s.store.PeekLimits(ctx, s.clock.Now(), append(s.sendLimits(in.AccountID, in.Channel, dest, in.IP), in.Limits...))
}
