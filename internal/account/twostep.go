package account

import (
	"context"
	"time"

	"github.com/monban-dev/monban"
)

// Held is a sign-in whose password was right but which waits for a second
// proof: 2-step verification is on, or the device is new to the account.
// Secret is shown once, to the browser (in a cookie) or the app.
type Held struct {
	ID        string
	Secret    string
	Reason    string   // "two_step" or "new_device"
	Ways      []string // how the sign-in can be completed
	ExpiresAt time.Time
}

// Pass is what a sign-in the gate lets through at once proved beyond the
// password: with 2-step on, a device the person chose to remember stands
// in for the second factor (it was trusted after one), so the session is
// two-factor and says how.
type Pass struct {
	Methods []string // e.g. "device"; none when the password alone let it through
	// Audit is what the gate has to say about the sign-in (e.g. that no
	// second proof was possible): stored with the session, in its
	// transaction.
	Audit []monban.AuditEvent
}

// Gate decides, after the password, whether a sign-in may start a session
// now or must wait for a second proof (internal/twostep). Held is nil when
// it may start; Pass is nil or has no Methods when the password alone let
// it through.
type Gate interface {
	Hold(ctx context.Context, a *monban.Account, m Meta) (*Held, *Pass, error)
}

// SetGate installs the second-step gate (twostep.New calls it). Without
// one, no sign-in goes through: it fails closed, and a node does not start
// (Wired).
func (s *Service) SetGate(g Gate) { s.gate = g }

func (s *Service) hold(ctx context.Context, a *monban.Account, m Meta) (*Held, *Pass, error) {
	if s.gate == nil {
		return nil, nil, monban.Internalf("account: sign-in without a second-step gate")
	}
	return s.gate.Hold(ctx, a, m)
}

// StartVerified starts a session for an account whose sign-in was proven
// by the second step (or by a passkey alone): level and methods say how.
func (s *Service) StartVerified(ctx context.Context, accountID string, level int, methods []string, m Meta, action string) (*SignedIn, error) {
	a, err := s.store.AccountByID(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if a.Status != monban.AccountActive {
		return nil, errSignInFailed()
	}
	si, err := s.startSession(ctx, a, level, methods, m, action)
	if err == nil {
		s.onOutcome(OutcomeSuccess)
	}
	return si, err
}
