package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

const sessionColumns = `id, token_hash, account_id, device_id, kind, auth_level, methods,
	ip, user_agent, created_at, last_seen_at, expires_at, revoked_at`

// CreateSession records a sign-in: it upserts the device (if any), inserts
// the session and appends evs, in one transaction (inWrites: on PostgreSQL
// one round trip).
func (db *DB) CreateSession(ctx context.Context, s *monban.Session, d *monban.Device, evs ...monban.AuditEvent) error {
	return db.inWrites(ctx, "create session", func(w *writer) error {
		if err := w.session(ctx, s, d); err != nil {
			return err
		}
		for _, ev := range evs {
			if err := w.audit(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// insertSession upserts the device (if any) and inserts the session, in tx.
func (db *DB) insertSession(ctx context.Context, tx *sql.Tx, s *monban.Session, d *monban.Device) error {
	return (&writer{db: db, tx: tx}).session(ctx, s, d)
}

// session is insertSession for a writer.
func (w *writer) session(ctx context.Context, s *monban.Session, d *monban.Device) error {
	if d != nil {
		if err := w.device(ctx, s.AccountID, d); err != nil {
			return err
		}
	}
	return w.exec(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.TokenHash, s.AccountID, s.DeviceID, string(s.Kind), s.AuthLevel, strings.Join(s.Methods, " "),
		s.IP, s.UserAgent, micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt), micros(s.RevokedAt))
}

// device inserts d or refreshes the stored device: it keeps CreatedAt
// and Kind, takes the new LastSeenAt and (non-empty) Label, and never
// shortens TrustedUntil.
func (w *writer) device(ctx context.Context, accountID string, d *monban.Device) error {
	if d.AccountID != "" {
		accountID = d.AccountID
	}
	return w.exec(ctx, `INSERT INTO devices
		(account_id, id, kind, label, created_at, last_seen_at, trusted_until)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, id) DO UPDATE SET
			last_seen_at = excluded.last_seen_at,
			label = CASE WHEN excluded.label <> '' THEN excluded.label ELSE devices.label END,
			trusted_until = CASE WHEN excluded.trusted_until > devices.trusted_until
				THEN excluded.trusted_until ELSE devices.trusted_until END`,
		accountID, d.ID, string(d.Kind), d.Label, micros(d.CreatedAt), micros(d.LastSeenAt), micros(d.TrustedUntil))
}

const sessionByTokenHash = `SELECT ` + sessionColumns + ` FROM sessions WHERE token_hash = ?`

// SessionByTokenHash returns the session whose token hashes to hash, revoked
// and expired ones included, or ENotFound. It runs on every authenticated
// request: one indexed lookup through a prepared statement, no transaction.
func (db *DB) SessionByTokenHash(ctx context.Context, hash []byte) (*monban.Session, error) {
	st, err := db.stmt(ctx, sessionByTokenHash)
	if err != nil {
		return nil, wrap("session by token", err)
	}
	s, err := scanSession(st.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, wrap("session by token", err)
	}
	return &s, nil
}

func scanSession(sc scanner) (monban.Session, error) {
	var s monban.Session
	var kind, methods string
	var created, seen, expires, revoked int64
	err := sc.Scan(&s.ID, &s.TokenHash, &s.AccountID, &s.DeviceID, &kind, &s.AuthLevel, &methods,
		&s.IP, &s.UserAgent, &created, &seen, &expires, &revoked)
	s.Kind = monban.SessionKind(kind)
	if methods != "" {
		s.Methods = strings.Fields(methods)
	}
	s.CreatedAt, s.LastSeenAt = fromMicros(created), fromMicros(seen)
	s.ExpiresAt, s.RevokedAt = fromMicros(expires), fromMicros(revoked)
	return s, err
}

// TouchSession records that the session was used at at.
//
// On SQLite the write does not empty the session cache, which every other
// commit does: each active session is touched once a minute, and with many
// sessions the cache would hardly ever hold. The write connection is held
// for the one statement while its commit goes uncounted, and the cache
// applies the new time itself.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	const touch = `UPDATE sessions SET last_seen_at = ? WHERE id = ?`
	if db.sessions == nil {
		res, err := db.w.ExecContext(ctx, db.q(touch), micros(at), id)
		return wrap("touch session", affectedOne(res, err))
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return wrap("touch session", err)
	}
	defer conn.Close()
	db.quiet.Store(true)
	res, err := conn.ExecContext(ctx, db.q(touch), micros(at), id)
	db.quiet.Store(false)
	if err = affectedOne(res, err); err != nil {
		return wrap("touch session", err)
	}
	db.sessions.touched(id, at)
	return nil
}

// SessionsByAccount returns the account's sessions that are neither revoked
// nor past their absolute expiry at now, newest first.
func (db *DB) SessionsByAccount(ctx context.Context, accountID string, now time.Time) ([]monban.Session, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+sessionColumns+` FROM sessions
		WHERE account_id = ? AND revoked_at = 0 AND expires_at > ?
		ORDER BY created_at DESC, id DESC`), accountID, micros(now))
	if err != nil {
		return nil, wrap("sessions by account", err)
	}
	defer rows.Close()
	ss := []monban.Session{}
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, wrap("sessions by account", err)
		}
		ss = append(ss, s)
	}
	return ss, wrap("sessions by account", rows.Err())
}

