package recovery

import (
	"context"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/pacing"
	"github.com/monban-dev/monban/internal/throttle"
)

// ChangeInput asks to change the account's email address or phone number.
type ChangeInput struct {
	AccountID string
	SessionID string
	Kind      monban.IdentifierKind // email or phone
	Value     string                // the new contact, as typed
	Password  string                // re-authentication: the current password, now
	Lang      string
	Meta      Meta

	// Current is the signed-in session asking, and Auth the request as the
	// password check sees it (its device): the password is proved again
	// as everywhere else (account.Service.CheckPassword).
	Current *account.Current
	Auth    account.Meta
}

// StartChange checks the password and sends a code to the new contact.
func (s *Service) StartChange(ctx context.Context, in ChangeInput) (*monban.ContactChange, error) {
	var ch monban.Channel
	switch in.Kind {
	case monban.KindEmail:
		ch = monban.ChannelEmail
	case monban.KindPhone:
		ch = monban.ChannelSMS
	default:
		return nil, monban.Errorf(monban.EInvalid, "change.kind").WithField("kind")
	}
	value, err := s.IDs.Normalize(in.Kind, in.Value)
	if err != nil {
		return nil, err
	}
	a, err := s.Store.AccountByID(ctx, in.AccountID)
	if err != nil {
		return nil, err
	}
	if in.Current == nil || in.Current.Account.ID != a.ID {
		return nil, monban.Errorf(monban.EUnauthorized, "session.invalid")
	}
	// A wrong password is audited and reported to the risk rules, and it
	// spends the sign-in budget: a stolen session guesses no faster here.
	if err := s.Passwords.CheckPassword(ctx, in.Current, in.Password, in.Auth); err != nil {
		return nil, err
	}
	ids, err := s.Store.IdentifiersByAccount(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	c := &monban.ContactChange{ID: monban.NewID("chg"), AccountID: a.ID, Kind: in.Kind, NewValue: value,
		SessionID: in.SessionID, CreatedAt: s.Clock.Now()}
	for _, id := range ids {
		if id.Kind == in.Kind {
			c.OldValue, c.OldVerified = id.Value, id.Verified
		}
	}
	if c.OldValue == value {
		return nil, monban.Errorf(monban.EInvalid, "change.same").WithField("value")
	}
	if in.Kind == monban.KindEmail {
		taken, err := s.Store.AccountsByIdentifier(ctx, in.Kind, value)
		if err != nil {
			return nil, err
		}
		if len(taken) > 0 {
			return nil, monban.Errorf(monban.EConflict, "identifier.taken").WithField("value")
		}
	}
	f, err := s.Codes.Start(ctx, codes.StartInput{AccountID: a.ID, Purpose: monban.PurposeContactChange, Channel: ch,
		Destination: value, Lang: langOf(in.Lang, a), IP: in.Meta.IP})
	if err != nil {
		return nil, err
	}
	pacing.After(ctx, s.wake) // once the answer is out: it is paced
	c.FlowID = f.ID
	if err := s.Store.CreateContactChange(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Change returns one of the account's contact changes.
func (s *Service) Change(ctx context.Context, accountID, id string) (*monban.ContactChange, error) {
	c, err := s.Store.ContactChangeByID(ctx, id)
	if monban.IsNotFound(err) || err == nil && c.AccountID != accountID {
		return nil, monban.Errorf(monban.ENotFound, "change.not_found")
	}
	return c, err
}

// ConfirmChange checks the code sent to the new contact and makes the
// change; the old contacts are sent the "this wasn't me" link.
func (s *Service) ConfirmChange(ctx context.Context, accountID, id, code string, m Meta) (*monban.ContactChange, error) {
	c, err := s.Change(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	if !c.CompletedAt.IsZero() {
		return nil, monban.Errorf(monban.EConflict, "change.used")
	}
	if _, err := s.Codes.Verify(ctx, c.FlowID, accountID, code); err != nil {
		return nil, err
	}
	tok, hash, err := s.newToken()
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	c.UndoExpiresAt = now.Add(s.cfg.UndoValid)
	// Composed before the change: "the account's contacts" are still the
	// old ones, and the old address of the changed kind is named too in case
	// it was never verified.
	var extra []notices.Recipient
	if c.OldValue != "" {
		ch := monban.ChannelEmail
		if c.Kind == monban.KindPhone {
			ch = monban.ChannelSMS
		}
		extra = append(extra, notices.Recipient{Channel: ch, Address: c.OldValue})
	}
	n, msgs, err := s.Notices.Compose(ctx, accountID, monban.TopicContactChanged, map[string]string{"kind": string(c.Kind)},
		noticeOpts(map[string]string{"restore_url": s.UndoURL(tok)}, extra...))
	if err != nil {
		return nil, err
	}
	ev := m.audit(monban.AuditContactChanged, accountID, now, map[string]string{"change_id": c.ID, "kind": string(c.Kind)})
	if err := s.Store.CompleteContactChange(ctx, c, hash, now, ev, n, msgs); err != nil {
		return nil, err
	}
	s.wake()
	c.CompletedAt = now
	return c, nil
}

func noticeOpts(private map[string]string, to ...notices.Recipient) notices.Options {
	return notices.Options{Private: private, To: to}
}

// UndoURL is the "this wasn't me" link for a token.
func (s *Service) UndoURL(token string) string { return s.cfg.PublicURL + "/help/undo/" + token }

func errUndoInvalid() error { return monban.Errorf(monban.EInvalid, "undo.invalid") }

// UndoChange returns the change a "this wasn't me" token undoes, while it
// can: completed, not undone, within 14 days. The token is checked on the
// counted path for tokens: a wrong one (or one cut short) counts against
// ip's window (throttle.UndoToken).
func (s *Service) UndoChange(ctx context.Context, token, ip string) (*monban.ContactChange, error) {
	var c *monban.ContactChange
	err := s.Throttle.CheckToken(ctx, throttle.UndoToken, ip, func() error {
		if len(token) != 43 {
			return errUndoInvalid()
		}
		var err error
		c, err = s.Store.ContactChangeByUndo(ctx, hashToken(token))
		if monban.IsNotFound(err) {
			return errUndoInvalid()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if c.CompletedAt.IsZero() || !c.UndoneAt.IsZero() || !s.Clock.Now().Before(c.UndoExpiresAt) {
		return nil, errUndoInvalid()
	}
	return c, nil
}

// Undo restores the contacts as they were before the change, ends every
// session, makes the password unusable, removes the factors added since
// the change and starts login help through the restored contact, bound to
// the device that opened the link. It works without a session and after
// the attacker changed the password.
func (s *Service) Undo(ctx context.Context, token, lang string, m Meta) (*monban.Recovery, error) {
	c, err := s.UndoChange(ctx, token, m.IP)
	if err != nil {
		return nil, err
	}
	unusable, err := s.unusableHash(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	ev := m.audit(monban.AuditContactChangeUndo, c.AccountID, now, map[string]string{"change_id": c.ID})
	if err := s.Store.UndoContactChange(ctx, c, unusable, now, ev); err != nil {
		return nil, err
	}
	if err := s.Throttle.Clear(ctx, throttle.Password, c.AccountID); err != nil {
		return nil, err
	}
	return s.restart(ctx, c, lang, m)
}

// restart opens login help for the account through the restored contact.
func (s *Service) restart(ctx context.Context, c *monban.ContactChange, lang string, m Meta) (*monban.Recovery, error) {
	a, err := s.Store.AccountByID(ctx, c.AccountID)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	ch := monban.ChannelEmail
	if c.Kind == monban.KindPhone {
		ch = monban.ChannelSMS
	}
	r := &monban.Recovery{ID: monban.NewID("rcv"), AccountID: a.ID, DeviceID: m.DeviceID, Channel: ch,
		Shown: shown(c.Kind, c.OldValue), CreatedAt: now, ExpiresAt: now.Add(s.cfg.Lifetime)}
	if c.OldValue == "" {
		return nil, monban.Errorf(monban.EInvalid, "undo.no_contact")
	}
	f, err := s.Codes.Start(ctx, codes.StartInput{AccountID: a.ID, Purpose: monban.PurposeRecovery, Channel: ch,
		Destination: c.OldValue, Lang: langOf(lang, a), IP: m.IP})
	if err != nil {
		return nil, err
	}
	s.wake()
	r.FlowID = f.ID
	ev := m.audit(monban.AuditRecoveryStarted, a.ID, now, map[string]string{"recovery_id": r.ID, "channel": string(ch), "after": "undo"})
	if err := s.Store.CreateRecovery(ctx, r, &ev); err != nil {
		return nil, err
	}
	return r, nil
}
