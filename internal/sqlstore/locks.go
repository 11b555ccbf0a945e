package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// Locks. A lock, its notice (with the outbox messages that carry it) and
// its audit entry are written in one transaction; so is a lift. At most one
// lock per account is in force (the partial unique index locks_active).

const lockColumns = `id, account_id, kind, category, rule_id, rule_version, evidence, ways_out,
	created_at, expires_at, lifted_at, lifted_by, lifted_how`

func scanLock(sc scanner) (*monban.Lock, error) {
	var l monban.Lock
	var kind, ways string
	var created, expires, lifted int64
	if err := sc.Scan(&l.ID, &l.AccountID, &kind, &l.Category, &l.RuleID, &l.RuleVersion, &l.Evidence, &ways,
		&created, &expires, &lifted, &l.LiftedBy, &l.LiftedHow); err != nil {
		return nil, err
	}
	l.Kind = monban.LockKind(kind)
	for w := range strings.SplitSeq(ways, ",") {
		if w != "" {
			l.WaysOut = append(l.WaysOut, monban.WayOut(w))
		}
	}
	l.CreatedAt, l.ExpiresAt, l.LiftedAt = fromMicros(created), fromMicros(expires), fromMicros(lifted)
	return &l, nil
}

func joinWays(ws []monban.WayOut) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = string(w)
	}
	return strings.Join(s, ",")
}

// ErrLockExists is the refusal of a second lock for an account already
// locked.
func errLockExists() error { return monban.Errorf(monban.EConflict, "lock.exists") }

// errBreakerOpen refuses a lock from a rule version whose breaker tripped.
func errBreakerOpen() error { return monban.Errorf(monban.EConflict, "lock.breaker_open") }

