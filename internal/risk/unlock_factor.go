package risk

import (
	"context"
	"errors"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/factors"
)

// SecondFactor checks the account's second factors (factors.Service).
type SecondFactor interface {
	VerifyTOTP(ctx context.Context, accountID, code string, from factors.From) error
	FinishPasskeyCheck(ctx context.Context, accountID, ceremonyID string, response []byte) error
}

// SetFactors installs the second-factor checks. They are bound after
// construction (factors are built after the accounts, which need this
// service); without them the second-factor way out refuses, and a node
// does not start (Wired).
func (s *Service) SetFactors(f SecondFactor) { s.factors = f }

// Wired reports what a serving node's risk service still lacks: the
// second-factor checks of the lock's way out.
func (s *Service) Wired() error {
	if s.factors == nil {
		return errors.New("risk: no second-factor checks (SetFactors)")
	}
	if s.passwords == nil {
		return errors.New("risk: no password checks (SetPasswords)")
	}
	return nil
}

// SetPasswords installs the password check of the lock's password way out
// (account.Service.CheckPassword). It is bound after construction like
// SetFactors: the accounts need this service first. A node does not start
// without it (Wired).
func (s *Service) SetPasswords(p PasswordChecker) { s.passwords = p }

// UnlockWithTOTP lifts a lock whose ways out include a second factor, with
// a code from one of the account's authenticator apps. The code is counted
// by factors.VerifyTOTP on the account's TOTP counter, the same budget as
// the sign-in step's, transfer's and login help's.
func (s *Service) UnlockWithTOTP(ctx context.Context, accountID, code string, from factors.From) (*monban.Lock, error) {
	return s.unlockSecond(ctx, accountID, func(f SecondFactor) error { return f.VerifyTOTP(ctx, accountID, code, from) })
}

// UnlockWithPasskey lifts such a lock with a passkey assertion (the
// ceremony begun by factors.Service.BeginPasskeyCheck).
func (s *Service) UnlockWithPasskey(ctx context.Context, accountID, ceremonyID string, response []byte) (*monban.Lock, error) {
	return s.unlockSecond(ctx, accountID, func(f SecondFactor) error {
		return f.FinishPasskeyCheck(ctx, accountID, ceremonyID, response)
	})
}

func (s *Service) unlockSecond(ctx context.Context, accountID string, check func(SecondFactor) error) (*monban.Lock, error) {
	l, err := s.lockFor(ctx, accountID, monban.WaySecondFactor)
	if err != nil {
		return nil, err
	}
	if s.factors == nil {
		return nil, errWayNotAllowed()
	}
	if err := check(s.factors); err != nil {
		return nil, err
	}
	return l, s.Lift(ctx, l, "person", string(monban.WaySecondFactor))
}
