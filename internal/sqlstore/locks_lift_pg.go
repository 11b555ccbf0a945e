package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/monban-dev/monban"
)

// On PostgreSQL a batch of lifts is one statement: the UPDATE … RETURNING
// of the locks still in force feeds the INSERTs of their notices, messages,
// webhook events (and deliveries) and audit entries, each reading its rows
// from arrays (unnest) and keeping only those of a lock the UPDATE lifted.
// A batch of thousands of lifts thus costs one round trip and one plan,
// instead of a multi-row statement per few hundred rows and table.
//
// The locks are found by their primary key (= ANY), whatever the planner
// thinks of the table's size. Every lift of a batch shares At, By and How.
// A column whose values are all zero (a fresh message's provider, an audit
// entry's agent) is sent as NULL, which unnest pads with NULLs, and
// COALESCE turns back into the zero: less to encode and send per row.
const liftLocksPG = `WITH up AS (
	UPDATE locks SET lifted_at = ?, lifted_by = ?, lifted_how = ?
	WHERE id = ANY(?::text[]) AND lifted_at = 0
	RETURNING id
), n AS (
	INSERT INTO notices (` + noticeColumns + `)
	SELECT v.id, v.ref, v.account_id, v.topic, v.lang, v.params, v.created_at, COALESCE(v.read_at, 0)
	FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[])
		AS v(lock_id, id, ref, account_id, topic, lang, params, created_at, read_at)
	WHERE v.lock_id IN (SELECT id FROM up)
), m AS (
	INSERT INTO messages (` + messageColumns + `, notice_id)
	SELECT v.id, v.account_id, COALESCE(v.flow_id, ''), v.channel, v.destination, v.template, v.lang, v.payload, v.status,
		COALESCE(v.attempts, 0), v.next_attempt_at, COALESCE(v.lease_until, 0),
		COALESCE(v.provider, ''), COALESCE(v.provider_id, ''), COALESCE(v.reason, ''), v.created_at,
		COALESCE(v.sent_at, 0), COALESCE(v.delivered_at, 0), COALESCE(v.failed_at, 0), COALESCE(v.expires_at, 0),
		v.updated_at, v.notice_id
	FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bytea[], ?::text[],
		?::int[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[],
		?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[])
		AS v(lock_id, id, account_id, flow_id, channel, destination, template, lang, payload, status,
			attempts, next_attempt_at, lease_until, provider, provider_id, reason,
			created_at, sent_at, delivered_at, failed_at, expires_at, updated_at, notice_id)
	WHERE v.lock_id IN (SELECT id FROM up)
), e AS (
	INSERT INTO webhook_events (id, type, account_id, body, created_at)
	SELECT v.id, v.type, v.account_id, v.body, v.created_at
	FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[])
		AS v(lock_id, id, type, account_id, body, created_at)
	WHERE v.lock_id IN (SELECT id FROM up)
	RETURNING id, type, created_at
), d AS (
	INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, next_attempt_at, created_at)
	SELECT e.id || '.' || s.id, e.id, s.id, 'queued', e.created_at, e.created_at
	FROM e JOIN webhook_subscriptions s ON s.disabled_at = 0 AND s.types LIKE '% ' || e.type || ' %'
), a AS (
	INSERT INTO audit_events (at, account_id, agent_id, action, ip, user_agent, detail)
	SELECT v.at, v.account_id, COALESCE(v.agent_id, ''), v.action, COALESCE(v.ip, ''), COALESCE(v.user_agent, ''), v.detail
	FROM unnest(?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
		WITH ORDINALITY AS v(lock_id, at, account_id, agent_id, action, ip, user_agent, detail, n)
	WHERE v.lock_id IN (SELECT id FROM up)
	ORDER BY v.n
)
SELECT id FROM up`

// liftLocksPG runs liftLocksPG for lifts in tx and returns the ids of the
// locks it lifted. A new notice that drew a reference already in use
// (rare, but likely once in a million-lock rollback: 40 bits) fails it
// with "notice.ref_taken"; the caller draws new ones and tries again.
func (db *DB) liftLocksPG(ctx context.Context, tx *sql.Tx, lifts []monban.LockLift) ([]string, error) {
	if len(lifts) == 0 {
		return nil, nil
	}
	args, err := liftArrays(lifts)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, db.q(liftLocksPG), args...)
	if isUniqueViolation(err) {
		return nil, errRefTaken()
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		if isUniqueViolation(err) {
			return nil, errRefTaken()
		}
		return nil, err
	}
	return ids, nil
}

// liftCols are the columns of liftLocksPG's arrays, one slice per column.
type liftCols struct {
	lockID []string

	nLock, nID, nRef, nAccount, nTopic, nLang []string
	nParams                                   []*string
	nCreated, nRead                           []int64

	mLock, mID, mAccount, mFlow, mChannel, mDest, mTemplate, mLang []string
	mPayload                                                       [][]byte
	mStatus                                                        []string
	mAttempts                                                      []int32
	mNext, mLease                                                  []int64
	mProvider, mProviderID, mReason                                []string
	mCreated, mSent, mDelivered, mFailed, mExpires, mUpdated       []int64
	mNotice                                                        []string

	eLock, eID, eType, eAccount, eBody []string
	eCreated                           []int64

	aLock                               []string
	aAt                                 []int64
	aAccount, aAgent, aAction, aIP, aUA []string
	aDetail                             []*string
}

