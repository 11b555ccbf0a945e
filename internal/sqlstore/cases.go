package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// CaseEffects are what one change of a case writes beside it, in its
// transaction: thread entries, emails to the contact address, a notice to
// the account's message center with its messages, a webhook event and
// audit entries.
type CaseEffects struct {
	Thread     []*monban.CaseMessage
	Mail       []*monban.Message
	Notice     *monban.Notice
	NoticeMsgs []*monban.Message
	Event      *monban.WebhookEvent
	Audit      []monban.AuditEvent
}

const caseColumns = `id, ref, account_id, merge_key, category, status, lang, identifier, contact, platform, device,
	description, requests, created_at, updated_at, first_reply_at, resolved_at`

func scanCase(sc scanner) (*monban.Case, error) {
	var c monban.Case
	var created, updated, first, resolved int64
	if err := sc.Scan(&c.ID, &c.Ref, &c.AccountID, &c.MergeKey, &c.Category, &c.Status, &c.Lang, &c.Identifier,
		&c.Contact, &c.Platform, &c.Device, &c.Description, &c.Requests, &created, &updated, &first, &resolved); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	c.FirstReplyAt, c.ResolvedAt = fromMicros(first), fromMicros(resolved)
	return &c, nil
}

// FileCase stores a new request: merged into the open case of the same
// merge key and category if there is one (its requests count grows, its
// status goes back to open), else stored as c. effects builds what goes
// with it once the case is known; the request itself joins the thread. It
// returns the case the request is in and whether it was merged.
func (db *DB) FileCase(ctx context.Context, c *monban.Case, req *monban.CaseMessage,
	effects func(c *monban.Case, merged bool) (CaseEffects, error)) (*monban.Case, bool, error) {
	return db.FileCaseMatching(ctx, c, req, CaseMatch{Lock: c.MergeKey, Keys: []string{c.MergeKey}}, effects)
}

// CaseMatch says which open cases of c's category a request may join:
// those whose merge key is one of Keys, and, for a signed-in SessionAccount,
// that account's cases whose merge key ends with SessionMark. Lock names
// what filings are serialised on (with the category).
type CaseMatch struct {
	Lock           string
	Keys           []string
	SessionAccount string
	SessionMark    string
}

// FileCaseMatching is FileCase with the cases a request may join spelled
// out by m.
func (db *DB) FileCaseMatching(ctx context.Context, c *monban.Case, req *monban.CaseMessage, m CaseMatch,
	effects func(c *monban.Case, merged bool) (CaseEffects, error)) (*monban.Case, bool, error) {
	if len(m.Keys) == 0 {
		return nil, false, errors.New("file case: no merge key")
	}
	var out *monban.Case
	var merged bool
	where, args := "merge_key IN (?"+strings.Repeat(", ?", len(m.Keys)-1)+")", []any{}
	for _, k := range m.Keys {
		args = append(args, k)
	}
	if m.SessionAccount != "" {
		where = "(" + where + " OR (account_id = ? AND merge_key LIKE ?))"
		args = append(args, m.SessionAccount, "%"+m.SessionMark)
	}
	args = append(args, c.Category)
	err := db.inTx(ctx, "file case", func(tx *sql.Tx) error {
		if err := db.d.lockKey(ctx, tx, "case:"+m.Lock+":"+c.Category); err != nil {
			return err
		}
		open, err := scanCase(tx.QueryRowContext(ctx, db.q(`SELECT `+caseColumns+` FROM cases
			WHERE `+where+` AND category = ? AND status IN ('open', 'waiting')
			ORDER BY created_at LIMIT 1`+db.d.forUpdate()), args...))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			out, merged = c, false
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO cases (`+caseColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				c.ID, c.Ref, c.AccountID, c.MergeKey, c.Category, c.Status, c.Lang, c.Identifier, c.Contact,
				c.Platform, c.Device, c.Description, c.Requests, micros(c.CreatedAt), micros(c.UpdatedAt),
				micros(c.FirstReplyAt), micros(c.ResolvedAt)); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			out, merged = open, true
			open.Requests++
			open.Status = monban.CaseOpen
			open.UpdatedAt = c.CreatedAt
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE cases SET requests = ?, status = ?, updated_at = ? WHERE id = ?`),
				open.Requests, open.Status, micros(open.UpdatedAt), open.ID); err != nil {
				return err
			}
		}
		req.CaseID = out.ID
		fx, err := effects(out, merged)
		if err != nil {
			return err
		}
		fx.Thread = append([]*monban.CaseMessage{req}, fx.Thread...)
		return db.writeCaseEffects(ctx, tx, out.ID, fx)
	})
	if err != nil {
		return nil, false, err
	}
	return out, merged, nil
}

