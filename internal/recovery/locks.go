package recovery

import "context"

// Locks lifts a risk lock whose ways out include a password reset
// (risk.Service): a person locked out by a rule who resets the password
// through login help is let back in.
type Locks interface {
	PasswordReset(ctx context.Context, accountID string) error
}

// liftLock lifts the account's lock after a password reset, if its ways
// out allow that. A failure is logged, not returned: the new password is
// already set, and the lock page still offers the other ways out.
func (s *Service) liftLock(ctx context.Context, accountID string) {
	if err := s.Locks.PasswordReset(ctx, accountID); err != nil {
		s.Log.WarnContext(ctx, "recovery: lift the lock after a password reset", "account", accountID, "err", err)
	}
}
