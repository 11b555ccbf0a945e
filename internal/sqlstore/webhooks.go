package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// Webhooks: an event is written in the transaction of what it announces,
// with one delivery row per subscription that wants its type; workers
// claim due deliveries under a lease as they do outbox messages.

// CreateWebhookSubscription stores s (its Secret already sealed).
func (db *DB) CreateWebhookSubscription(ctx context.Context, s *monban.WebhookSubscription) error {
	return db.inTx(ctx, "create webhook subscription", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO webhook_subscriptions
			(id, api_key_id, url, secret, types, created_at, disabled_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			s.ID, s.APIKeyID, s.URL, s.Secret, " "+strings.Join(s.Types, " ")+" ", micros(s.CreatedAt), micros(s.DisabledAt))
		return err
	})
}

// WebhookSubscriptions returns an API key's subscriptions (all keys' when
// apiKeyID is ""), oldest first, secrets sealed.
func (db *DB) WebhookSubscriptions(ctx context.Context, apiKeyID string) ([]monban.WebhookSubscription, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, api_key_id, url, secret, types, created_at, disabled_at
		FROM webhook_subscriptions WHERE api_key_id = ? OR ? = '' ORDER BY created_at, id`), apiKeyID, apiKeyID)
	if err != nil {
		return nil, wrap("webhook subscriptions", err)
	}
	defer rows.Close()
	out := []monban.WebhookSubscription{}
	for rows.Next() {
		var s monban.WebhookSubscription
		var types string
		var created, disabled int64
		if err := rows.Scan(&s.ID, &s.APIKeyID, &s.URL, &s.Secret, &types, &created, &disabled); err != nil {
			return nil, wrap("webhook subscriptions", err)
		}
		s.Types, s.CreatedAt, s.DisabledAt = strings.Fields(types), fromMicros(created), fromMicros(disabled)
		out = append(out, s)
	}
	return out, wrap("webhook subscriptions", rows.Err())
}

// DisableWebhookSubscription stops new deliveries to a subscription of the
// key; an unknown one (or another key's) is ENotFound.
func (db *DB) DisableWebhookSubscription(ctx context.Context, apiKeyID, id string, at time.Time) error {
	return db.inTx(ctx, "disable webhook subscription", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE webhook_subscriptions SET disabled_at = ?
			WHERE id = ? AND (api_key_id = ? OR ? = '') AND disabled_at = 0`), micros(at), id, apiKeyID, apiKeyID)
		return affectedOne(res, err)
	})
}

// webhookBody is the JSON every delivery of an event sends.
type webhookBody struct {
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	AccountID string            `json:"account_id,omitempty"`
	CreatedAt string            `json:"created_at"`
	Data      map[string]string `json:"data"`
}

// insertWebhookEvent records ev inside tx and queues a delivery for every
// enabled subscription to its type. Store methods whose change is an event
// (a lock, a transfer…) call it with their own tx.
func (db *DB) insertWebhookEvent(ctx context.Context, tx *sql.Tx, ev *monban.WebhookEvent) error {
	data := ev.Data
	if data == nil {
		data = map[string]string{}
	}
	body, err := json.Marshal(webhookBody{ID: ev.ID, Type: ev.Type, AccountID: ev.AccountID,
		CreatedAt: ev.CreatedAt.UTC().Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO webhook_events (id, type, account_id, body, created_at)
		VALUES (?, ?, ?, ?, ?)`), ev.ID, ev.Type, ev.AccountID, string(body), micros(ev.CreatedAt))
	if err != nil {
		return err
	}
	n := micros(ev.CreatedAt)
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO webhook_deliveries
			(id, event_id, subscription_id, status, next_attempt_at, created_at)
		SELECT ? || '.' || id, ?, id, 'queued', ?, ?
		FROM webhook_subscriptions WHERE disabled_at = 0 AND types LIKE ?`),
		ev.ID, ev.ID, n, n, "% "+ev.Type+" %")
	return err
}

// EmitWebhookEvent records an event whose cause is already stored.
func (db *DB) EmitWebhookEvent(ctx context.Context, ev *monban.WebhookEvent) error {
	return db.inTx(ctx, "emit webhook event", func(tx *sql.Tx) error {
		return db.insertWebhookEvent(ctx, tx, ev)
	})
}

const deliveryColumns = `d.id, d.event_id, d.subscription_id, d.status, d.attempts, d.next_attempt_at, d.lease_until,
	d.last_error, d.created_at, d.delivered_at, d.failed_at, e.type, e.body, s.url, s.secret`

const deliveryFrom = ` FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
	JOIN webhook_subscriptions s ON s.id = d.subscription_id`