// UpdateCase changes case id in one transaction: fn gets the case (locked
// until the end), changes its status and times in place, and returns what
// goes with the change.
func (db *DB) UpdateCase(ctx context.Context, id string, fn func(c *monban.Case) (CaseEffects, error)) (*monban.Case, error) {
	var c *monban.Case
	err := db.inTx(ctx, "update case", func(tx *sql.Tx) error {
		var err error
		c, err = scanCase(tx.QueryRowContext(ctx, db.q(`SELECT `+caseColumns+` FROM cases WHERE id = ?`+db.d.forUpdate()), id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound()
		}
		if err != nil {
			return err
		}
		fx, err := fn(c)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE cases SET status = ?, updated_at = ?, first_reply_at = ?, resolved_at = ?
			WHERE id = ?`), c.Status, micros(c.UpdatedAt), micros(c.FirstReplyAt), micros(c.ResolvedAt), c.ID); err != nil {
			return err
		}
		return db.writeCaseEffects(ctx, tx, c.ID, fx)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (db *DB) writeCaseEffects(ctx context.Context, tx *sql.Tx, caseID string, fx CaseEffects) error {
	for _, m := range fx.Thread {
		m.CaseID = caseID
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO case_messages (id, case_id, at, author, kind, body, lang, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), m.ID, m.CaseID, micros(m.At), m.Author, m.Kind, m.Body, m.Lang, m.Status); err != nil {
			return err
		}
	}
	for _, m := range fx.Mail {
		if err := db.insertMessage(ctx, tx, m); err != nil {
			return err
		}
	}
	if fx.Notice != nil {
		if err := db.insertNotice(ctx, tx, fx.Notice, fx.NoticeMsgs); err != nil {
			return err
		}
	}
	if fx.Event != nil {
		if err := db.insertWebhookEvent(ctx, tx, fx.Event); err != nil {
			return err
		}
	}
	for _, ev := range fx.Audit {
		if err := db.insertAudit(ctx, tx, ev); err != nil {
			return err
		}
	}
	return nil
}

// CaseByID returns a case or ENotFound.
func (db *DB) CaseByID(ctx context.Context, id string) (*monban.Case, error) {
	c, err := scanCase(db.r.QueryRowContext(ctx, db.q(`SELECT `+caseColumns+` FROM cases WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	return c, wrap("case by id", err)
}

// CaseThread returns a case's messages, oldest first.
func (db *DB) CaseThread(ctx context.Context, caseID string) ([]monban.CaseMessage, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, case_id, at, author, kind, body, lang, status
		FROM case_messages WHERE case_id = ? ORDER BY at, id`), caseID)
	if err != nil {
		return nil, wrap("case thread", err)
	}
	defer rows.Close()
	out := []monban.CaseMessage{}
	for rows.Next() {
		var m monban.CaseMessage
		var at int64
		if err := rows.Scan(&m.ID, &m.CaseID, &at, &m.Author, &m.Kind, &m.Body, &m.Lang, &m.Status); err != nil {
			return nil, wrap("case thread", err)
		}
		m.At = fromMicros(at)
		out = append(out, m)
	}
	return out, wrap("case thread", rows.Err())
}

func (db *DB) queryCases(ctx context.Context, op, where string, args ...any) ([]monban.Case, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+caseColumns+` FROM cases `+where), args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	out := []monban.Case{}
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, *c)
	}
	return out, wrap(op, rows.Err())
}

// QueueCases returns the cases f picks, oldest first.
func (db *DB) QueueCases(ctx context.Context, f monban.CaseFilter, now time.Time) ([]monban.Case, error) {
	where := `WHERE 1 = 1`
	var args []any
	switch f.Status {
	case "":
		where += ` AND status IN ('open', 'waiting')`
	case "all":
	default:
		where += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.Category != "" {
		where += ` AND category = ?`
		args = append(args, f.Category)
	}
	if f.Lang != "" {
		where += ` AND lang = ?`
		args = append(args, f.Lang)
	}
	if f.OlderThan > 0 {
		where += ` AND created_at < ?`
		args = append(args, micros(now.Add(-f.OlderThan)))
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 200
	}
	args = append(args, limit)
	return db.queryCases(ctx, "queue cases", where+` ORDER BY created_at, id LIMIT ?`, args...)
}

// CasesByAccount returns the account's cases, newest first.
func (db *DB) CasesByAccount(ctx context.Context, accountID string) ([]monban.Case, error) {
	if accountID == "" {
		return []monban.Case{}, nil
	}
	return db.queryCases(ctx, "cases by account", `WHERE account_id = ? ORDER BY created_at DESC LIMIT 50`, accountID)
}

// CaseCounts returns how many cases are in each status.
func (db *DB) CaseCounts(ctx context.Context) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM cases GROUP BY status`)
	if err != nil {
		return nil, wrap("case counts", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, wrap("case counts", err)
		}
		out[s] = n
	}
	return out, wrap("case counts", rows.Err())
}

// CaseMetrics counts the cases opened, merged and resolved in [since,
// until) and the median times to first reply and to resolution of the
// cases opened then.
func (db *DB) CaseMetrics(ctx context.Context, since, until time.Time) (*monban.CaseMetrics, error) {
	m := &monban.CaseMetrics{}
	s, u := micros(since), micros(until)
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM audit_events WHERE action = ? AND at >= ? AND at < ?`),
		monban.AuditCaseMerged, s, u).Scan(&m.Merged); err != nil {
		return nil, wrap("case metrics", err)
	}
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM cases WHERE resolved_at >= ? AND resolved_at < ?`),
		s, u).Scan(&m.Resolved); err != nil {
		return nil, wrap("case metrics", err)
	}
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases WHERE status IN ('open', 'waiting')`).Scan(&m.Open); err != nil {
		return nil, wrap("case metrics", err)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT created_at, first_reply_at, resolved_at FROM cases
		WHERE created_at >= ? AND created_at < ?`), s, u)
	if err != nil {
		return nil, wrap("case metrics", err)
	}
	defer rows.Close()
	var first, resolve []time.Duration
	for rows.Next() {
		var c, f, r int64
		if err := rows.Scan(&c, &f, &r); err != nil {
			return nil, wrap("case metrics", err)
		}
		m.Opened++
		if f > 0 {
			first = append(first, time.Duration(f-c)*time.Microsecond)
		}
		if r > 0 {
			resolve = append(resolve, time.Duration(r-c)*time.Microsecond)
		}
	}
	m.FirstReply, m.Resolution = median(first), median(resolve)
	return m, wrap("case metrics", rows.Err())
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// SetKnowledge replaces the keyed hashes of the fields given for an
// account (an empty hash removes a field) and appends ev.
func (db *DB) SetKnowledge(ctx context.Context, accountID string, hashes map[string][]byte, at time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "set knowledge", func(tx *sql.Tx) error {
		for field, h := range hashes {
			if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM account_knowledge WHERE account_id = ? AND field = ?`),
				accountID, field); err != nil {
				return err
			}
			if len(h) == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO account_knowledge (account_id, field, hash, updated_at)
				VALUES (?, ?, ?, ?)`), accountID, field, h, micros(at)); err != nil {
				return err
			}
		}
		return db.insertAudit(ctx, tx, ev)
	})
}

