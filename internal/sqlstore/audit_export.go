package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"

	"github.com/monban-dev/monban"
)

// ExportAudit calls fn with every audit event f selects, oldest first, as
// the rows arrive: an export of any size holds one event in memory at a
// time. An error from fn stops the export and is returned.
func (db *DB) ExportAudit(ctx context.Context, f monban.AuditFilter, fn func(monban.AuditEvent) error) error {
	until := int64(math.MaxInt64)
	if !f.Until.IsZero() {
		until = micros(f.Until)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, at, account_id, agent_id, action, ip, user_agent, detail
		FROM audit_events WHERE at >= ? AND at < ? AND (account_id = ? OR ? = '') AND (agent_id = ? OR ? = '')
		ORDER BY at, id`), micros(f.Since), until, f.AccountID, f.AccountID, f.AgentID, f.AgentID)
	if err != nil {
		return wrap("export audit", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ev monban.AuditEvent
		var at int64
		var detail sql.NullString
		if err := rows.Scan(&ev.ID, &at, &ev.AccountID, &ev.AgentID, &ev.Action, &ev.IP, &ev.UserAgent, &detail); err != nil {
			return wrap("export audit", err)
		}
		ev.At = fromMicros(at)
		if detail.Valid && detail.String != "" {
			if err := json.Unmarshal([]byte(detail.String), &ev.Detail); err != nil {
				return wrap("export audit", err)
			}
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return wrap("export audit", rows.Err())
}