// liftArrays turns lifts into liftLocksPG's arguments.
func liftArrays(lifts []monban.LockLift) ([]any, error) {
	var c liftCols
	for i := range lifts {
		l := &lifts[i]
		c.lockID = append(c.lockID, l.LockID)
		if l.Notice != nil {
			if err := c.addNotice(l); err != nil {
				return nil, err
			}
		}
		if l.Event != nil {
			if err := c.addEvent(l.LockID, l.Event); err != nil {
				return nil, err
			}
		}
		if err := c.addAudit(l.LockID, &l.Audit); err != nil {
			return nil, err
		}
	}
	return []any{micros(lifts[0].At), lifts[0].By, lifts[0].How, c.lockID,
		c.nLock, c.nID, c.nRef, c.nAccount, c.nTopic, c.nLang, orNil(c.nParams), c.nCreated, orNil(c.nRead),
		c.mLock, c.mID, c.mAccount, orNil(c.mFlow), c.mChannel, c.mDest, c.mTemplate, c.mLang, c.mPayload, c.mStatus,
		orNil(c.mAttempts), c.mNext, orNil(c.mLease), orNil(c.mProvider), orNil(c.mProviderID), orNil(c.mReason),
		c.mCreated, orNil(c.mSent), orNil(c.mDelivered), orNil(c.mFailed), orNil(c.mExpires), c.mUpdated, c.mNotice,
		c.eLock, c.eID, c.eType, c.eAccount, c.eBody, c.eCreated,
		c.aLock, c.aAt, c.aAccount, orNil(c.aAgent), c.aAction, orNil(c.aIP), orNil(c.aUA), orNil(c.aDetail)}, nil
}

func (c *liftCols) addNotice(l *monban.LockLift) error {
	n := l.Notice
	params, err := jsonOrNil(n.Params)
	if err != nil {
		return err
	}
	c.nLock, c.nID, c.nRef, c.nAccount = append(c.nLock, l.LockID), append(c.nID, n.ID), append(c.nRef, n.Ref), append(c.nAccount, n.AccountID)
	c.nTopic, c.nLang, c.nParams = append(c.nTopic, n.Topic), append(c.nLang, n.Lang), append(c.nParams, params)
	c.nCreated, c.nRead = append(c.nCreated, micros(n.CreatedAt)), append(c.nRead, micros(n.ReadAt))
	for _, m := range l.Messages {
		if m.AccountID == "" {
			m.AccountID = l.AccountID
		}
		if m.Status == "" {
			m.Status = monban.MessageQueued
		}
		c.mLock, c.mID, c.mAccount, c.mFlow = append(c.mLock, l.LockID), append(c.mID, m.ID), append(c.mAccount, m.AccountID), append(c.mFlow, m.FlowID)
		c.mChannel, c.mDest, c.mTemplate = append(c.mChannel, string(m.Channel)), append(c.mDest, m.Destination), append(c.mTemplate, m.Template)
		c.mLang, c.mPayload, c.mStatus = append(c.mLang, m.Lang), append(c.mPayload, m.Payload), append(c.mStatus, string(m.Status))
		c.mAttempts, c.mNext, c.mLease = append(c.mAttempts, int32(m.Attempts)), append(c.mNext, micros(m.NextAttemptAt)), append(c.mLease, micros(m.LeaseUntil))
		c.mProvider, c.mProviderID, c.mReason = append(c.mProvider, m.Provider), append(c.mProviderID, m.ProviderID), append(c.mReason, m.Reason)
		c.mCreated, c.mSent, c.mDelivered = append(c.mCreated, micros(m.CreatedAt)), append(c.mSent, micros(m.SentAt)), append(c.mDelivered, micros(m.DeliveredAt))
		c.mFailed, c.mExpires, c.mUpdated = append(c.mFailed, micros(m.FailedAt)), append(c.mExpires, micros(m.ExpiresAt)), append(c.mUpdated, micros(m.UpdatedAt))
		c.mNotice = append(c.mNotice, n.ID)
	}
	return nil
}

func (c *liftCols) addEvent(lockID string, ev *monban.WebhookEvent) error {
	body, err := eventBody(ev)
	if err != nil {
		return err
	}
	c.eLock, c.eID, c.eType = append(c.eLock, lockID), append(c.eID, ev.ID), append(c.eType, ev.Type)
	c.eAccount, c.eBody, c.eCreated = append(c.eAccount, ev.AccountID), append(c.eBody, body), append(c.eCreated, micros(ev.CreatedAt))
	return nil
}

func (c *liftCols) addAudit(lockID string, ev *monban.AuditEvent) error {
	detail, err := jsonOrNil(ev.Detail)
	if err != nil {
		return err
	}
	c.aLock, c.aAt, c.aAccount, c.aAgent = append(c.aLock, lockID), append(c.aAt, micros(ev.At)), append(c.aAccount, ev.AccountID), append(c.aAgent, ev.AgentID)
	c.aAction, c.aIP, c.aUA, c.aDetail = append(c.aAction, ev.Action), append(c.aIP, ev.IP), append(c.aUA, ev.UserAgent), append(c.aDetail, detail)
	return nil
}

// orNil is s, or nil (sent as NULL) when every value in it is the zero.
func orNil[T comparable](s []T) []T {
	var zero T
	for _, v := range s {
		if v != zero {
			return s
		}
	}
	return nil
}

// eventBody is the JSON body every delivery of ev sends.
func eventBody(ev *monban.WebhookEvent) (string, error) {
	data := ev.Data
	if data == nil {
		data = map[string]string{}
	}
	b, err := json.Marshal(webhookBody{ID: ev.ID, Type: ev.Type, AccountID: ev.AccountID,
		CreatedAt: ev.CreatedAt.UTC().Format(time.RFC3339Nano), Data: data})
	return string(b), err
}

// jsonOrNil is m as a JSON object, or nil (NULL) when m is empty.
func jsonOrNil(m map[string]string) (*string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}
