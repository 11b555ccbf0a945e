package recovery

import (
	"context"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/identifier"
	"github.com/monban-dev/monban/internal/pacing"
)

// StartInput asks for login help.
type StartInput struct {
	Identifier string         // as typed
	Channel    monban.Channel // preferred for a username: email (default) or sms
	Lang       string
	Meta       Meta
}

// Start opens a login-help attempt. Whether or not the identifier names an
// account, it counts against the same limits and returns an attempt whose
// pages look the same; only for a real account with a verified contact is
// a code sent.
func (s *Service) Start(ctx context.Context, in StartInput) (*monban.Recovery, error) {
	kind, value, err := s.IDs.Classify(in.Identifier)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	limits := []monban.Limit{
		{Key: "recover:id:h:" + hashHex(string(kind)+":"+value), Window: time.Hour, Max: s.cfg.PerIdentifierHour, Err: "limit.recovery"},
	}
	if in.Meta.IP != "" {
		limits = append(limits, monban.Limit{Key: "recover:ip:h:" + monban.IPScope(in.Meta.IP), Window: time.Hour, Max: s.cfg.PerIPHour, Err: "limit.ip"})
	}
	if err := s.Store.HitLimits(ctx, now, limits); err != nil {
		return nil, err
	}
	r := &monban.Recovery{ID: monban.NewID("rcv"), DeviceID: in.Meta.DeviceID, Channel: channelFor(kind, in.Channel),
		Shown: shown(kind, value), CreatedAt: now, ExpiresAt: now.Add(s.cfg.Lifetime),
		FlowID: "unknown:" + hashHex(string(kind)+":"+value)}
	matched, err := s.Store.AccountsByIdentifier(ctx, kind, value)
	if err != nil {
		return nil, err
	}
	acc, dest, ch, err := s.target(ctx, matched, kind, value, r.Channel)
	if err != nil {
		return nil, err
	}
	var ev *monban.AuditEvent
	if acc != nil {
		f, err := s.Codes.Start(ctx, codes.StartInput{AccountID: acc.ID, Purpose: monban.PurposeRecovery, Channel: ch,
			Destination: dest, Lang: langOf(in.Lang, acc), IP: in.Meta.IP})
		switch {
		case err == nil:
			r.AccountID, r.FlowID = acc.ID, f.ID
			e := in.Meta.audit(monban.AuditRecoveryStarted, acc.ID, now, map[string]string{"recovery_id": r.ID, "channel": string(ch)})
			ev = &e
			// The worker, woken now, would compete with this answer for
			// the CPU and the database: only once it is out.
			pacing.After(ctx, s.wake)
		case monban.ErrorCodeOf(err) == monban.EInternal || monban.ErrorCodeOf(err) == monban.EUnavailable:
			return nil, err
		default:
			// A refused send (a limit of the contact) must not show: the
			// attempt goes on like one for an unknown identifier.
			s.Log.InfoContext(ctx, "recovery code not sent", "account", acc.ID, "err", err)
		}
	}
	if err := s.Store.CreateRecovery(ctx, r, ev); err != nil {
		return nil, err
	}
	// Reading a real account's contacts (and issuing a code) costs more
	// than recording an attempt for a name nobody has: the route's pacer
	// sets every answer's time by the real ones.
	if len(matched) > 0 {
		pacing.Costly(ctx)
	}
	return r, nil
}

// target picks the account and the verified contact the code goes to; nil
// when the identifier names no account or the account has no verified
// contact. A phone number shared by several accounts recovers the first
// whose number is verified.
func (s *Service) target(ctx context.Context, accs []monban.Account, kind monban.IdentifierKind, value string, want monban.Channel) (*monban.Account, string, monban.Channel, error) {
	for i := range accs {
		a := &accs[i]
		if a.Status != monban.AccountActive {
			continue
		}
		ids, err := s.Store.IdentifiersByAccount(ctx, a.ID)
		if err != nil {
			return nil, "", "", err
		}
		var email, phone string
		for _, id := range ids {
			switch {
			case !id.Verified:
			case id.Kind == monban.KindEmail:
				email = id.Value
			case id.Kind == monban.KindPhone:
				phone = id.Value
			}
		}
		switch {
		case kind == monban.KindEmail && email == value:
			return a, email, monban.ChannelEmail, nil
		case kind == monban.KindPhone && phone == value:
			return a, phone, monban.ChannelSMS, nil
		case kind == monban.KindUsername && want == monban.ChannelSMS && phone != "":
			return a, phone, monban.ChannelSMS, nil
		case kind == monban.KindUsername && email != "":
			return a, email, monban.ChannelEmail, nil
		case kind == monban.KindUsername && phone != "":
			return a, phone, monban.ChannelSMS, nil
		}
	}
	return nil, "", "", nil
}

