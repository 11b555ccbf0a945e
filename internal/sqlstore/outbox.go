package sqlstore

import (
	"context"
	"database/sql"

	"github.com/monban-dev/monban"
)

const messageColumns = `id, account_id, flow_id, channel, destination, template, lang, payload, status,
	attempts, next_attempt_at, lease_until, provider, provider_id, reason,
	created_at, sent_at, delivered_at, failed_at, expires_at, updated_at`

// insertMessage queues m inside tx, so a message exists exactly when the
// state change it announces does.
func (db *DB) insertMessage(ctx context.Context, tx *sql.Tx, m *monban.Message) error {
	if m.Status == "" {
		m.Status = monban.MessageQueued
	}
	_, err := db.txExec(ctx, tx, `INSERT INTO messages (`+messageColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.AccountID, m.FlowID, string(m.Channel), m.Destination, m.Template, m.Lang, m.Payload, string(m.Status),
		m.Attempts, micros(m.NextAttemptAt), micros(m.LeaseUntil), m.Provider, m.ProviderID, m.Reason,
		micros(m.CreatedAt), micros(m.SentAt), micros(m.DeliveredAt), micros(m.FailedAt), micros(m.ExpiresAt), micros(m.UpdatedAt))
	return err
}

// scanMessage reads one row selected with messageColumns.
func scanMessage(row interface{ Scan(...any) error }) (*monban.Message, error) {
	var m monban.Message
	var channel, status string
	var next, lease, created, sent, delivered, failed, expires, updated int64
	err := row.Scan(&m.ID, &m.AccountID, &m.FlowID, &channel, &m.Destination, &m.Template, &m.Lang, &m.Payload, &status,
		&m.Attempts, &next, &lease, &m.Provider, &m.ProviderID, &m.Reason,
		&created, &sent, &delivered, &failed, &expires, &updated)
	if err != nil {
		return nil, err
	}
	m.Channel, m.Status = monban.Channel(channel), monban.MessageStatus(status)
	m.NextAttemptAt, m.LeaseUntil = fromMicros(next), fromMicros(lease)
	m.CreatedAt, m.SentAt, m.DeliveredAt = fromMicros(created), fromMicros(sent), fromMicros(delivered)
	m.FailedAt, m.ExpiresAt, m.UpdatedAt = fromMicros(failed), fromMicros(expires), fromMicros(updated)
	return &m, nil
}

// EnqueueMessage queues a message that is not tied to another state change
// (e.g. a notice whose cause was already recorded).
func (db *DB) EnqueueMessage(ctx context.Context, m *monban.Message) error {
	return db.inTx(ctx, "enqueue message", func(tx *sql.Tx) error {
		return db.insertMessage(ctx, tx, m)
	})
}
