package desk

import (
	"context"
	"crypto/hmac"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/identifier"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// full checks the agent has passed 2-step and may take act; a refusal for
// the role is audited.
func (s *Service) full(ctx context.Context, a *Agent, act Action, accountID string) error {
	if a == nil || a.Session == nil || a.Session.Level < LevelFull {
		return errSession()
	}
	if err := allow(a.Agent, act); err != nil {
		auditDenied(ctx, s.d.Store, a.Agent, accountID, act, s.d.Clock.Now())
		return err
	}
	return nil
}

// Queue returns the cases f picks, oldest first, and the counts by status.
func (s *Service) Queue(ctx context.Context, a *Agent, f monban.CaseFilter) ([]monban.Case, map[string]int, error) {
	if err := s.full(ctx, a, ActView, ""); err != nil {
		return nil, nil, err
	}
	cs, err := s.d.Store.QueueCases(ctx, f, s.d.Clock.Now())
	if err != nil {
		return nil, nil, err
	}
	counts, err := s.d.Store.CaseCounts(ctx)
	return cs, counts, err
}

// Linked returns, for each of cs about an account, the refs of that
// account's other open cases: a request that could not prove it came from
// a case's own contact opens a case of its own, and agents see the two
// side by side ("another request for this account is open").
func (s *Service) Linked(ctx context.Context, a *Agent, cs []monban.Case) (map[string][]string, error) {
	if err := s.full(ctx, a, ActView, ""); err != nil {
		return nil, err
	}
	byAccount := map[string][]monban.Case{}
	out := map[string][]string{}
	for _, c := range cs {
		if c.AccountID == "" {
			continue
		}
		all, ok := byAccount[c.AccountID]
		if !ok {
			var err error
			if all, err = s.d.Store.CasesByAccount(ctx, c.AccountID); err != nil {
				return nil, err
			}
			byAccount[c.AccountID] = all
		}
		if refs := linked(c.ID, all); len(refs) > 0 {
			out[c.ID] = refs
		}
	}
	return out, nil
}

// linked is the refs of the open cases among all other than id.
func linked(id string, all []monban.Case) []string {
	var refs []string
	for _, o := range all {
		if o.ID != id && (o.Status == monban.CaseOpen || o.Status == monban.CaseWaiting) {
			refs = append(refs, o.Ref)
		}
	}
	return refs
}

// CaseView is everything the case page shows an agent.
type CaseView struct {
	Case       *monban.Case
	Thread     []monban.CaseMessage
	Account    *monban.Account // nil: the identifier matched no account
	Identities []monban.Identifier
	Lock       *monban.Lock // in force, if any
	Locks      []monban.Lock
	Signals    []monban.Signal
	Messages   []monban.Message // codes and notices, with delivery status
	Devices    []monban.Device
	Factors    []monban.Factor
	Audit      []monban.AuditEvent
	Cases      []monban.Case // the account's other cases
	Linked     []string      // refs of the account's other open cases
	SignedIn   bool          // filed from a signed-in session of the account
	Grants     []monban.Grant
	Checks     []monban.IdentityCheck
	Knowledge  []string // fields the host app supplied (names only)
	Passed     int      // distinct fields matched in this case
	ChecksLeft int      // failed checks still allowed
}

// Case opens a case for an agent with the account's timeline. Opening is
// audited.
func (s *Service) Case(ctx context.Context, a *Agent, id string) (*CaseView, error) {
	c, err := s.d.Store.CaseByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.full(ctx, a, ActView, c.AccountID); err != nil {
		return nil, err
	}
	v := &CaseView{Case: c, SignedIn: strings.HasSuffix(c.MergeKey, sessionMark)}
	if v.Thread, err = s.d.Store.CaseThread(ctx, id); err != nil {
		return nil, err
	}
	if v.Checks, err = s.d.Store.IdentityChecks(ctx, id); err != nil {
		return nil, err
	}
	v.Passed, v.ChecksLeft = s.passed(v.Checks), s.cfg.FailedChecks-failed(v.Checks)
	if c.AccountID != "" {
		if err := s.timeline(ctx, v); err != nil {
			return nil, err
		}
		v.Linked = linked(c.ID, v.Cases)
	}
	now := s.d.Clock.Now()
	_ = s.d.Store.AppendAudit(ctx, monban.AuditEvent{At: now, AccountID: c.AccountID, AgentID: a.ID,
		Action: monban.AuditCaseViewed, Detail: map[string]string{"case_id": c.ID}})
	return v, nil
}

func (s *Service) timeline(ctx context.Context, v *CaseView) error {
	id := v.Case.AccountID
	var err error
	if v.Account, err = s.d.Store.AccountByID(ctx, id); err != nil {
		return err
	}
	v.Account.PasswordHash = "" // agents never see it, not even hashed
	steps := []func() error{
		func() (err error) { v.Identities, err = s.d.Store.IdentifiersByAccount(ctx, id); return },
		func() (err error) { v.Locks, err = s.d.Store.LocksByAccount(ctx, id); return },
		func() (err error) { v.Signals, err = s.d.Store.SignalsByAccount(ctx, id, 50); return },
		func() (err error) { v.Messages, err = s.d.Store.MessagesByAccount(ctx, id, 50); return },
		func() (err error) { v.Devices, err = s.d.Store.DevicesByAccount(ctx, id); return },
		func() (err error) { v.Factors, err = s.d.Store.FactorsByAccount(ctx, id); return },
		func() (err error) { v.Audit, err = s.d.Store.AuditByAccount(ctx, id, 100); return },
		func() (err error) { v.Cases, err = s.d.Store.CasesByAccount(ctx, id); return },
		func() (err error) { v.Grants, err = s.Grants.All(ctx, id); return },
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return err
		}
	}
	if s.d.Locks != nil {
		if v.Lock, err = s.d.Locks.ActiveLock(ctx, id); err != nil {
			return err
		}
	}
	k, err := s.d.Store.Knowledge(ctx, id)
	if err != nil {
		return err
	}
	for _, f := range monban.KnowledgeFields {
		if _, ok := k[f]; ok {
			v.Knowledge = append(v.Knowledge, f)
		}
	}
	return nil
}

