package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/monban-dev/monban"
)

// AppendAudit appends ev to the audit log on its own.
func (db *DB) AppendAudit(ctx context.Context, ev monban.AuditEvent) error {
	return db.inTx(ctx, "append audit", func(tx *sql.Tx) error {
		return db.insertAudit(ctx, tx, ev)
	})
}

func (db *DB) insertAudit(ctx context.Context, tx *sql.Tx, ev monban.AuditEvent) error {
	return (&writer{db: db, tx: tx}).audit(ctx, ev)
}

// audit is insertAudit for a writer.
func (w *writer) audit(ctx context.Context, ev monban.AuditEvent) error {
	var detail sql.NullString
	if len(ev.Detail) > 0 {
		b, err := json.Marshal(ev.Detail)
		if err != nil {
			return err
		}
		detail = sql.NullString{String: string(b), Valid: true}
	}
	return w.exec(ctx, `INSERT INTO audit_events
		(at, account_id, agent_id, action, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		micros(ev.At), ev.AccountID, ev.AgentID, ev.Action, ev.IP, ev.UserAgent, detail)
}

// defaultAuditLimit applies when AuditByAccount is given a limit <= 0.
const defaultAuditLimit = 100

// AuditByAccount returns up to limit of the account's events, newest first.
func (db *DB) AuditByAccount(ctx context.Context, accountID string, limit int) ([]monban.AuditEvent, error) {
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, at, account_id, agent_id, action, ip, user_agent, detail
		FROM audit_events WHERE account_id = ? ORDER BY id DESC LIMIT ?`), accountID, limit)
	if err != nil {
		return nil, wrap("audit by account", err)
	}
	defer rows.Close()
	evs := []monban.AuditEvent{}
	for rows.Next() {
		var ev monban.AuditEvent
		var at int64
		var detail sql.NullString
		if err := rows.Scan(&ev.ID, &at, &ev.AccountID, &ev.AgentID, &ev.Action, &ev.IP, &ev.UserAgent, &detail); err != nil {
			return nil, wrap("audit by account", err)
		}
		ev.At = fromMicros(at)
		if detail.Valid && detail.String != "" {
			if err := json.Unmarshal([]byte(detail.String), &ev.Detail); err != nil {
				return nil, wrap("audit by account", err)
			}
		}
		evs = append(evs, ev)
	}
	return evs, wrap("audit by account", rows.Err())
}
