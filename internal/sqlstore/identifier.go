package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/monban-dev/monban"
)

// ReplaceUnverifiedIdentifier swaps an identifier that was never verified for
// a corrected value (e.g. a phone number typed 090 for 080), with its audit
// event, in one transaction. A verified identifier is not changed here:
// changing one is a contact change with its own protections.
func (db *DB) ReplaceUnverifiedIdentifier(ctx context.Context, accountID string, kind monban.IdentifierKind, oldValue, newValue string, ev monban.AuditEvent) error {
	return db.inTx(ctx, "replace identifier", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM identifiers
			WHERE account_id = ? AND kind = ? AND value = ? AND verified = FALSE`),
			accountID, string(kind), oldValue)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		id := monban.Identifier{AccountID: accountID, Kind: kind, Value: newValue, CreatedAt: ev.At}
		if err := db.insertIdentifier(ctx, tx, id); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// RevokeDevice ends every active session of one of the account's devices and
// deletes the device record, with its audit event, in one transaction.
func (db *DB) RevokeDevice(ctx context.Context, accountID, deviceID string, at time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "revoke device", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM devices WHERE account_id = ? AND id = ?`), accountID, deviceID)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE sessions SET revoked_at = ?
			WHERE account_id = ? AND device_id = ? AND revoked_at = 0`), micros(at), accountID, deviceID); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}