// Knowledge returns the account's knowledge hashes by field.
func (db *DB) Knowledge(ctx context.Context, accountID string) (map[string][]byte, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT field, hash FROM account_knowledge WHERE account_id = ?`), accountID)
	if err != nil {
		return nil, wrap("knowledge", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var f string
		var h []byte
		if err := rows.Scan(&f, &h); err != nil {
			return nil, wrap("knowledge", err)
		}
		out[f] = h
	}
	return out, wrap("knowledge", rows.Err())
}

// RecordIdentityChecks stores the checks an agent ran with their audit
// entries.
func (db *DB) RecordIdentityChecks(ctx context.Context, checks []monban.IdentityCheck, evs []monban.AuditEvent) error {
	return db.inTx(ctx, "record identity checks", func(tx *sql.Tx) error {
		for _, c := range checks {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO identity_checks (case_id, account_id, agent_id, field, matched, at)
				VALUES (?, ?, ?, ?, ?, ?)`), c.CaseID, c.AccountID, c.AgentID, c.Field, c.Matched, micros(c.At)); err != nil {
				return err
			}
		}
		for _, ev := range evs {
			if err := db.insertAudit(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// IdentityChecks returns a case's checks, oldest first.
func (db *DB) IdentityChecks(ctx context.Context, caseID string) ([]monban.IdentityCheck, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, case_id, account_id, agent_id, field, matched, at
		FROM identity_checks WHERE case_id = ? ORDER BY id`), caseID)
	if err != nil {
		return nil, wrap("identity checks", err)
	}
	defer rows.Close()
	out := []monban.IdentityCheck{}
	for rows.Next() {
		var c monban.IdentityCheck
		var at int64
		if err := rows.Scan(&c.ID, &c.CaseID, &c.AccountID, &c.AgentID, &c.Field, &c.Matched, &at); err != nil {
			return nil, wrap("identity checks", err)
		}
		c.At = fromMicros(at)
		out = append(out, c)
	}
	return out, wrap("identity checks", rows.Err())
}

// SignalsByAccount returns the account's latest risk signals, newest first.
func (db *DB) SignalsByAccount(ctx context.Context, accountID string, limit int) ([]monban.Signal, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, at, account_id, type, ip, device_id, phone, amount, currency, instrument, attrs
		FROM risk_signals WHERE account_id = ? ORDER BY at DESC, id DESC LIMIT ?`), accountID, limit)
	if err != nil {
		return nil, wrap("signals by account", err)
	}
	defer rows.Close()
	out := []monban.Signal{}
	for rows.Next() {
		var s monban.Signal
		var at int64
		var attrs sql.NullString
		if err := rows.Scan(&s.ID, &at, &s.AccountID, &s.Type, &s.IP, &s.DeviceID, &s.Phone, &s.Amount, &s.Currency,
			&s.Instrument, &attrs); err != nil {
			return nil, wrap("signals by account", err)
		}
		s.At = fromMicros(at)
		if attrs.Valid && attrs.String != "" {
			_ = json.Unmarshal([]byte(attrs.String), &s.Attrs)
		}
		out = append(out, s)
	}
	return out, wrap("signals by account", rows.Err())
}

// VerifyPhone adds phone to the account as a verified number (replacing
// its phones), as an agent does after identity checks, with ev.
func (db *DB) VerifyPhone(ctx context.Context, accountID, phone string, at time.Time, ev monban.AuditEvent) error {
	return db.inTx(ctx, "verify phone", func(tx *sql.Tx) error {
		if err := db.setContact(ctx, tx, accountID, monban.KindPhone, phone, true, at); err != nil {
			return err
		}
		return db.insertAudit(ctx, tx, ev)
	})
}