func channelFor(kind monban.IdentifierKind, want monban.Channel) monban.Channel {
	switch {
	case kind == monban.KindEmail:
		return monban.ChannelEmail
	case kind == monban.KindPhone || want == monban.ChannelSMS:
		return monban.ChannelSMS
	}
	return monban.ChannelEmail
}

// shown is how the pages name what the person typed: an address masked, a
// username with its "@".
func shown(kind monban.IdentifierKind, value string) string {
	switch kind {
	case monban.KindEmail:
		return identifier.MaskEmail(value)
	case monban.KindPhone:
		return identifier.MaskPhone(value)
	}
	return "@" + value
}

func langOf(lang string, a *monban.Account) string {
	if lang == "ja" || lang == "en" {
		return lang
	}
	if a.Lang == "en" {
		return "en"
	}
	return "ja"
}

// Step is where an attempt stands.
type Step string

// Steps of login help.
const (
	StepCode     Step = "code"     // enter the emailed or texted code
	StepSecond   Step = "second"   // 2-step on: enter a TOTP or recovery code
	StepPassword Step = "password" // set a new password
	StepDone     Step = "done"
)

// Attempt is what the pages show of an attempt.
type Attempt struct {
	Recovery *monban.Recovery
	Step     Step
	TwoStep  bool // the account needs a second factor (known only after the code)
}

func errNotFound() error { return monban.Errorf(monban.ENotFound, "recovery.not_found") }

// Get returns the attempt for the device it is bound to.
func (s *Service) Get(ctx context.Context, id, deviceID string) (*Attempt, error) {
	r, err := s.Store.RecoveryByID(ctx, id)
	if monban.IsNotFound(err) || err == nil && (r.DeviceID != deviceID || !s.Clock.Now().Before(r.ExpiresAt)) {
		return nil, errNotFound()
	}
	if err != nil {
		return nil, err
	}
	at := &Attempt{Recovery: r, Step: StepCode}
	switch {
	case !r.CompletedAt.IsZero():
		at.Step = StepDone
	case r.CodeAt.IsZero():
	default:
		a, err := s.Store.AccountByID(ctx, r.AccountID)
		if err != nil {
			return nil, err
		}
		at.TwoStep = a.TwoStep
		at.Step = StepPassword
		if a.TwoStep && r.SecondAt.IsZero() {
			at.Step = StepSecond
		}
	}
	return at, nil
}

func errWrongStep() error { return monban.Errorf(monban.EConflict, "recovery.step") }

// VerifyCode checks the emailed or texted code. For an attempt without an
// account every code is wrong, with the same answers as a real flow: tries
// left, then "code.expired" once the code's tries or lifetime are used up.
func (s *Service) VerifyCode(ctx context.Context, id, deviceID, code string) (*Attempt, error) {
	at, err := s.Get(ctx, id, deviceID)
	if err != nil {
		return nil, err
	}
	if at.Step != StepCode {
		return nil, errWrongStep()
	}
	r := at.Recovery
	if r.AccountID == "" {
		return nil, s.wrongCode(ctx, r)
	}
	if _, err := s.Codes.Verify(ctx, r.FlowID, r.AccountID, code); err != nil {
		return nil, err
	}
	if err := s.Store.MarkRecoveryCode(ctx, r.ID, s.Clock.Now()); err != nil {
		return nil, err
	}
	return s.Get(ctx, id, deviceID)
}

