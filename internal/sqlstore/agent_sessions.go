package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/monban-dev/monban"
)

// AgentSession is a signed-in agent's console session: Level 1 after the
// password (it reaches only the authenticator step), 2 after the code.
type AgentSession struct {
	ID         string
	TokenHash  []byte
	AgentID    string
	Level      int
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time
}

// AgentByID returns the agent, disabled ones included, or ENotFound.
func (db *DB) AgentByID(ctx context.Context, id string) (*monban.Agent, error) {
	var a monban.Agent
	var role string
	var created, disabled int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, username, password_hash, role, created_at, disabled_at
		FROM agents WHERE id = ?`), id).Scan(&a.ID, &a.Username, &a.PasswordHash, &role, &created, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, wrap("agent by id", err)
	}
	a.Role = monban.AgentRole(role)
	a.CreatedAt, a.DisabledAt = fromMicros(created), fromMicros(disabled)
	return &a, nil
}

// AgentTOTP returns the agent's sealed authenticator secret (nil before
// enrolment) and the last accepted time step.
func (db *DB) AgentTOTP(ctx context.Context, agentID string) ([]byte, int64, error) {
	var secret []byte
	var step int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT totp_secret, totp_step FROM agents WHERE id = ?`), agentID).Scan(&secret, &step)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, notFound()
	}
	return secret, step, wrap("agent totp", err)
}

// SetAgentTOTP stores the agent's sealed authenticator secret, confirmed by
// a code of step, only if none was set before (EConflict
// "agent.totp_set"), and appends ev.
func (db *DB) SetAgentTOTP(ctx context.Context, agentID string, sealed []byte, step int64, ev monban.AuditEvent) error {
	return db.inTx(ctx, "set agent totp", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE agents SET totp_secret = ?, totp_step = ? WHERE id = ? AND totp_secret IS NULL`),
			sealed, step, agentID)
		if err := affectedOne(res, err); monban.IsNotFound(err) {
			return monban.Errorf(monban.EConflict, "agent.totp_set")
		} else if err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// ResetAgentTOTP removes the agent's authenticator, so that the next
// sign-in enrols a new one, ends the agent's console sessions (a session
// raised with the old key must not outlive it) and appends ev, in one
// transaction. An unknown agent is ENotFound.
func (db *DB) ResetAgentTOTP(ctx context.Context, agentID string, at time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "reset agent totp", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE agents SET totp_secret = NULL, totp_step = 0 WHERE id = ?`), agentID)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE agent_sessions SET revoked_at = ? WHERE agent_id = ? AND revoked_at = 0`),
			micros(at), agentID); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// UseAgentTOTPStep records step as the agent's last accepted code, only if
// it is later than the last one (a replay is EConflict "totp.replayed").
func (db *DB) UseAgentTOTPStep(ctx context.Context, agentID string, step int64) error {
	return db.inTx(ctx, "use agent totp", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE agents SET totp_step = ? WHERE id = ? AND totp_step < ?`), step, agentID, step)
		if err := affectedOne(res, err); monban.IsNotFound(err) {
			return monban.Errorf(monban.EConflict, "totp.replayed").WithField("code")
		} else if err != nil {
			return err
		}
		return nil
	})
}

// CreateAgentSession stores a console session and appends ev.
func (db *DB) CreateAgentSession(ctx context.Context, s *AgentSession, ev monban.AuditEvent) error {
	return db.inTx(ctx, "create agent session", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO agent_sessions
			(id, token_hash, agent_id, level, created_at, last_seen_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			s.ID, s.TokenHash, s.AgentID, s.Level, micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt),
			micros(s.RevokedAt)); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// AgentSessionByTokenHash returns a session (revoked and expired ones
// included) or ENotFound.
func (db *DB) AgentSessionByTokenHash(ctx context.Context, hash []byte) (*AgentSession, error) {
	var s AgentSession
	var created, seen, expires, revoked int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, token_hash, agent_id, level, created_at, last_seen_at, expires_at, revoked_at
		FROM agent_sessions WHERE token_hash = ?`), hash).
		Scan(&s.ID, &s.TokenHash, &s.AgentID, &s.Level, &created, &seen, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, wrap("agent session", err)
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.RevokedAt = fromMicros(created), fromMicros(seen), fromMicros(expires), fromMicros(revoked)
	return &s, nil
}

// TouchAgentSession records activity and sets the session's level and
// expiry, appending ev when it has an action.
func (db *DB) TouchAgentSession(ctx context.Context, id string, level int, at, expires time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "touch agent session", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE agent_sessions SET level = ?, last_seen_at = ?, expires_at = ?
			WHERE id = ? AND revoked_at = 0`), level, micros(at), micros(expires), id)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		if ev.Action == "" {
			return nil
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// RevokeAgentSession ends a console session.
func (db *DB) RevokeAgentSession(ctx context.Context, id string, at time.Time) error {
	return db.inTx(ctx, "revoke agent session", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE agent_sessions SET revoked_at = ? WHERE id = ? AND revoked_at = 0`), micros(at), id)
		return err
	})
}