// RevokeSession revokes one of the account's sessions and appends ev. A
// session of another account, or one already revoked, is ENotFound.
func (db *DB) RevokeSession(ctx context.Context, accountID, sessionID string, at time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "revoke session", func(tx *sql.Tx) error {
		res, err := db.txExec(ctx, tx, `UPDATE sessions SET revoked_at = ?
			WHERE id = ? AND account_id = ? AND revoked_at = 0`, micros(at), sessionID, accountID)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// RevokeOtherSessions revokes every live session of the account except
// keepSessionID ("sign out everywhere else"), appends ev, and returns how
// many sessions it revoked.
func (db *DB) RevokeOtherSessions(ctx context.Context, accountID, keepSessionID string, at time.Time, ev monban.AuditEvent) (int, error) {
	var n int64
	err := db.inTx(ctx, "revoke other sessions", func(tx *sql.Tx) error {
		res, err := db.txExec(ctx, tx, `UPDATE sessions SET revoked_at = ?
			WHERE account_id = ? AND id <> ? AND revoked_at = 0 AND expires_at > ?`,
			micros(at), accountID, keepSessionID, micros(at))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

const deviceColumns = `account_id, id, kind, label, created_at, last_seen_at, trusted_until`

// DevicesByAccount returns the account's devices, most recently seen first.
func (db *DB) DevicesByAccount(ctx context.Context, accountID string) ([]monban.Device, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+deviceColumns+` FROM devices
		WHERE account_id = ? ORDER BY last_seen_at DESC, id`), accountID)
	if err != nil {
		return nil, wrap("devices by account", err)
	}
	defer rows.Close()
	ds := []monban.Device{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, wrap("devices by account", err)
		}
		ds = append(ds, d)
	}
	return ds, wrap("devices by account", rows.Err())
}

// DeviceByID returns one of the account's devices, or ENotFound.
func (db *DB) DeviceByID(ctx context.Context, accountID, deviceID string) (*monban.Device, error) {
	d, err := scanDevice(db.r.QueryRowContext(ctx, db.q(`SELECT `+deviceColumns+` FROM devices
		WHERE account_id = ? AND id = ?`), accountID, deviceID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, wrap("device by id", err)
	}
	return &d, nil
}

func scanDevice(sc scanner) (monban.Device, error) {
	var d monban.Device
	var kind string
	var created, seen, trusted int64
	err := sc.Scan(&d.AccountID, &d.ID, &kind, &d.Label, &created, &seen, &trusted)
	d.Kind = monban.SessionKind(kind)
	d.CreatedAt, d.LastSeenAt, d.TrustedUntil = fromMicros(created), fromMicros(seen), fromMicros(trusted)
	return d, err
}
