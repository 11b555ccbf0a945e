package account

import (
	"context"
	"errors"

	"github.com/monban-dev/monban"
)

// RiskRecorder takes monban's own signals (risk.Service.Record): sign-ins,
// failures, new devices. It evaluates the rules inline, so a sign-in that
// trips a rule is locked before its session is first used.
type RiskRecorder interface {
	Record(ctx context.Context, sigs ...monban.Signal)
}

// LockChecker says whether an account is locked (risk.Service).
type LockChecker interface {
	ActiveLock(ctx context.Context, accountID string) (*monban.Lock, error)
}

type riskHooks struct {
	rec   RiskRecorder
	locks LockChecker
}

type allowLockedKey struct{}

// AllowLocked marks ctx as serving one of a lock's ways out (the lock page,
// the unlock code, the password step-up): Authenticate then admits a
// locked account's session and sets Current.Lock instead of refusing.
func AllowLocked(ctx context.Context) context.Context {
	return context.WithValue(ctx, allowLockedKey{}, true)
}

// ErrLocked is the refusal of a locked account's session everywhere but
// the ways out. Its parameters name the category, never the rule.
func ErrLocked(l *monban.Lock) error {
	return monban.Errorf(monban.EForbidden, "account.locked").WithParams(map[string]any{"category": l.Category})
}

// IsLocked reports whether err is ErrLocked.
func IsLocked(err error) bool {
	return errors.Is(err, monban.ErrAccountLocked)
}

func (s *Service) activeLock(ctx context.Context, accountID string) (*monban.Lock, error) {
	return s.risk.locks.ActiveLock(ctx, accountID)
}

// checkLock refuses a locked account's session unless ctx serves a way out.
func (s *Service) checkLock(ctx context.Context, cur *Current) error {
	l, err := s.activeLock(ctx, cur.Account.ID)
	if err != nil || l == nil {
		return err
	}
	if allowed, _ := ctx.Value(allowLockedKey{}).(bool); allowed {
		cur.Lock = l
		return nil
	}
	return ErrLocked(l)
}

func (s *Service) record(ctx context.Context, accountID, typ string, m Meta) {
	s.risk.rec.Record(ctx, s.signal(accountID, typ, m))
}

func (s *Service) signal(accountID, typ string, m Meta) monban.Signal {
	return monban.Signal{AccountID: accountID, Type: typ, At: s.clock.Now(), IP: m.IP, DeviceID: m.DeviceID}
}

// recordSignIn reports a sign-in, and a new device when the browser or app
// had none this account knew, as one batch.
func (s *Service) recordSignIn(ctx context.Context, si *SignedIn, m Meta) {
	sigs := make([]monban.Signal, 0, 2)
	if m.DeviceID == "" {
		m.DeviceID = si.DeviceID
		sigs = append(sigs, s.signal(si.Account.ID, monban.SignalNewDevice, m))
	}
	m.DeviceID = si.DeviceID
	s.risk.rec.Record(ctx, append(sigs, s.signal(si.Account.ID, monban.SignalSignInSuccess, m))...)
}
