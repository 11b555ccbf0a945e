package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/monban-dev/monban"
)

// CreateAgent stores a support agent and appends ev in one transaction. A
// taken username is EConflict "agent.taken".
func (db *DB) CreateAgent(ctx context.Context, a *monban.Agent, ev monban.AuditEvent) error {
	return db.inTx(ctx, "create agent", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO agents
			(id, username, password_hash, role, created_at, disabled_at) VALUES (?, ?, ?, ?, ?, ?)`),
			a.ID, a.Username, a.PasswordHash, string(a.Role), micros(a.CreatedAt), micros(a.DisabledAt))
		if isUniqueViolation(err) {
			return monban.Errorf(monban.EConflict, "agent.taken").WithField("username").Wrap(err)
		}
		if err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// AgentByUsername returns the agent, disabled ones included, or ENotFound.
func (db *DB) AgentByUsername(ctx context.Context, username string) (*monban.Agent, error) {
	var a monban.Agent
	var role string
	var created, disabled int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, username, password_hash, role, created_at, disabled_at
		FROM agents WHERE username = ?`), username).
		Scan(&a.ID, &a.Username, &a.PasswordHash, &role, &created, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, wrap("agent by username", err)
	}
	a.Role = monban.AgentRole(role)
	a.CreatedAt, a.DisabledAt = fromMicros(created), fromMicros(disabled)
	return &a, nil
}
