package risk

import (
	"context"
	"errors"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
)

// ActiveLock returns the account's lock in force, or nil.
func (s *Service) ActiveLock(ctx context.Context, accountID string) (*monban.Lock, error) {
	l, err := s.d.Store.ActiveLock(ctx, accountID, s.d.Clock.Now())
	if monban.IsNotFound(err) {
		return nil, nil
	}
	return l, err
}

func errNotLocked() error { return monban.Errorf(monban.EConflict, "lock.not_active") }

func errWayNotAllowed() error { return monban.Errorf(monban.EForbidden, "lock.way_not_allowed") }

// lockFor returns the account's lock in force if it allows w.
func (s *Service) lockFor(ctx context.Context, accountID string, w monban.WayOut) (*monban.Lock, error) {
	l, err := s.ActiveLock(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, errNotLocked()
	}
	if !l.Allows(w) {
		return nil, errWayNotAllowed()
	}
	return l, nil
}

// UnlockPhone returns the verified phone number an unlock code goes to.
func (s *Service) UnlockPhone(ctx context.Context, accountID string) (string, error) {
	ids, err := s.d.Store.IdentifiersByAccount(ctx, accountID)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if id.Kind == monban.KindPhone && id.Verified {
			return id.Value, nil
		}
	}
	return "", monban.Errorf(monban.EConflict, "lock.no_phone")
}

// StartUnlock sends a code (purpose unlock) by SMS to the account's
// verified phone, when its lock allows that way out.
func (s *Service) StartUnlock(ctx context.Context, accountID, lang, ip string) (*monban.Flow, error) {
	if _, err := s.lockFor(ctx, accountID, monban.WayCode); err != nil {
		return nil, err
	}
	phone, err := s.UnlockPhone(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return s.d.Codes.Start(ctx, codes.StartInput{AccountID: accountID, Purpose: monban.PurposeUnlock,
		Channel: monban.ChannelSMS, Destination: phone, Lang: lang, IP: ip})
}

// FinishUnlock checks the unlock code and lifts the lock.
func (s *Service) FinishUnlock(ctx context.Context, accountID, flowID, code string) (*monban.Lock, error) {
	l, err := s.lockFor(ctx, accountID, monban.WayCode)
	if err != nil {
		return nil, err
	}
	f, err := s.d.Codes.Verify(ctx, flowID, accountID, code)
	if err != nil {
		return nil, err
	}
	if f.Purpose != monban.PurposeUnlock {
		return nil, monban.Errorf(monban.EInvalid, "code.purpose")
	}
	return l, s.Lift(ctx, l, "person", string(monban.WayCode))
}

// UnlockWithPassword lifts a lock that asks for the password again. The
// password is proven as a re-authentication is (account.Service.
// CheckPassword): claimed on the sign-in throttle's counters before the
// hash, so guessing here, at re-authentication and at the sign-in form
// spends one budget, and refused as a sign-in is ("signin.throttled" with
// the time of the next try). A wrong one is "lock.password_wrong".
func (s *Service) UnlockWithPassword(ctx context.Context, cur *account.Current, pw string, m account.Meta) (*monban.Lock, error) {
	l, err := s.lockFor(ctx, cur.Account.ID, monban.WayPassword)
	if err != nil {
		return nil, err
	}
	if err := s.passwords.CheckPassword(ctx, cur, pw, m); err != nil {
		if errors.Is(err, monban.ErrReauthWrong) {
			return nil, monban.Errorf(monban.EUnauthorized, "lock.password_wrong").WithField("password")
		}
		return nil, err
	}
	return l, s.Lift(ctx, l, "person", string(monban.WayPassword))
}

// Lift lifts one lock with its notice and audit entry. by says who
// ("person", "agent:ID", "operator:NAME"), how says by which way.
func (s *Service) Lift(ctx context.Context, l *monban.Lock, by, how string) error {
	now := s.d.Clock.Now()
	lifted := *l
	lifted.LiftedAt, lifted.LiftedBy, lifted.LiftedHow = now, by, how
	for try := 0; ; try++ {
		n, msgs, err := s.d.Notices.Compose(ctx, l.AccountID, monban.TopicAccountUnlocked, nil, noticeOpts())
		if err != nil {
			return err
		}
		ids, err := s.d.Store.LiftLocks(ctx, []monban.LockLift{{LockID: l.ID, AccountID: l.AccountID, At: now, By: by, How: how,
			Notice: n, Messages: msgs, Audit: monban.AuditEvent{At: now, AccountID: l.AccountID, Action: monban.AuditUnlocked,
				Detail: map[string]string{"lock_id": l.ID, "rule": l.RuleID, "version": l.RuleVersion, "by": by, "how": how}},
			Event: webhookEvent(monban.TopicAccountUnlocked, &lifted, now)}})
		if errors.Is(err, monban.ErrNoticeRefTaken) && try < 3 {
			continue
		}
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return errNotLocked()
		}
		break
	}
	l.LiftedAt, l.LiftedBy, l.LiftedHow = now, by, how
	s.Lifts.Add(1)
	if s.d.Notify != nil {
		s.d.Notify.Notify()
	}
	s.d.Log.InfoContext(ctx, "account unlocked", "account", l.AccountID, "lock", l.ID, "by", by, "how", how)
	return nil
}

// PasswordReset lifts the account's lock if it allows a password reset:
// the recovery flow calls it once a new password is set.
func (s *Service) PasswordReset(ctx context.Context, accountID string) error {
	l, err := s.lockFor(ctx, accountID, monban.WayPasswordReset)
	if errors.Is(err, monban.ErrLockNotActive) || errors.Is(err, monban.ErrLockWayNotAllowed) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.Lift(ctx, l, "person", string(monban.WayPasswordReset))
}
