package account

import (
	"context"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/throttle"
)

// Throttle slows password guessing: a try is claimed before the password
// is checked and reported after (internal/throttle).
type Throttle interface {
	Begin(ctx context.Context, a throttle.Attempt) (*throttle.Ticket, error)
	Failed(ctx context.Context, t *throttle.Ticket)
	Succeeded(ctx context.Context, t *throttle.Ticket, accountIDs ...string) error
}

// throttleBegin claims a password try for the accounts the identifier
// names (none: an unknown identifier, throttled alike by its own counter).
func (s *Service) throttleBegin(ctx context.Context, in SignInInput, ident string, accounts []monban.Account) (*throttle.Ticket, error) {
	a := throttle.Attempt{Authenticator: throttle.Password, Identifier: ident, DeviceID: in.Meta.DeviceID, IP: in.Meta.IP}
	for _, acc := range accounts {
		a.AccountIDs = append(a.AccountIDs, acc.ID)
	}
	return s.throttle.Begin(ctx, a)
}

// throttleFailed reports a failed try.
func (s *Service) throttleFailed(ctx context.Context, t *throttle.Ticket) {
	s.throttle.Failed(ctx, t)
}

// throttleUnknown claims and fails a try of an identifier that cannot name
// an account (malformed): refused exactly like an unknown one.
func (s *Service) throttleUnknown(ctx context.Context, in SignInInput) error {
	t, err := s.throttleBegin(ctx, in, "raw:"+in.Identifier, nil)
	if err != nil {
		return err
	}
	s.throttleFailed(ctx, t)
	return nil
}

// throttleSucceeded resets the counters of the accounts the password
// proved.
func (s *Service) throttleSucceeded(ctx context.Context, t *throttle.Ticket, matched []*monban.Account) error {
	ids := make([]string, len(matched))
	for i, a := range matched {
		ids[i] = a.ID
	}
	return s.throttle.Succeeded(ctx, t, ids...)
}