func scanDelivery(sc scanner) (monban.WebhookDelivery, error) {
	var d monban.WebhookDelivery
	var next, lease, created, delivered, failed int64
	var body string
	err := sc.Scan(&d.ID, &d.EventID, &d.SubscriptionID, &d.Status, &d.Attempts, &next, &lease, &d.LastError,
		&created, &delivered, &failed, &d.EventType, &body, &d.URL, &d.Secret)
	d.NextAttemptAt, d.LeaseUntil, d.CreatedAt = fromMicros(next), fromMicros(lease), fromMicros(created)
	d.DeliveredAt, d.FailedAt, d.Body = fromMicros(delivered), fromMicros(failed), []byte(body)
	return d, err
}

// ClaimWebhookDeliveries takes up to limit due deliveries (queued and due,
// or left sending by a worker whose lease lapsed) for one attempt each. On
// PostgreSQL concurrent claimers skip each other's rows.
func (db *DB) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]monban.WebhookDelivery, error) {
	if due, err := db.anyDue(ctx, `SELECT 1 FROM webhook_deliveries WHERE status = 'queued' AND next_attempt_at <= ?
		UNION ALL SELECT 1 FROM webhook_deliveries WHERE status = 'sending' AND lease_until < ? LIMIT 1`, now); err != nil || !due {
		return nil, err
	}
	var out []monban.WebhookDelivery
	err := db.inTx(ctx, "claim webhook deliveries", func(tx *sql.Tx) error {
		n := micros(now)
		rows, err := tx.QueryContext(ctx, db.q(`SELECT id FROM webhook_deliveries
			WHERE (status = 'queued' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until < ?)
			ORDER BY next_attempt_at LIMIT ?`+db.d.skipLocked), n, n, limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE webhook_deliveries
				SET status = 'sending', attempts = attempts + 1, lease_until = ? WHERE id = ?`),
				micros(now.Add(lease)), id); err != nil {
				return err
			}
			d, err := scanDelivery(tx.QueryRowContext(ctx, db.q(`SELECT `+deliveryColumns+deliveryFrom+` WHERE d.id = ?`), id))
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// MarkWebhookDelivered records a 2xx answer to the claimed delivery id.
func (db *DB) MarkWebhookDelivered(ctx context.Context, id string, now time.Time) (bool, error) {
	return db.execOne(ctx, "mark webhook delivered", `UPDATE webhook_deliveries
		SET status = 'delivered', delivered_at = ?, lease_until = 0, last_error = '' WHERE id = ? AND status = 'sending'`,
		micros(now), id)
}

// MarkWebhookRetry queues the claimed delivery id again at next.
func (db *DB) MarkWebhookRetry(ctx context.Context, id string, next time.Time, reason string) (bool, error) {
	return db.execOne(ctx, "mark webhook retry", `UPDATE webhook_deliveries
		SET status = 'queued', next_attempt_at = ?, lease_until = 0, last_error = ? WHERE id = ? AND status = 'sending'`,
		micros(next), reason, id)
}

// MarkWebhookFailed records that the retries ran out.
func (db *DB) MarkWebhookFailed(ctx context.Context, id, reason string, now time.Time) (bool, error) {
	return db.execOne(ctx, "mark webhook failed", `UPDATE webhook_deliveries
		SET status = 'failed', failed_at = ?, lease_until = 0, last_error = ? WHERE id = ? AND status = 'sending'`,
		micros(now), reason, id)
}

// WebhookDeliveries lists an API key's deliveries in status (all when ""),
// newest first. Bodies are included; secrets are not.
func (db *DB) WebhookDeliveries(ctx context.Context, apiKeyID, status string, limit int) ([]monban.WebhookDelivery, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+deliveryColumns+deliveryFrom+`
		WHERE (s.api_key_id = ? OR ? = '') AND (d.status = ? OR ? = '')
		ORDER BY d.created_at DESC, d.id DESC LIMIT ?`), apiKeyID, apiKeyID, status, status, limit)
	if err != nil {
		return nil, wrap("webhook deliveries", err)
	}
	defer rows.Close()
	out := []monban.WebhookDelivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, wrap("webhook deliveries", err)
		}
		d.Secret = nil
		out = append(out, d)
	}
	return out, wrap("webhook deliveries", rows.Err())
}

// RedeliverWebhook queues a failed delivery of the key's again, attempts
// reset; the event id stays, so a receiver that got it after all drops the
// repeat. Anything but a failed delivery of the key is ENotFound.
func (db *DB) RedeliverWebhook(ctx context.Context, apiKeyID, id string, now time.Time) error {
	return db.inTx(ctx, "redeliver webhook", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE webhook_deliveries SET status = 'queued', attempts = 0,
				next_attempt_at = ?, failed_at = 0
			WHERE id = ? AND status = 'failed' AND subscription_id IN
				(SELECT id FROM webhook_subscriptions WHERE api_key_id = ? OR ? = '')`),
			micros(now), id, apiKeyID, apiKeyID)
		return affectedOne(res, err)
	})
}
