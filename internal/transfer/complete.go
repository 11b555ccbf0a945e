package transfer

import (
	"context"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/notices"
)

// move says how a transfer completes.
type move struct {
	method    string
	from      []monban.TransferState
	pendingID string // an approval: completed with the move
	keep      string // a session that stays (the one that approved)
	grant     bool   // spend the account's transfer-code grant
	endDevice string // end only this device's sessions (binding code)
	meta      account.Meta
}

// complete moves the account to the new device in one store transaction.
func (s *Service) complete(ctx context.Context, t *monban.Transfer, mv move) (*Done, error) {
	acc, err := s.store.AccountByID(ctx, t.AccountID)
	if err != nil {
		return nil, err
	}
	if acc.Status != monban.AccountActive {
		return nil, monban.Errorf(monban.EConflict, "transfer.over")
	}
	m := mv.meta
	if t.Kind == monban.TransferLost {
		// The device that proved the password is the one that moves in.
		m.DeviceID, m.Kind = t.NewDeviceID, t.NewKind
	}
	methods := []string{mv.method}
	if t.Kind == monban.TransferLost {
		methods = []string{"pwd", mv.method}
	}
	si, dev, err := s.accounts.NewSession(acc, monban.AuthTwoStep, methods, m)
	if err != nil {
		return nil, err
	}
	now := si.Session.CreatedAt
	detail := map[string]string{"transfer_id": t.ID, "kind": string(t.Kind), "method": mv.method,
		"device_id": si.DeviceID, "session_id": si.Session.ID}
	c := monban.TransferCompletion{TransferID: t.ID, Now: now, Method: mv.method, From: mv.from,
		PendingID: mv.pendingID, Session: si.Session, Device: dev, EndDeviceID: mv.endDevice, KeepSessionID: mv.keep,
		Audit: monban.AuditEvent{At: now, AccountID: t.AccountID, Action: monban.AuditTransferCompleted, IP: m.IP,
			UserAgent: m.UserAgent, Detail: detail},
		Webhook: &monban.WebhookEvent{ID: monban.NewID("evt"), Type: monban.EventAccountTransferred, AccountID: t.AccountID,
			CreatedAt: now, Data: map[string]string{"transfer_id": t.ID, "kind": string(t.Kind), "method": mv.method,
				"device_id": si.DeviceID, "device": dev.Label, "device_kind": string(dev.Kind), "session_id": si.Session.ID,
				"completed_at": now.UTC().Format(time.RFC3339)}},
	}
	if mv.grant {
		c.GrantStep = monban.GrantTransferCode
		c.GrantAudit = monban.AuditEvent{At: now, AccountID: t.AccountID, Action: monban.AuditGrantUsed, IP: m.IP,
			UserAgent: m.UserAgent, Detail: map[string]string{"transfer_id": t.ID}}
	}
	if s.notices != nil {
		c.Notice, c.Msgs, err = s.notices.Compose(ctx, t.AccountID, monban.TopicAccountTransferred,
			map[string]string{"device": dev.Label}, notices.Options{})
		if err != nil {
			return nil, err
		}
	}
	done, ended, err := s.store.CompleteTransfer(ctx, c)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "account transferred", "account", t.AccountID, "transfer", t.ID, "method", mv.method,
		"device", si.DeviceID, "ended_devices", len(ended))
	return &Done{Transfer: done, SignedIn: si, Ended: ended}, nil
}