// CreateLock stores l with its notice, messages, audit entry and webhook
// event (hook, may be nil). An
// account already under a lock in force is EConflict "lock.exists"; a
// rule version whose breaker has tripped is EConflict "lock.breaker_open"
// (checked here so that no node locks after any node tripped it). Locks
// whose time ran out are marked lifted first.
func (db *DB) CreateLock(ctx context.Context, l *monban.Lock, n *monban.Notice, msgs []*monban.Message, ev monban.AuditEvent, hook *monban.WebhookEvent) error {
	return db.inTx(ctx, "create lock", func(tx *sql.Tx) error {
		if err := db.d.lockKey(ctx, tx, "lock:"+l.AccountID); err != nil {
			return err
		}
		if l.RuleID != "" {
			var tripped int
			if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM risk_breakers WHERE rule_id = ? AND rule_version = ?`),
				l.RuleID, l.RuleVersion).Scan(&tripped); err != nil {
				return err
			}
			if tripped > 0 {
				return errBreakerOpen()
			}
		}
		now := micros(l.CreatedAt)
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE locks SET lifted_at = expires_at, lifted_by = 'system', lifted_how = 'expired'
			WHERE account_id = ? AND lifted_at = 0 AND expires_at <> 0 AND expires_at <= ?`), l.AccountID, now); err != nil {
			return err
		}
		var held int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM locks WHERE account_id = ? AND lifted_at = 0`),
			l.AccountID).Scan(&held); err != nil {
			return err
		}
		if held > 0 {
			return errLockExists()
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO locks (`+lockColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', '')`),
			l.ID, l.AccountID, string(l.Kind), l.Category, l.RuleID, l.RuleVersion, l.Evidence, joinWays(l.WaysOut),
			now, micros(l.ExpiresAt)); err != nil {
			if isUniqueViolation(err) {
				return errLockExists()
			}
			return err
		}
		if n != nil {
			if err := db.insertNotice(ctx, tx, n, msgs); err != nil {
				return err
			}
		}
		if hook != nil {
			if err := db.insertWebhookEvent(ctx, tx, hook); err != nil {
				return err
			}
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// ActiveLock returns the account's lock in force at now, or ENotFound. A
// lock whose time ran out is not in force (it is marked lifted when the
// next lock is made).
func (db *DB) ActiveLock(ctx context.Context, accountID string, now time.Time) (*monban.Lock, error) {
	s, err := db.stmt(ctx, `SELECT `+lockColumns+` FROM locks WHERE account_id = ? AND lifted_at = 0`)
	if err != nil {
		return nil, wrap("active lock", err)
	}
	l, err := scanLock(s.QueryRowContext(ctx, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, wrap("active lock", err)
	}
	if !l.Active(now) {
		return nil, notFound()
	}
	return l, nil
}

// LockByID returns a lock, lifted or not.
func (db *DB) LockByID(ctx context.Context, id string) (*monban.Lock, error) {
	l, err := scanLock(db.r.QueryRowContext(ctx, db.q(`SELECT `+lockColumns+` FROM locks WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return l, wrap("lock by id", err)
}

// LocksByAccount returns the account's locks, newest first.
func (db *DB) LocksByAccount(ctx context.Context, accountID string) ([]monban.Lock, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+lockColumns+` FROM locks WHERE account_id = ? ORDER BY created_at DESC, id`), accountID)
	if err != nil {
		return nil, wrap("locks by account", err)
	}
	defer rows.Close()
	var out []monban.Lock
	for rows.Next() {
		l, err := scanLock(rows)
		if err != nil {
			return nil, wrap("locks by account", err)
		}
		out = append(out, *l)
	}
	return out, wrap("locks by account", rows.Err())
}

// LiftLocks lifts each lock still in force, with its notice, messages,
// audit entry and webhook event, in one transaction, and returns the ids it lifted. A lock
// already lifted (by an earlier, interrupted run or by its person) is
// skipped with its notice: re-running is safe.
func (db *DB) LiftLocks(ctx context.Context, lifts []monban.LockLift) ([]string, error) {
	var lifted []string
	err := db.inTx(ctx, "lift locks", func(tx *sql.Tx) error {
		if db.d.name == dialectPostgres {
			var err error
			lifted, err = db.liftLocksPG(ctx, tx, lifts)
			return err
		}
		lifted = lifted[:0]
		for i := 0; i < len(lifts); i += rowsPerInsert {
			part := lifts[i:min(i+rowsPerInsert, len(lifts))]
			ids, err := db.liftPart(ctx, tx, part)
			if err != nil {
				return err
			}
			lifted = append(lifted, ids...)
		}
		return nil
	})
	return lifted, err
}

func (db *DB) liftPart(ctx context.Context, tx *sql.Tx, part []monban.LockLift) ([]string, error) {
	// One UPDATE for the part; its RETURNING says which were still in force.
	// Every lift of a part shares At, By and How (a rollback batch).
	args := []any{micros(part[0].At), part[0].By, part[0].How}
	for _, l := range part {
		args = append(args, l.LockID)
	}
	rows, err := tx.QueryContext(ctx, db.q(`UPDATE locks SET lifted_at = ?, lifted_by = ?, lifted_how = ?
		WHERE lifted_at = 0 AND id IN (`+placeholders(len(part))+`) RETURNING id`), args...)
	if err != nil {
		return nil, err
	}
	done := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		done[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var ids []string
	var notices []*monban.Notice
	var msgs []*monban.Message
	noticeOf := map[string]string{} // message id → notice id
	var evs []monban.AuditEvent
	var hooks []*monban.WebhookEvent
	for _, l := range part {
		if !done[l.LockID] {
			continue
		}
		ids = append(ids, l.LockID)
		if l.Notice != nil {
			notices = append(notices, l.Notice)
			for _, m := range l.Messages {
				if m.AccountID == "" {
					m.AccountID = l.AccountID
				}
				msgs = append(msgs, m)
				noticeOf[m.ID] = l.Notice.ID
			}
		}
		evs = append(evs, l.Audit)
		if l.Event != nil {
			hooks = append(hooks, l.Event)
		}
	}
	if err := db.insertNoticesBulk(ctx, tx, notices, msgs, noticeOf); err != nil {
		return nil, err
	}
	if err := db.insertWebhookEventsBulk(ctx, tx, hooks); err != nil {
		return nil, err
	}
	return ids, db.insertAuditBulk(ctx, tx, evs)
}

// insertWebhookEventsBulk stores events with multi-row INSERTs and queues
// their deliveries with one INSERT … SELECT per event type, for the
// subscriptions that want that type (none: nothing to queue).
func (db *DB) insertWebhookEventsBulk(ctx context.Context, tx *sql.Tx, evs []*monban.WebhookEvent) error {
	if len(evs) == 0 {
		return nil
	}
	err := db.execRows(ctx, tx, `INSERT INTO webhook_events (id, type, account_id, body, created_at) VALUES `, "", 5, len(evs),
		func(i int, args []any) ([]any, error) {
			ev := evs[i]
			body, err := eventBody(ev)
			if err != nil {
				return nil, err
			}
			return append(args, ev.ID, ev.Type, ev.AccountID, body, micros(ev.CreatedAt)), nil
		})
	if err != nil {
		return err
	}
	byType := map[string][]string{}
	for _, ev := range evs {
		byType[ev.Type] = append(byType[ev.Type], ev.ID)
	}
	for typ, ids := range byType {
		var subs int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM webhook_subscriptions WHERE disabled_at = 0 AND types LIKE ?`),
			"% "+typ+" %").Scan(&subs); err != nil {
			return err
		}
		if subs == 0 {
			continue
		}
		for _, args := range inChunks(ids, "") {
			args = append(args, "% "+typ+" %")
			if _, err := db.txExec(ctx, tx, `INSERT INTO webhook_deliveries
					(id, event_id, subscription_id, status, next_attempt_at, created_at)
				SELECT e.id || '.' || s.id, e.id, s.id, 'queued', e.created_at, e.created_at
				FROM webhook_events e, webhook_subscriptions s
				WHERE e.id IN (`+placeholders(len(args)-1)+`) AND s.disabled_at = 0 AND s.types LIKE ?`, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// LiftLock lifts one lock in force (EConflict "lock.not_active" if it is
// not) with its notice and audit entry.
func (db *DB) LiftLock(ctx context.Context, lift monban.LockLift) error {
	ids, err := db.LiftLocks(ctx, []monban.LockLift{lift})
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return monban.Errorf(monban.EConflict, "lock.not_active")
	}
	return nil
}

// insertNoticesBulk stores notices and their messages (noticeOf maps a
// message id to its notice) with multi-row INSERTs. A repeated reference
// fails the transaction; the caller draws new ones and retries.
func (db *DB) insertNoticesBulk(ctx context.Context, tx *sql.Tx, ns []*monban.Notice, msgs []*monban.Message, noticeOf map[string]string) error {
	err := db.execRows(ctx, tx, `INSERT INTO notices (`+noticeColumns+`) VALUES `, "", 8, len(ns),
		func(i int, args []any) ([]any, error) {
			n := ns[i]
			var params sql.NullString
			if len(n.Params) > 0 {
				b, err := json.Marshal(n.Params)
				if err != nil {
					return nil, err
				}
				params = sql.NullString{String: string(b), Valid: true}
			}
			return append(args, n.ID, n.Ref, n.AccountID, n.Topic, n.Lang, params, micros(n.CreatedAt), micros(n.ReadAt)), nil
		})
	if isUniqueViolation(err) {
		return errRefTaken()
	}
	if err != nil {
		return err
	}
	return db.execRows(ctx, tx, `INSERT INTO messages (`+messageColumns+`, notice_id) VALUES `, "", 22, len(msgs),
		func(i int, args []any) ([]any, error) {
			m := msgs[i]
			if m.Status == "" {
				m.Status = monban.MessageQueued
			}
			return append(args, m.ID, m.AccountID, m.FlowID, string(m.Channel), m.Destination, m.Template, m.Lang, m.Payload,
				string(m.Status), m.Attempts, micros(m.NextAttemptAt), micros(m.LeaseUntil), m.Provider, m.ProviderID, m.Reason,
				micros(m.CreatedAt), micros(m.SentAt), micros(m.DeliveredAt), micros(m.FailedAt), micros(m.ExpiresAt),
				micros(m.UpdatedAt), noticeOf[m.ID]), nil
		})
}

func (db *DB) insertAuditBulk(ctx context.Context, tx *sql.Tx, evs []monban.AuditEvent) error {
	return db.execRows(ctx, tx, `INSERT INTO audit_events (at, account_id, agent_id, action, ip, user_agent, detail) VALUES `, "", 7, len(evs),
		func(i int, args []any) ([]any, error) {
			ev := &evs[i]
			var detail sql.NullString
			if len(ev.Detail) > 0 {
				b, err := json.Marshal(ev.Detail)
				if err != nil {
					return nil, err
				}
				detail = sql.NullString{String: string(b), Valid: true}
			}
			return append(args, micros(ev.At), ev.AccountID, ev.AgentID, ev.Action, ev.IP, ev.UserAgent, detail), nil
		})
}

// lockFilterSQL is the WHERE clause of a rollback filter over locks in force.
func lockFilterSQL(f monban.LockFilter) (string, []any) {
	q := `lifted_at = 0 AND rule_id = ?`
	args := []any{f.RuleID}
	if f.Version != "" {
		q += ` AND rule_version = ?`
		args = append(args, f.Version)
	}
	if !f.Since.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, micros(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, micros(f.Until))
	}
	return q, args
}

// CountLocks counts the locks in force that f matches.
func (db *DB) CountLocks(ctx context.Context, f monban.LockFilter) (int, error) {
	where, args := lockFilterSQL(f)
	var n int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM locks WHERE `+where), args...).Scan(&n)
	return n, wrap("count locks", err)
}

// LocksAfter returns up to limit locks in force that f matches, of
// accounts with ids above afterAccount, in account order: a rollback's next
// batch. (At most one lock per account is in force.)
func (db *DB) LocksAfter(ctx context.Context, f monban.LockFilter, afterAccount string, limit int) ([]monban.Lock, error) {
	where, args := lockFilterSQL(f)
	args = append(args, afterAccount, limit)
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+lockColumns+` FROM locks WHERE `+where+` AND account_id > ? ORDER BY account_id LIMIT ?`), args...)
	if err != nil {
		return nil, wrap("locks after", err)
	}
	defer rows.Close()
	var out []monban.Lock
	for rows.Next() {
		l, err := scanLock(rows)
		if err != nil {
			return nil, wrap("locks after", err)
		}
		out = append(out, *l)
	}
	return out, wrap("locks after", rows.Err())
}

// LockCount counts the locks rule ruleID made in [since, until), lifted or
// not: the circuit breaker's rate.
func (db *DB) LockCount(ctx context.Context, ruleID string, since, until time.Time) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM locks WHERE rule_id = ? AND created_at >= ? AND created_at < ?`),
		ruleID, micros(since), micros(until)).Scan(&n)
	return n, wrap("lock count", err)
}

// TripBreaker records a tripped breaker with its audit entry; false if it
// was already tripped.
func (db *DB) TripBreaker(ctx context.Context, b monban.RiskBreaker, ev monban.AuditEvent) (bool, error) {
	tripped := false
	err := db.inTx(ctx, "trip breaker", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO risk_breakers (rule_id, rule_version, tripped_at, locks, baseline)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (rule_id, rule_version) DO NOTHING`),
			b.RuleID, b.RuleVersion, micros(b.TrippedAt), b.Locks, b.Baseline)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		tripped = true
		return db.insertAudit(ctx, tx, ev)
	})
	return tripped, err
}

// Breakers lists every tripped breaker.
func (db *DB) Breakers(ctx context.Context) ([]monban.RiskBreaker, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT rule_id, rule_version, tripped_at, locks, baseline FROM risk_breakers ORDER BY tripped_at`)
	if err != nil {
		return nil, wrap("breakers", err)
	}
	defer rows.Close()
	var out []monban.RiskBreaker
	for rows.Next() {
		var b monban.RiskBreaker
		var at int64
		if err := rows.Scan(&b.RuleID, &b.RuleVersion, &at, &b.Locks, &b.Baseline); err != nil {
			return nil, wrap("breakers", err)
		}
		b.TrippedAt = fromMicros(at)
		out = append(out, b)
	}
	return out, wrap("breakers", rows.Err())
}

// NoticeTargets returns, for each account id, its language and
// identifiers: what a notice needs, read for a whole batch at once (one
// query on PostgreSQL, one per few hundred ids on SQLite).
func (db *DB) NoticeTargets(ctx context.Context, accountIDs []string) (map[string]string, map[string][]monban.Identifier, error) {
	langs := make(map[string]string, len(accountIDs))
	ids := make(map[string][]monban.Identifier, len(accountIDs))
	for _, q := range db.noticeTargetQueries(accountIDs) {
		rows, err := db.r.QueryContext(ctx, db.q(q.query), q.args...)
		if err != nil {
			return nil, nil, wrap("notice targets", err)
		}
		for rows.Next() {
			var id monban.Identifier
			var lang, kind string
			var verified sql.NullBool // NULL: no identifiers
			if err := rows.Scan(&id.AccountID, &lang, &kind, &id.Value, &verified); err != nil {
				rows.Close()
				return nil, nil, wrap("notice targets", err)
			}
			langs[id.AccountID] = lang
			if kind != "" {
				id.Kind, id.Verified = monban.IdentifierKind(kind), verified.Bool
				ids[id.AccountID] = append(ids[id.AccountID], id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, wrap("notice targets", err)
		}
	}
	return langs, ids, nil
}

// noticeTargetsPG reads a batch's accounts and identifiers by their keys,
// one account at a time: given thousands of ids, the planner would rather
// scan both tables whole and hash them, per batch, which at a million
// accounts costs more than the rest of the batch. OFFSET 0 keeps each
// lateral subquery from being flattened into such a join.
const noticeTargetsPG = `SELECT q.id, a.lang, COALESCE(i.kind, ''), COALESCE(i.value, ''), i.verified
	FROM unnest(?::text[]) AS q(id)
	JOIN LATERAL (SELECT lang FROM accounts WHERE id = q.id OFFSET 0) a ON true
	LEFT JOIN LATERAL (SELECT kind, value, verified, created_at FROM identifiers WHERE account_id = q.id OFFSET 0) i ON true
	ORDER BY q.id, i.created_at, i.kind, i.value`

type query struct {
	query string
	args  []any
}

// noticeTargetQueries returns the queries that together read the notice
// targets of accountIDs: one on PostgreSQL, one per rowsPerInsert ids on
// SQLite.
func (db *DB) noticeTargetQueries(accountIDs []string) []query {
	if db.d.name == dialectPostgres {
		return []query{{noticeTargetsPG, []any{accountIDs}}}
	}
	var out []query
	for i := 0; i < len(accountIDs); i += rowsPerInsert {
		part := accountIDs[i:min(i+rowsPerInsert, len(accountIDs))]
		args := make([]any, len(part))
		for j, v := range part {
			args[j] = v
		}
		out = append(out, query{`SELECT a.id, a.lang, COALESCE(i.kind, ''), COALESCE(i.value, ''), i.verified
			FROM accounts a LEFT JOIN identifiers i ON i.account_id = a.id
			WHERE a.id IN (` + placeholders(len(part)) + `) ORDER BY a.id, i.created_at, i.kind, i.value`, args})
	}
	return out
}

// ConcurrentWriters says how many bulk write transactions (a rollback's
// batches) should run at once: PostgreSQL spreads them over its cores;
// SQLite has one writer.
func (db *DB) ConcurrentWriters() int {
	if db.d.name == dialectPostgres {
		return 3
	}
	return 1
}