func (s *Service) passed(cs []monban.IdentityCheck) int {
	seen := map[string]bool{}
	for _, c := range cs {
		if c.Matched {
			seen[c.Field] = true
		}
	}
	return len(seen)
}

func failed(cs []monban.IdentityCheck) int {
	n := 0
	for _, c := range cs {
		if !c.Matched {
			n++
		}
	}
	return n
}

// normalise makes a typed value comparable with what the host app sent:
// NFKC (full-width to ASCII), lower case, no spaces or punctuation; card
// expiries become MMYY and numbers their digits.
func normalise(field, v string) string {
	v = strings.ToLower(norm.NFKC.String(v))
	keep := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }
	switch field {
	case "card_last4", "birthdate", "phone":
		keep = func(r rune) bool { return r >= '0' && r <= '9' }
	case "card_expiry":
		parts := strings.FieldsFunc(v, func(r rune) bool { return r < '0' || r > '9' })
		if len(parts) == 2 {
			m, y := parts[0], parts[1]
			if len(m) == 1 {
				m = "0" + m
			}
			if len(y) == 4 {
				y = y[2:]
			}
			return m + y
		}
		keep = func(r rune) bool { return r >= '0' && r <= '9' }
	}
	return strings.Map(func(r rune) rune {
		if keep(r) {
			return r
		}
		return -1
	}, v)
}

// knowledgeHash is the keyed hash stored for a field's value.
func (s *Service) knowledgeHash(accountID, field, value string) []byte {
	return s.mac("knowledge", accountID+"|"+field+"|"+normalise(field, value))
}

// SetKnowledge stores what a host app knows about an account, as keyed
// hashes ("" removes a field). Unknown fields are refused.
func (s *Service) SetKnowledge(ctx context.Context, apiKeyID, accountID string, fields map[string]string) error {
	if len(fields) == 0 {
		return invalid("knowledge.empty", "")
	}
	if _, err := s.d.Store.AccountByID(ctx, accountID); err != nil {
		return err
	}
	hashes := map[string][]byte{}
	var names []string
	for f, v := range fields {
		if !slices.Contains(monban.KnowledgeFields, f) {
			return invalid("knowledge.field", f)
		}
		if len(v) > 500 {
			return monban.Errorf(monban.ETooLarge, "knowledge.too_long").WithField(f)
		}
		hashes[f] = nil
		if normalise(f, v) != "" {
			hashes[f] = s.knowledgeHash(accountID, f, v)
		}
		names = append(names, f)
	}
	slices.Sort(names)
	now := s.d.Clock.Now()
	return s.d.Store.SetKnowledge(ctx, accountID, hashes, now, monban.AuditEvent{At: now, AccountID: accountID,
		Action: monban.AuditKnowledgeSet, Detail: map[string]string{"fields": strings.Join(names, ","), "api_key": apiKeyID}})
}

