package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// sessionCheck reads a session with its account's status and identifiers:
// one row per identifier (an account has at least one).
const sessionCheck = `SELECT s.id, s.token_hash, s.account_id, s.device_id, s.kind, s.auth_level, s.methods,
	s.ip, s.user_agent, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at,
	a.status, i.kind, i.value, i.verified, i.created_at,
	EXISTS (SELECT 1 FROM locks l WHERE l.account_id = s.account_id AND l.lifted_at = 0)
	FROM sessions s
	JOIN accounts a ON a.id = s.account_id
	LEFT JOIN identifiers i ON i.account_id = s.account_id
	WHERE s.token_hash = ?
	ORDER BY i.created_at, i.kind, i.value`

// SessionCheck returns the session whose token hashes to hash (revoked and
// expired ones included), its account's status and the account's
// identifiers in the order they were added, or ENotFound. It is the host
// apps' session check, the hottest read: one prepared query instead of
// three round trips.
func (db *DB) SessionCheck(ctx context.Context, hash []byte) (*monban.SessionState, error) {
	if db.sessions == nil {
		return db.sessionCheck(ctx, hash)
	}
	// The count is taken before the read, so a commit during the read
	// leaves an entry that is already out of date.
	commits, now := db.commits.Load(), time.Now()
	if !db.watch.fresh(now) {
		return db.sessionCheck(ctx, hash) // the watcher is behind: nothing cached is trusted
	}
	if st, ok := db.sessions.get(hash, commits); ok {
		return st, nil
	}
	st, err := db.sessionCheck(ctx, hash)
	if err != nil {
		return nil, err
	}
	db.sessions.applySeen(st)
	db.sessions.put(hash, st, commits)
	return st, nil
}

func (db *DB) sessionCheck(ctx context.Context, hash []byte) (*monban.SessionState, error) {
	st, err := db.stmt(ctx, sessionCheck)
	if err != nil {
		return nil, wrap("session check", err)
	}
	rows, err := st.QueryContext(ctx, hash)
	if err != nil {
		return nil, wrap("session check", err)
	}
	defer rows.Close()
	var (
		s      *monban.Session
		status string
		locked bool
		ids    = make([]monban.Identifier, 0, 3)
	)
	for rows.Next() {
		var (
			cur      monban.Session
			kind     string
			methods  string
			times    [4]int64
			idKind   sql.NullString
			idValue  sql.NullString
			verified sql.NullBool
			idAt     sql.NullInt64
		)
		var lockedRow bool
		if err := rows.Scan(&cur.ID, &cur.TokenHash, &cur.AccountID, &cur.DeviceID, &kind, &cur.AuthLevel, &methods,
			&cur.IP, &cur.UserAgent, &times[0], &times[1], &times[2], &times[3],
			&status, &idKind, &idValue, &verified, &idAt, &lockedRow); err != nil {
			return nil, wrap("session check", err)
		}
		if s == nil {
			cur.Kind = monban.SessionKind(kind)
			if methods != "" {
				cur.Methods = strings.Fields(methods)
			}
			cur.CreatedAt, cur.LastSeenAt = fromMicros(times[0]), fromMicros(times[1])
			cur.ExpiresAt, cur.RevokedAt = fromMicros(times[2]), fromMicros(times[3])
			s = &cur
		}
		locked = locked || lockedRow
		if idKind.Valid {
			ids = append(ids, monban.Identifier{Kind: monban.IdentifierKind(idKind.String), Value: idValue.String,
				AccountID: s.AccountID, Verified: verified.Bool, CreatedAt: fromMicros(idAt.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("session check", err)
	}
	if s == nil {
		return nil, notFound()
	}
	return &monban.SessionState{Session: s, Status: monban.AccountStatus(status), Identifiers: ids, MaybeLocked: locked}, nil
}
