package account

import (
	"context"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// Current is an authenticated request's account and session.
type Current struct {
	Account *monban.Account
	Session *monban.Session
	Lock    *monban.Lock // in force; set only under AllowLocked (the ways out)
}

func errSessionInvalid() error {
	return monban.Errorf(monban.EUnauthorized, "session.invalid")
}

// Authenticate checks a session token. Expired, idle, revoked and unknown
// tokens all answer session.invalid.
func (s *Service) Authenticate(ctx context.Context, token string) (*Current, error) {
	if !wellFormedToken(token) {
		return nil, errSessionInvalid()
	}
	// The same (on SQLite, cached) read as the host apps' check: session,
	// account status and whether a lock may be in force, in one query.
	st, err := s.store.SessionCheck(ctx, HashToken(token))
	if monban.IsNotFound(err) {
		return nil, errSessionInvalid()
	}
	if err != nil {
		return nil, err
	}
	sess := st.Session
	if !sess.Active(s.clock.Now(), s.cfg.IdleTimeout) || st.Status != monban.AccountActive {
		return nil, errSessionInvalid()
	}
	a, err := s.store.AccountByID(ctx, sess.AccountID)
	if monban.IsNotFound(err) {
		return nil, errSessionInvalid()
	}
	if err != nil {
		return nil, err
	}
	if err := s.admit(ctx, sess, a.Status); err != nil {
		return nil, err
	}
	cur := &Current{Account: a, Session: sess}
	if st.MaybeLocked {
		if err := s.checkLock(ctx, cur); err != nil {
			return nil, err
		}
	}
	return cur, nil
}

func wellFormedToken(token string) bool {
	return strings.HasPrefix(token, TokenPrefix) && len(token) <= 128
}

// admit accepts an active session of an active account and records its use
// at most every TouchEvery.
func (s *Service) admit(ctx context.Context, sess *monban.Session, status monban.AccountStatus) error {
	now := s.clock.Now()
	if !sess.Active(now, s.cfg.IdleTimeout) || status != monban.AccountActive {
		return errSessionInvalid()
	}
	if now.Sub(sess.LastSeenAt) >= s.cfg.TouchEvery {
		if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
			return err
		}
		sess.LastSeenAt = now
	}
	return nil
}

// IdleExpiry is when the session ends if unused.
func (s *Service) IdleExpiry(sess *monban.Session) time.Time {
	t := sess.LastSeenAt.Add(s.cfg.IdleTimeout)
	if sess.ExpiresAt.Before(t) {
		return sess.ExpiresAt
	}
	return t
}

// WhoAmI is what a host app learns about a session token.
type WhoAmI struct {
	AccountID   string
	Identifiers []monban.Identifier
	AuthLevel   int
	Methods     []string
	SessionID   string
	DeviceID    string
	ExpiresAt   time.Time    // the earlier of the idle and absolute expiry
	Lock        *monban.Lock // the lock in force, if any: the host app shows it
}

// WhoAmI checks a session token for a host app. It is the hottest path, so
// the session, the account's status and its identifiers come in one read.
func (s *Service) WhoAmI(ctx context.Context, token string) (*WhoAmI, error) {
	if !wellFormedToken(token) {
		return nil, errSessionInvalid()
	}
	st, err := s.store.SessionCheck(ctx, HashToken(token))
	if monban.IsNotFound(err) {
		return nil, errSessionInvalid()
	}
	if err != nil {
		return nil, err
	}
	sess, ids := st.Session, st.Identifiers
	if err := s.admit(ctx, sess, st.Status); err != nil {
		return nil, err
	}
	var lock *monban.Lock
	if st.MaybeLocked {
		if lock, err = s.activeLock(ctx, sess.AccountID); err != nil {
			return nil, err
		}
	}
	return &WhoAmI{Lock: lock,
		AccountID: sess.AccountID, Identifiers: ids, AuthLevel: sess.AuthLevel,
		Methods: sess.Methods, SessionID: sess.ID, DeviceID: sess.DeviceID,
		ExpiresAt: s.IdleExpiry(sess),
	}, nil
}

// Overview is what the account page shows.
type Overview struct {
	Identifiers []monban.Identifier
	Sessions    []monban.Session
	Devices     []monban.Device
}

// Overview lists the account's identifiers, active sessions and devices.
func (s *Service) Overview(ctx context.Context, cur *Current) (*Overview, error) {
	ids, err := s.store.IdentifiersByAccount(ctx, cur.Account.ID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	all, err := s.store.SessionsByAccount(ctx, cur.Account.ID, now)
	if err != nil {
		return nil, err
	}
	var active []monban.Session
	for _, x := range all {
		if x.Active(now, s.cfg.IdleTimeout) {
			active = append(active, x)
		}
	}
	devs, err := s.store.DevicesByAccount(ctx, cur.Account.ID)
	if err != nil {
		return nil, err
	}
	return &Overview{Identifiers: ids, Sessions: active, Devices: devs}, nil
}

// RevokeSession ends one of the account's sessions (possibly the current one).
func (s *Service) RevokeSession(ctx context.Context, cur *Current, sessionID string, m Meta) error {
	now := s.clock.Now()
	ev := m.audit(monban.AuditSessionRevoked, cur.Account.ID, now)
	ev.Detail = map[string]string{"session_id": sessionID, "by_session_id": cur.Session.ID}
	return s.store.RevokeSession(ctx, cur.Account.ID, sessionID, now, ev)
}

// SignOut ends the current session.
func (s *Service) SignOut(ctx context.Context, cur *Current, m Meta) error {
	now := s.clock.Now()
	ev := m.audit(monban.AuditSignedOut, cur.Account.ID, now)
	ev.Detail = map[string]string{"session_id": cur.Session.ID}
	return s.store.RevokeSession(ctx, cur.Account.ID, cur.Session.ID, now, ev)
}

// RevokeDevice signs a device out of every session of the account and
// forgets it (and any trust it had).
func (s *Service) RevokeDevice(ctx context.Context, cur *Current, deviceID string, m Meta) error {
	now := s.clock.Now()
	ev := m.audit(monban.AuditDeviceRevoked, cur.Account.ID, now)
	ev.Detail = map[string]string{"device_id": deviceID, "by_session_id": cur.Session.ID}
	return s.store.RevokeDevice(ctx, cur.Account.ID, deviceID, now, ev)
}
