package risk

import (
	"context"
	"errors"
	"time"

	"github.com/monban-dev/monban"
)

// SecondFactor checks the account's second factors (factors.Service).
type SecondFactor interface {
	VerifyTOTP(ctx context.Context, accountID, code string) error
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
	return nil
}

// Second-factor tries, like password re-entry: not a way to guess codes.
const secondFactorTriesPer15Min = 5

// UnlockWithTOTP lifts a lock whose ways out include a second factor, with
// a code from one of the account's authenticator apps.
func (s *Service) UnlockWithTOTP(ctx context.Context, accountID, code string) (*monban.Lock, error) {
	return s.unlockSecond(ctx, accountID, func(f SecondFactor) error { return f.VerifyTOTP(ctx, accountID, code) })
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
	if err := s.d.Store.HitLimits(ctx, s.d.Clock.Now(), []monban.Limit{{Key: "unlock:2fa:" + accountID,
		Window: 15 * time.Minute, Max: secondFactorTriesPer15Min, Err: "lock.second_limit"}}); err != nil {
		return nil, err
	}
	if err := check(s.factors); err != nil {
		return nil, err
	}
	return l, s.Lift(ctx, l, "person", string(monban.WaySecondFactor))
}
