package twostep

import (
	"context"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/codes"
)

// The held sign-in's side of "where is my code and what else can I do"
// (codes.Ways): the account's factors, and approval only when another
// device is actually signed in now.

// approvers counts the account's active sessions, other than the waiting
// device's, that may answer a prompt (recent enough, as canApprove).
func (s *Service) approvers(ctx context.Context, p *monban.PendingSignIn) (int, error) {
	now := s.clock.Now()
	ss, err := s.store.SessionsByAccount(ctx, p.AccountID, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range ss {
		if x.DeviceID == p.DeviceID {
			continue
		}
		auth := x.CreatedAt
		if at, err := s.store.ReauthAt(ctx, x.ID); err == nil && at.After(auth) {
			auth = at
		}
		if now.Sub(auth) <= s.cfg.ApproverMaxAge {
			n++
		}
	}
	return n, nil
}

// contacts are the account's verified addresses and numbers.
func (s *Service) contacts(ctx context.Context, accountID string) ([]codes.Contact, error) {
	ids, err := s.store.IdentifiersByAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var out []codes.Contact
	for _, id := range ids {
		if id.Verified && (id.Kind == monban.KindEmail || id.Kind == monban.KindPhone) {
			out = append(out, codes.Contact{Kind: id.Kind, Value: id.Value, Verified: true})
		}
	}
	return out, nil
}

// Reach answers for the held sign-in's code, nil before a code was sent.
func (s *Service) Reach(ctx context.Context, p *Pending) (*codes.Reach, error) {
	if p.FlowID == "" {
		return nil, nil
	}
	cs, err := s.contacts(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	fs, err := s.codes.Facts(ctx, p.FlowID, p.AccountID, cs)
	if err != nil {
		return nil, err
	}
	fs.Passkey, fs.TOTP, fs.Recovery = contains(p.Ways, WayPasskey), contains(p.Ways, WayTOTP), contains(p.Ways, WayRecovery)
	fs.Approval = contains(p.Ways, WayApproval)
	if fs.Approval {
		fs.OtherSessions = 1 // Open kept approval only with an approver
	}
	r := codes.Ways(fs, s.clock.Now())
	return &r, nil
}