// wrongCode answers a code for an attempt that has none, as CheckCode
// would answer a wrong one.
func (s *Service) wrongCode(ctx context.Context, r *monban.Recovery) error {
	cfg := s.Codes.Config()
	now := s.Clock.Now()
	lifetime := cfg.LifetimeFor(monban.PurposeRecovery)
	if r.Channel == monban.ChannelEmail {
		lifetime = cfg.EmailLifetimeFor(monban.PurposeRecovery)
	}
	// The same counted path and schedule as a real flow's codes, claimed
	// first as codes.Verify claims before the store says "expired", on a
	// counter of this attempt's flow key (there is no account to count on).
	try := s.Codes.FailureAttempt("", monban.PurposeRecovery)
	try.AccountIDs, try.Identifier = nil, r.FlowID
	tk, err := s.Throttle.Begin(ctx, try)
	if err != nil {
		return err
	}
	s.Throttle.Failed(ctx, tk)
	if r.Checks >= cfg.MaxChecks || !now.Before(r.CreatedAt.Add(lifetime)) {
		return monban.Errorf(monban.EInvalid, "code.expired").WithField("code")
	}
	checks, err := s.Store.CountRecoveryCheck(ctx, r.ID)
	if err != nil {
		return err
	}
	return monban.Errorf(monban.EInvalid, "code.wrong").WithField("code").
		WithParams(map[string]any{"remaining": max(cfg.MaxChecks-checks, 0)})
}

// Second factor kinds accepted in login help.
const (
	SecondTOTP         = "totp"
	SecondRecoveryCode = "recovery_code"
)

// VerifySecond checks the second proof of a 2-step account: a code from
// the authenticator app or one of the recovery codes. factors counts each
// try on the account's counters, shared with the sign-in step.
func (s *Service) VerifySecond(ctx context.Context, id, deviceID, ip, kind, code string) (*Attempt, error) {
	at, err := s.Get(ctx, id, deviceID)
	if err != nil {
		return nil, err
	}
	if at.Step != StepSecond {
		return nil, errWrongStep()
	}
	if s.Factors == nil {
		return nil, monban.Errorf(monban.EInvalid, "recovery.no_second_factor")
	}
	acc := at.Recovery.AccountID
	from := factors.From{DeviceID: deviceID, IP: ip}
	switch kind {
	case SecondTOTP:
		err = s.Factors.VerifyTOTP(ctx, acc, code, from)
	case SecondRecoveryCode:
		err = s.Factors.UseRecoveryCode(ctx, acc, code, from)
	default:
		err = monban.Errorf(monban.EInvalid, "recovery.second_kind").WithField("kind")
	}
	if err != nil {
		return nil, err
	}
	if err := s.Store.MarkRecoverySecond(ctx, at.Recovery.ID, s.Clock.Now()); err != nil {
		return nil, err
	}
	return s.Get(ctx, id, deviceID)
}

// ResetPassword sets the new password once the proofs are in: every
// session ends, the throttle forgets the account's failures and every
// contact is told.
func (s *Service) ResetPassword(ctx context.Context, id string, pw string, m Meta) error {
	at, err := s.Get(ctx, id, m.DeviceID)
	if err != nil {
		return err
	}
	if at.Step != StepPassword {
		return errWrongStep()
	}
	r := at.Recovery
	ids, err := s.Store.IdentifiersByAccount(ctx, r.AccountID)
	if err != nil {
		return err
	}
	words := make([]string, 0, len(ids))
	for _, id := range ids {
		words = append(words, id.Value)
	}
	if err := s.Policy.Check(pw, at.TwoStep, words...); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	n, msgs, err := s.Notices.Compose(ctx, r.AccountID, monban.TopicPasswordChanged, nil, noticeOpts(nil))
	if err != nil {
		return err
	}
	ev := m.audit(monban.AuditPasswordReset, r.AccountID, now, map[string]string{"recovery_id": r.ID})
	if err := s.Store.ResetPassword(ctx, r.ID, r.AccountID, hash, now, ev, n, msgs); err != nil {
		return err
	}
	s.liftLock(ctx, r.AccountID)
	s.wake()
	return s.Throttle.ClearAfterReset(ctx, r.AccountID)
}
