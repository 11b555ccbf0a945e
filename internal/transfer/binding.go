package transfer

import (
	"context"
	"net/url"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
)

// Offer is a binding code shown on the old device, once.
type Offer struct {
	Transfer *monban.Transfer
	Code     string // e.g. "7K3Q9-D2FXM"; never stored
	URL      string // what the QR code opens on the new device
}

// Offer makes a one-time binding code for cur's account, valid for
// monban.BindingCodeLifetime, after the password is proven again: whoever
// enters the code gets the account, so a session alone (a borrowed phone,
// a stolen cookie) must not be enough to make one. Any other open transfer
// of the account is cancelled: the signed-in owner outranks it.
func (s *Service) Offer(ctx context.Context, cur *account.Current, password string, m account.Meta) (*Offer, error) {
	if err := s.accounts.CheckPassword(ctx, cur, password, m); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	code := monban.NewBindingCode()
	t := &monban.Transfer{ID: monban.NewID("trf"), AccountID: cur.Account.ID, Kind: monban.TransferBinding,
		State: monban.TransferOffered, BindingHash: s.bindingHash(code), OldDeviceID: cur.Session.DeviceID,
		OldSessionID: cur.Session.ID, Lang: cur.Account.Lang, CreatedAt: now, ExpiresAt: now.Add(monban.BindingCodeLifetime)}
	ev := monban.AuditEvent{At: now, AccountID: t.AccountID, Action: monban.AuditTransferOffered, IP: m.IP, UserAgent: m.UserAgent,
		Detail: map[string]string{"transfer_id": t.ID, "device_id": t.OldDeviceID, "expires_at": t.ExpiresAt.Format(time.RFC3339)}}
	if err := s.store.OfferTransfer(ctx, t, ev); err != nil {
		return nil, err
	}
	u := s.cfg.PublicURL + "/transfer/receive?t=" + url.QueryEscape(t.ID) + "&code=" + url.QueryEscape(code)
	return &Offer{Transfer: t, Code: code, URL: u}, nil
}

// OfferState returns the state of a binding-code transfer to the old device
// that offered it (deviceID): it polls to learn that the account moved and
// its own session ended.
func (s *Service) OfferState(ctx context.Context, id, deviceID string) (*monban.Transfer, error) {
	t, err := s.store.TransferByID(ctx, id)
	if monban.IsNotFound(err) || err == nil && (t.Kind != monban.TransferBinding || deviceID == "" || t.OldDeviceID != deviceID) {
		return nil, monban.Errorf(monban.ENotFound, "transfer.not_found")
	}
	if err != nil {
		return nil, err
	}
	t.State = t.StateAt(s.clock.Now())
	return t, nil
}

// Redeem is what the new device sends with a binding code.
type Redeem struct {
	Code string
	// TransferID (from the QR code) or AccountID (a native app restoring a
	// known account's backup) bind the code further: a code of another
	// transfer or account is refused and stays usable for its owner.
	TransferID, AccountID string
	Meta                  account.Meta
}

// Done is a completed transfer: the new device's session and the devices
// whose sessions ended.
type Done struct {
	Transfer *monban.Transfer
	SignedIn *account.SignedIn
	Ended    []string
}

// Redeem moves the account whose binding code the new device entered.
// Tries are limited per address and in total; a wrong, used or expired
// code, or one of another account, each has its own answer and changes
// nothing else.
//
// A binding code names no account before it is looked up, so the count is
// per IP (one /64 for IPv6) and global, not per account: each try is claimed
// on those windows atomically before the lookup (a peek followed by a
// later hit let concurrent guesses through together). A right code counts
// too; one person redeems one or two an hour, far below the limit.
func (s *Service) Redeem(ctx context.Context, in Redeem) (*Done, error) {
	now := s.clock.Now()
	if err := s.store.HitLimits(ctx, now, s.bindingLimits(in.Meta.IP)); err != nil {
		return nil, err
	}
	code, ok := monban.ParseBindingCode(in.Code)
	if !ok {
		return nil, s.bindingFailure(ctx, in, "", "transfer.code_format")
	}
	t, err := s.store.TransferByBindingHash(ctx, s.bindingHash(code))
	if monban.IsNotFound(err) {
		return nil, s.bindingFailure(ctx, in, "", "transfer.code_wrong")
	}
	if err != nil {
		return nil, err
	}
	if in.TransferID != "" && in.TransferID != t.ID || in.AccountID != "" && in.AccountID != t.AccountID {
		return nil, s.bindingFailure(ctx, in, t.AccountID, "transfer.code_other_account")
	}
	switch t.StateAt(now) {
	case monban.TransferCompleted:
		return nil, monban.Errorf(monban.EConflict, "transfer.code_used").WithField("code")
	case monban.TransferExpired:
		return nil, monban.Errorf(monban.EInvalid, "transfer.code_expired").WithField("code")
	case monban.TransferCancelled:
		return nil, monban.Errorf(monban.EInvalid, "transfer.code_replaced").WithField("code")
	}
	return s.complete(ctx, t, move{method: monban.TransferByBindingCode, from: []monban.TransferState{monban.TransferOffered},
		endDevice: t.OldDeviceID, meta: in.Meta})
}

// bindingFailure audits a wrong binding code (already counted by Redeem's
// claim) on the account it named, if any, and returns the answer key.
func (s *Service) bindingFailure(ctx context.Context, in Redeem, accountID, key string) error {
	now := s.clock.Now()
	if accountID != "" {
		ev := monban.AuditEvent{At: now, AccountID: accountID, Action: monban.AuditTransferBadCode, IP: in.Meta.IP,
			UserAgent: in.Meta.UserAgent, Detail: map[string]string{"why": key}}
		if err := s.store.AppendAudit(ctx, ev); err != nil {
			return err
		}
	}
	code := monban.EInvalid
	if key == "transfer.code_other_account" {
		code = monban.EForbidden
	}
	return monban.Errorf(code, key).WithField("code")
}
