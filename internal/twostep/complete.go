package twostep

import (
	"context"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/factors"
)

// Finish is how the waiting device finishes a held sign-in.
type Finish struct {
	ID, Secret string
	Remember   bool // trust this device for Config.TrustDays
	Meta       account.Meta
	Lang       string // of a code message
}

// StartCode sends a code for the held sign-in to the account's verified
// email address or phone (way "email", "sms" or "voice") and returns the
// flow.
func (s *Service) StartCode(ctx context.Context, f Finish, way string) (*monban.Flow, error) {
	p, err := s.Open(ctx, f.ID, f.Secret)
	if err != nil {
		return nil, err
	}
	if err := usable(p, way); err != nil {
		return nil, err
	}
	if way != WaySMS && way != WayEmail && way != WayVoice {
		return nil, monban.Errorf(monban.EInvalid, "signin.way_unavailable").WithField("method")
	}
	ids, err := s.store.IdentifiersByAccount(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	in := codes.StartInput{AccountID: p.AccountID, Purpose: monban.PurposeNewDevice, Lang: f.Lang, IP: f.Meta.IP}
	if p.Reason == monban.HoldTwoStep {
		in.Purpose = monban.PurposeSignIn
	}
	for _, id := range ids {
		if !id.Verified {
			continue
		}
		if way == WayEmail && id.Kind == monban.KindEmail {
			in.Channel, in.Destination = monban.ChannelEmail, id.Value
		}
		if way == WaySMS && id.Kind == monban.KindPhone {
			in.Channel, in.Destination = monban.ChannelSMS, id.Value
		}
		if way == WayVoice && id.Kind == monban.KindPhone {
			in.Channel, in.Destination = monban.ChannelVoice, id.Value
		}
	}
	if in.Destination == "" {
		return nil, monban.Errorf(monban.EInvalid, "signin.way_unavailable").WithField("method")
	}
	if in.Lang == "" {
		in.Lang = "ja"
	}
	flow, err := s.codes.Start(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetPendingFlow(ctx, p.ID, flow.ID); err != nil {
		return nil, err
	}
	return flow, nil
}

// VerifyCode finishes the held sign-in with the code sent by StartCode.
func (s *Service) VerifyCode(ctx context.Context, f Finish, code string) (*account.SignedIn, error) {
	p, err := s.Open(ctx, f.ID, f.Secret)
	if err != nil {
		return nil, err
	}
	if err := usable(p, ""); err != nil {
		return nil, err
	}
	if p.FlowID == "" {
		return nil, monban.Errorf(monban.EInvalid, "signin.no_code_sent")
	}
	flow, err := s.codes.Verify(ctx, p.FlowID, p.AccountID, code)
	if err != nil {
		return nil, err
	}
	way := WaySMS
	switch flow.Channel {
	case monban.ChannelEmail:
		way = WayEmail
	case monban.ChannelVoice:
		way = WayVoice
	}
	return s.complete(ctx, p, f, way)
}

// VerifyTOTP finishes the held sign-in with a code from an authenticator app.
func (s *Service) VerifyTOTP(ctx context.Context, f Finish, code string) (*account.SignedIn, error) {
	p, err := s.Open(ctx, f.ID, f.Secret)
	if err != nil {
		return nil, err
	}
	if err := usable(p, WayTOTP); err != nil {
		return nil, err
	}
	if err := s.factors.VerifyTOTP(ctx, p.AccountID, code, from(p, f)); err != nil {
		return nil, err
	}
	return s.complete(ctx, p, f, WayTOTP)
}

// UseRecoveryCode finishes the held sign-in with a recovery code.
func (s *Service) UseRecoveryCode(ctx context.Context, f Finish, code string) (*account.SignedIn, error) {
	p, err := s.Open(ctx, f.ID, f.Secret)
	if err != nil {
		return nil, err
	}
	if err := usable(p, WayRecovery); err != nil {
		return nil, err
	}
	if err := s.factors.UseRecoveryCode(ctx, p.AccountID, code, from(p, f)); err != nil {
		return nil, err
	}
	return s.complete(ctx, p, f, WayRecovery)
}

// from is where a guess at the held sign-in comes from: the device that
// started it (the owner's known device keeps its own budget) and the IP of
// this request. The count is per account, so a new held sign-in does not
// start it again.
func from(p *Pending, f Finish) factors.From {
	return factors.From{DeviceID: p.DeviceID, IP: f.Meta.IP}
}

// PasskeyAccount returns the account whose passkey may finish the held
// sign-in, for starting the assertion.
func (s *Service) PasskeyAccount(ctx context.Context, f Finish) (string, error) {
	p, err := s.Open(ctx, f.ID, f.Secret)
	if err != nil {
		return "", err
	}
	if err := usable(p, WayPasskey); err != nil {
		return "", err
	}
	return p.AccountID, nil
}

// VerifyPasskey finishes the held sign-in with a passkey assertion.
func (s *Service) VerifyPasskey(ctx context.Context, f Finish, ceremonyID string, response []byte) (*account.SignedIn, error) {
	p, err := s.Open(ctx, f.ID, f.Secret)
	if err != nil {
		return nil, err
	}
	if err := usable(p, WayPasskey); err != nil {
		return nil, err
	}
	if err := s.factors.FinishPasskeyCheck(ctx, p.AccountID, ceremonyID, response); err != nil {
		return nil, err
	}
	return s.complete(ctx, p, f, WayPasskey)
}

// Poll reports the held sign-in's state to its waiting device and, once a
// trusted session approved it, finishes it: the result then has a session.
func (s *Service) Poll(ctx context.Context, f Finish) (*Pending, *account.SignedIn, error) {
	p, err := s.Open(ctx, f.ID, f.Secret)
	if err != nil {
		return nil, nil, err
	}
	if p.State != monban.PendingApproved {
		return p, nil, nil
	}
	si, err := s.complete(ctx, p, f, WayApproval)
	if err != nil {
		return nil, nil, err
	}
	p.State = monban.PendingCompleted
	return p, si, nil
}

// complete ends the held sign-in once and starts its two-factor session.
func (s *Service) complete(ctx context.Context, p *Pending, f Finish, way string) (*account.SignedIn, error) {
	now := s.clock.Now()
	if err := s.store.CompletePending(ctx, p.ID, now); err != nil {
		return nil, err
	}
	m := f.Meta
	m.DeviceID, m.Kind = p.DeviceID, p.Kind
	si, err := s.accounts.StartVerified(ctx, p.AccountID, monban.AuthTwoStep, []string{"pwd", wayMethod[way]}, m, monban.AuditSignedIn)
	if err != nil {
		return nil, err
	}
	if f.Remember {
		until := now.Add(time.Duration(s.cfg.TrustDays) * 24 * time.Hour)
		ev := monban.AuditEvent{At: now, AccountID: p.AccountID, Action: monban.AuditDeviceTrusted, IP: m.IP, UserAgent: m.UserAgent,
			Detail: map[string]string{"device_id": p.DeviceID, "until": until.UTC().Format(time.RFC3339)}}
		if err := s.store.SetDeviceTrust(ctx, p.AccountID, p.DeviceID, until, ev); err != nil {
			return nil, err
		}
	}
	if s.notify != nil {
		s.notify(ctx, p.AccountID, "signin.new_device", map[string]string{"device": account.DeviceLabel(p.UserAgent), "ip": p.IP})
	}
	return si, nil
}

// PasskeySignIn signs in with a passkey alone (passwordless): a
// discoverable credential that verified the user is two factors.
func (s *Service) PasskeySignIn(ctx context.Context, ceremonyID string, response []byte, m account.Meta) (*account.SignedIn, error) {
	accountID, err := s.factors.FinishPasskeySignIn(ctx, ceremonyID, response)
	if err != nil {
		return nil, err
	}
	return s.accounts.StartVerified(ctx, accountID, monban.AuthTwoStep, []string{"hwk", "user"}, m, monban.AuditSignedIn)
}