// CheckResult is what an agent sees of one check: match or no match, or
// that the host app supplied nothing to check against.
type CheckResult struct {
	Field   string
	Matched bool
	Unknown bool
}

// CheckIdentity checks what a caller said against the account's knowledge.
// Only fields the host app supplied count; each check is recorded and
// audited; after FailedChecks failures the case's checklist is closed.
func (s *Service) CheckIdentity(ctx context.Context, a *Agent, caseID string, answers map[string]string) ([]CheckResult, error) {
	c, err := s.d.Store.CaseByID(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if err := s.full(ctx, a, ActCheckIdentity, c.AccountID); err != nil {
		return nil, err
	}
	if c.AccountID == "" {
		return nil, monban.Errorf(monban.EConflict, "desk.no_account")
	}
	prev, err := s.d.Store.IdentityChecks(ctx, caseID)
	if err != nil {
		return nil, err
	}
	left := s.cfg.FailedChecks - failed(prev)
	if left <= 0 {
		return nil, monban.Errorf(monban.EForbidden, "desk.checks_exhausted")
	}
	k, err := s.d.Store.Knowledge(ctx, c.AccountID)
	if err != nil {
		return nil, err
	}
	now := s.d.Clock.Now()
	var out []CheckResult
	var checks []monban.IdentityCheck
	var evs []monban.AuditEvent
	for _, f := range monban.KnowledgeFields {
		v := strings.TrimSpace(answers[f])
		if v == "" {
			continue
		}
		want, ok := k[f]
		if !ok {
			out = append(out, CheckResult{Field: f, Unknown: true})
			continue
		}
		if left <= 0 {
			break
		}
		m := hmac.Equal(want, s.knowledgeHash(c.AccountID, f, v))
		if !m {
			left--
		}
		out = append(out, CheckResult{Field: f, Matched: m})
		checks = append(checks, monban.IdentityCheck{CaseID: caseID, AccountID: c.AccountID, AgentID: a.ID, Field: f, Matched: m, At: now})
		evs = append(evs, monban.AuditEvent{At: now, AccountID: c.AccountID, AgentID: a.ID, Action: monban.AuditIdentityChecked,
			Detail: map[string]string{"case_id": caseID, "field": f, "matched": boolText(m)}})
	}
	if len(out) == 0 {
		return nil, invalid("desk.check_empty", "")
	}
	if err := s.d.Store.RecordIdentityChecks(ctx, checks, evs); err != nil {
		return nil, err
	}
	return out, nil
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// noteAndAudit records an agent's action on a case as a note in its
// thread and an audit entry with the agent's id.
func (s *Service) note(ctx context.Context, a *Agent, c *monban.Case, action string, detail map[string]string) error {
	now := s.d.Clock.Now()
	if detail == nil {
		detail = map[string]string{}
	}
	detail["case_id"] = c.ID
	_, err := s.d.Store.UpdateCase(ctx, c.ID, func(cc *monban.Case) (sqlstore.CaseEffects, error) {
		cc.UpdatedAt = now
		return sqlstore.CaseEffects{
			Thread: []*monban.CaseMessage{{ID: monban.NewID("cmg"), At: now, Author: "agent:" + a.ID, Kind: monban.CaseMsgNote, Body: action}},
			Audit:  []monban.AuditEvent{{At: now, AccountID: c.AccountID, AgentID: a.ID, Action: action, Detail: detail}},
		}, nil
	})
	return err
}

// caseFor loads a case with an account and checks the agent may take act.
func (s *Service) caseFor(ctx context.Context, a *Agent, caseID string, act Action) (*monban.Case, error) {
	c, err := s.d.Store.CaseByID(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if err := s.full(ctx, a, act, c.AccountID); err != nil {
		return nil, err
	}
	if c.AccountID == "" {
		return nil, monban.Errorf(monban.EConflict, "desk.no_account")
	}
	return c, nil
}

// LiftLock lifts the account's lock in force through the lock store, so
// the person gets the unlock notice; a suspension needs ActLiftSuspend.
func (s *Service) LiftLock(ctx context.Context, a *Agent, caseID string) (*monban.Lock, error) {
	c, err := s.caseFor(ctx, a, caseID, ActLiftLock)
	if err != nil {
		return nil, err
	}
	if s.d.Locks == nil {
		return nil, monban.Errorf(monban.EConflict, "lock.not_active")
	}
	l, err := s.d.Locks.ActiveLock(ctx, c.AccountID)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, monban.Errorf(monban.EConflict, "lock.not_active")
	}
	if l.Kind == monban.LockSuspend {
		if err := s.full(ctx, a, ActLiftSuspend, c.AccountID); err != nil {
			return nil, err
		}
	}
	if err := s.d.Locks.Lift(ctx, l, "agent:"+a.ID, "support"); err != nil {
		return nil, err
	}
	return l, s.note(ctx, a, c, monban.AuditDeskLockLifted, map[string]string{"lock_id": l.ID, "rule": l.RuleID, "version": l.RuleVersion})
}

// GrantBypass opens a time-boxed bypass of one step for the case's account.
func (s *Service) GrantBypass(ctx context.Context, a *Agent, caseID, step string, ttl time.Duration) (*monban.Grant, error) {
	c, err := s.caseFor(ctx, a, caseID, ActGrantBypass)
	if err != nil {
		return nil, err
	}
	g, err := s.Grants.Create(ctx, a.Agent, c.AccountID, step, c.ID, ttl)
	if err != nil {
		return nil, err
	}
	return g, s.note(ctx, a, c, monban.AuditGrantCreated, map[string]string{"grant_id": g.ID, "step": step})
}

func errNeedChecks(n int) error {
	return monban.Errorf(monban.EForbidden, "desk.needs_checks").WithParams(map[string]any{"n": n})
}

// VerifyPhone marks a new phone number verified on the account after at
// least two identity checks passed in this case.
func (s *Service) VerifyPhone(ctx context.Context, a *Agent, caseID, phone string) error {
	c, err := s.caseFor(ctx, a, caseID, ActVerifyPhone)
	if err != nil {
		return err
	}
	if err := s.needChecks(ctx, caseID, 2); err != nil {
		return err
	}
	p, err := identifier.NormalizePhone(phone, "JP")
	if err != nil {
		return invalid("phone.invalid", "phone")
	}
	now := s.d.Clock.Now()
	if err := s.d.Store.VerifyPhone(ctx, c.AccountID, p.E164, now, monban.AuditEvent{At: now, AccountID: c.AccountID,
		AgentID: a.ID, Action: monban.AuditPhoneVerified, Detail: map[string]string{"case_id": c.ID, "phone": identifier.MaskPhone(p.E164)}}); err != nil {
		return err
	}
	return s.note(ctx, a, c, monban.AuditPhoneVerified, map[string]string{"phone": identifier.MaskPhone(p.E164)})
}

func (s *Service) needChecks(ctx context.Context, caseID string, n int) error {
	cs, err := s.d.Store.IdentityChecks(ctx, caseID)
	if err != nil {
		return err
	}
	if s.passed(cs) < n {
		return errNeedChecks(n)
	}
	return nil
}

// ResetTwoStep removes the account's second factors and turns 2-step off,
// after two independent identity checks passed (NIST 63B-4 §4.2).
func (s *Service) ResetTwoStep(ctx context.Context, a *Agent, caseID string) error {
	c, err := s.caseFor(ctx, a, caseID, ActResetTwoStep)
	if err != nil {
		return err
	}
	if err := s.needChecks(ctx, caseID, 2); err != nil {
		return err
	}
	fs, err := s.d.Store.FactorsByAccount(ctx, c.AccountID)
	if err != nil {
		return err
	}
	now := s.d.Clock.Now()
	for _, f := range fs {
		if err := s.d.Store.RemoveFactor(ctx, c.AccountID, f.ID, false, monban.AuditEvent{At: now, AccountID: c.AccountID,
			AgentID: a.ID, Action: "factor.removed", Detail: map[string]string{"factor_id": f.ID, "case_id": c.ID}}); err != nil && !monban.IsNotFound(err) {
			return err
		}
	}
	if err := s.d.Store.SetTwoStep(ctx, c.AccountID, false, monban.AuditEvent{At: now, AccountID: c.AccountID, AgentID: a.ID,
		Action: monban.AuditTwoStepReset, Detail: map[string]string{"case_id": c.ID, "factors": strconv.Itoa(len(fs))}}); err != nil {
		return err
	}
	return s.note(ctx, a, c, monban.AuditTwoStepReset, nil)
}

// Reply sends the person a reply — a named template in their language, or
// free text — by email to the contact address and, for a known account,
// as a case.updated notice in its message center. status, if set, is the
// case's new status (e.g. waiting); otherwise it stays as it is.
func (s *Service) Reply(ctx context.Context, a *Agent, caseID, template, text, status string) error {
	c, err := s.d.Store.CaseByID(ctx, caseID)
	if err != nil {
		return err
	}
	if err := s.full(ctx, a, ActReply, c.AccountID); err != nil {
		return err
	}
	body := cleanText(text)
	if template != "" {
		t, ok := ReplyTemplates[template]
		if !ok {
			return invalid("desk.template_invalid", "template")
		}
		body = t[langOf(c.Lang)]
	}
	if body == "" {
		return invalid("desk.reply_empty", "text")
	}
	if len([]rune(body)) > s.cfg.MaxDescription {
		return monban.Errorf(monban.ETooLarge, "support.too_long").WithField("text").WithParams(map[string]any{"max": s.cfg.MaxDescription})
	}
	if status != "" && !slices.Contains(monban.CaseStatuses, status) {
		return invalid("desk.status_invalid", "status")
	}
	return s.change(ctx, a, c, status, &monban.CaseMessage{Kind: monban.CaseMsgReply, Body: body}, "reply",
		monban.AuditEvent{Action: monban.AuditCaseReplied, Detail: map[string]string{"template": template}})
}

// SetStatus sets a case's status (close is CaseClosed) and tells the person.
func (s *Service) SetStatus(ctx context.Context, a *Agent, caseID, status string) error {
	c, err := s.d.Store.CaseByID(ctx, caseID)
	if err != nil {
		return err
	}
	if err := s.full(ctx, a, ActSetStatus, c.AccountID); err != nil {
		return err
	}
	if !slices.Contains(monban.CaseStatuses, status) {
		return invalid("desk.status_invalid", "status")
	}
	return s.change(ctx, a, c, status, &monban.CaseMessage{Kind: monban.CaseMsgStatus}, "status",
		monban.AuditEvent{Action: monban.AuditCaseStatus})
}

// change writes a reply or a status change with its mail, notice, webhook
// event and audit entry in one transaction.
func (s *Service) change(ctx context.Context, a *Agent, c *monban.Case, status string, msg *monban.CaseMessage, event string, ev monban.AuditEvent) error {
	now := s.d.Clock.Now()
	newStatus := c.Status
	if status != "" {
		newStatus = status
	}
	var n *monban.Notice
	var nmsgs []*monban.Message
	if c.AccountID != "" && s.d.Notices != nil {
		var err error
		n, nmsgs, err = s.d.Notices.Compose(ctx, c.AccountID, monban.TopicCaseUpdated,
			map[string]string{"case_ref": c.Ref, "status": Label(c.Lang, "status."+newStatus)}, notices.Options{})
		if err != nil {
			return err
		}
	}
	_, err := s.d.Store.UpdateCase(ctx, c.ID, func(cc *monban.Case) (sqlstore.CaseEffects, error) {
		old := cc.Status
		cc.Status, cc.UpdatedAt = newStatus, now
		if msg.Kind == monban.CaseMsgReply && cc.FirstReplyAt.IsZero() {
			cc.FirstReplyAt = now
		}
		switch {
		case (newStatus == monban.CaseResolved || newStatus == monban.CaseClosed) && cc.ResolvedAt.IsZero():
			cc.ResolvedAt = now
		case newStatus == monban.CaseOpen || newStatus == monban.CaseWaiting:
			cc.ResolvedAt = time.Time{}
		}
		msg.ID, msg.At, msg.Author, msg.Lang, msg.Status = monban.NewID("cmg"), now, "agent:"+a.ID, cc.Lang, newStatus
		mail, err := s.mail(cc, cc.Lang, cc.Contact, event, msg.Body)
		if err != nil {
			return sqlstore.CaseEffects{}, err
		}
		ev.At, ev.AccountID, ev.AgentID = now, cc.AccountID, a.ID
		if ev.Detail == nil {
			ev.Detail = map[string]string{}
		}
		ev.Detail["case_id"], ev.Detail["status"], ev.Detail["from"] = cc.ID, newStatus, old
		fx := sqlstore.CaseEffects{Thread: []*monban.CaseMessage{msg}, Mail: []*monban.Message{mail},
			Notice: n, NoticeMsgs: nmsgs, Audit: []monban.AuditEvent{ev}}
		if cc.AccountID != "" {
			fx.Event = s.event(cc, now)
		}
		return fx, nil
	})
	if err != nil {
		return err
	}
	s.wake()
	return nil
}

// Metrics returns the desk's numbers since a time.
func (s *Service) Metrics(ctx context.Context, a *Agent, since time.Time) (*monban.CaseMetrics, error) {
	if err := s.full(ctx, a, ActMetrics, ""); err != nil {
		return nil, err
	}
	return s.d.Store.CaseMetrics(ctx, since, s.d.Clock.Now().Add(time.Microsecond))
}
