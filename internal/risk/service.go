package risk

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/pacing"
)

// Store is the storage risk needs.
type Store interface {
	IngestSignals(ctx context.Context, sigs []monban.Signal, deltas []monban.RiskBucket) error
	KnownAccounts(ctx context.Context, ids []string) (map[string]bool, error)
	RiskBuckets(ctx context.Context, subjects []string, res time.Duration, since time.Time, types []string) ([]monban.RiskBucket, error)
	RecordDecisions(ctx context.Context, ds []monban.RiskDecision) error
	RecentSignalIDs(ctx context.Context, accountID string, since time.Time, limit int) ([]int64, error)
	CreateLock(ctx context.Context, l *monban.Lock, n *monban.Notice, msgs []*monban.Message, ev monban.AuditEvent, hook *monban.WebhookEvent) error
	ActiveLock(ctx context.Context, accountID string, now time.Time) (*monban.Lock, error)
	LiftLocks(ctx context.Context, lifts []monban.LockLift) ([]string, error)
	LockCount(ctx context.Context, ruleID string, since, until time.Time) (int, error)
	TripBreaker(ctx context.Context, b monban.RiskBreaker, ev monban.AuditEvent) (bool, error)
	Breakers(ctx context.Context) ([]monban.RiskBreaker, error)
	CountLocks(ctx context.Context, f monban.LockFilter) (int, error)
	LocksAfter(ctx context.Context, f monban.LockFilter, afterAccount string, limit int) ([]monban.Lock, error)
	NoticeTargets(ctx context.Context, accountIDs []string) (map[string]string, map[string][]monban.Identifier, error)
	AccountByID(ctx context.Context, id string) (*monban.Account, error)
	IdentifiersByAccount(ctx context.Context, accountID string) ([]monban.Identifier, error)
	HitLimits(ctx context.Context, now time.Time, limits []monban.Limit) error
}

// Notices composes the lock and unlock notices (notices.Service).
type Notices interface {
	Compose(ctx context.Context, accountID, topic string, params map[string]string, opts notices.Options) (*monban.Notice, []*monban.Message, error)
	NewBatch(topic string, newID func(prefix string) string) (*notices.Batch, error)
}

// Codes sends and checks the self-service unlock code (codes.Service).
type Codes interface {
	Start(ctx context.Context, in codes.StartInput) (*monban.Flow, error)
	Verify(ctx context.Context, flowID, accountID, code string) (*monban.Flow, error)
}

// PasswordChecker proves the password of a signed-in session's account
// again, on the sign-in throttle's counters (account.Service.CheckPassword).
type PasswordChecker interface {
	CheckPassword(ctx context.Context, cur *account.Current, pw string, m account.Meta) error
}

// Notifier wakes the outbox worker.
type Notifier interface{ Notify() }

// Deps are what a Service is built from; Codes and Notify may be nil. The
// password checks (Passwords) are bound after construction with
// SetPasswords, since the accounts that check them need this service. Host apps hear of every lock and lift through webhook events
// (account.locked, account.unlocked) written in the same transaction.
type Deps struct {
	Store   Store
	Notices Notices
	Codes   Codes
	Notify  Notifier
	Clock   monban.Clock
	Log     *slog.Logger
}

// Service records signals, evaluates rules and keeps locks.
type Service struct {
	d     Deps
	rules atomic.Pointer[ruleState]

	tripped   sync.Map // rule id + "@" + version → true
	factors   SecondFactor
	passwords PasswordChecker

	// Counters for metrics and the bench.
	Signals, Evaluations, Locks, Lifts, Trips, ShadowMatches atomic.Int64
	evalNanos                                                *latencies
}

type ruleState struct {
	rs   *Ruleset
	pool *pool
}

// New returns a Service without rules: signals are recorded, nothing is
// locked until SetRules.
func New(d Deps) *Service {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = monban.SystemClock{}
	}
	return &Service{d: d, evalNanos: newLatencies(4096)}
}

// SetRules installs a compiled ruleset; evaluations after it use it.
func (s *Service) SetRules(rs *Ruleset) {
	if rs == nil {
		s.rules.Store(nil)
		return
	}
	s.rules.Store(&ruleState{rs: rs, pool: &pool{rs: rs}})
	s.d.Log.Info("risk rules loaded", "version", rs.Version, "rules", len(rs.Rules))
}

// Rules returns the ruleset in force, or nil.
func (s *Service) Rules() *Ruleset {
	if st := s.rules.Load(); st != nil {
		return st.rs
	}
	return nil
}

// Refresh reloads which rule versions have a tripped breaker (another node
// may have tripped one).
func (s *Service) Refresh(ctx context.Context) error {
	bs, err := s.d.Store.Breakers(ctx)
	if err != nil {
		return err
	}
	for _, b := range bs {
		s.tripped.Store(b.RuleID+"@"+b.RuleVersion, true)
	}
	return nil
}

func (s *Service) isTripped(r *Rule) bool {
	_, ok := s.tripped.Load(r.ID + "@" + r.Version)
	return ok
}

// Outcome is what became of one ingested signal.
type Outcome struct {
	Action string // allow, step_up, lock, lock_review, suspend
	RuleID string // the enforced rule, if any
	LockID string // the lock it made, if any
}

// Record is the hook other packages call with monban's own signals (a
// sign-in, a new device, a code requested…): it stores and evaluates them
// inline, as one batch in one transaction (a sign-in's "new device" and
// "signed in" cost one round of statements, not two). Their accounts come
// from the store, so the existence check host-app signals get is skipped.
// Failures are logged, never passed on: a sign-in does not fail because
// risk could not record it.
func (s *Service) Record(ctx context.Context, sigs ...monban.Signal) {
	now := s.d.Clock.Now()
	for i := range sigs {
		if sigs[i].At.IsZero() {
			sigs[i].At = now
		}
	}
	if _, err := s.ingest(ctx, sigs, true); err != nil && len(sigs) > 0 {
		s.d.Log.WarnContext(ctx, "risk: record signals", "type", sigs[0].Type, "signals", len(sigs),
			"account", sigs[0].AccountID, "err", err)
	}
}

// Ingest validates, stores and evaluates a batch of signals, and locks
// the accounts the enforced verdicts say to. The batch is stored in one
// transaction; the rules then read the buckets as of the whole batch.
func (s *Service) Ingest(ctx context.Context, sigs []monban.Signal) ([]Outcome, error) {
	return s.ingest(ctx, sigs, false)
}

// ingest is Ingest; known says the accounts are known to exist (monban's
// own signals), so none is looked up.
func (s *Service) ingest(ctx context.Context, sigs []monban.Signal, known bool) ([]Outcome, error) {
	now := s.d.Clock.Now()
	for i := range sigs {
		if err := validate(&sigs[i], now, i, len(sigs) > 1); err != nil {
			return nil, err
		}
	}
	out := make([]Outcome, len(sigs))
	for i := range out {
		out[i].Action = ActionAllow
	}
	kept, at := sigs, make([]int, len(sigs))
	for i := range at {
		at[i] = i
	}
	if !known {
		var err error
		if kept, at, err = s.known(ctx, sigs); err != nil {
			return out, err
		}
	}
	if len(kept) == 0 {
		return out, nil
	}
	d := deltas(kept)
	if err := s.d.Store.IngestSignals(ctx, kept, deltaRows(d)); err != nil {
		return nil, err
	}
	s.Signals.Add(int64(len(kept)))
	st := s.rules.Load()
	if st == nil || len(st.rs.Rules) == 0 {
		return out, nil
	}
	v, err := s.readView(ctx, st.rs, kept, now)
	if err != nil {
		return nil, err
	}
	verdicts, err := s.evaluateAll(ctx, st, kept, v, now)
	if err != nil {
		return nil, err
	}
	sub := make([]Outcome, len(kept))
	for j := range sub {
		sub[j].Action = ActionAllow
	}
	if err := s.act(ctx, verdicts, sub, now); err != nil {
		return nil, err
	}
	for j, i := range at {
		out[i] = sub[j]
	}
	return out, nil
}

// known keeps the signals of accounts that exist, with their places in
// sigs. A signal about an unknown account is accepted and ignored: the
// answer is "allow", as for a known account nothing matched, so the
// signal API does not tell which account ids exist.
func (s *Service) known(ctx context.Context, sigs []monban.Signal) ([]monban.Signal, []int, error) {
	ids := make([]string, 0, len(sigs))
	seen := make(map[string]bool, len(sigs))
	for i := range sigs {
		if !seen[sigs[i].AccountID] {
			seen[sigs[i].AccountID] = true
			ids = append(ids, sigs[i].AccountID)
		}
	}
	known, err := s.d.Store.KnownAccounts(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	kept := make([]monban.Signal, 0, len(sigs))
	at := make([]int, 0, len(sigs))
	for i := range sigs {
		if known[sigs[i].AccountID] {
			kept = append(kept, sigs[i])
			at = append(at, i)
		}
	}
	return kept, at, nil
}

// readView reads, in one query per resolution, the buckets every rule
// may read for the batch's subjects.
func (s *Service) readView(ctx context.Context, rs *Ruleset, sigs []monban.Signal, now time.Time) (*view, error) {
	v := newView()
	subjects := map[time.Duration]map[string]bool{}
	longest := map[time.Duration]time.Duration{}
	for by, m := range rs.needs {
		for res, w := range m {
			if subjects[res] == nil {
				subjects[res] = map[string]bool{}
			}
			longest[res] = max(longest[res], w)
			for i := range sigs {
				if sub := subjectOf(by, &sigs[i]); sub != "" {
					subjects[res][sub] = true
				}
			}
		}
	}
	for res, set := range subjects {
		list := make([]string, 0, len(set))
		for sub := range set {
			list = append(list, sub)
		}
		slices.Sort(list)
		rows, err := s.d.Store.RiskBuckets(ctx, list, res, align(now.Add(-longest[res]), res), rs.types)
		if err != nil {
			return nil, err
		}
		v.addRows(rows)
	}
	return v, nil
}

func (s *Service) evaluateAll(ctx context.Context, st *ruleState, sigs []monban.Signal, v *view, now time.Time) ([]Verdict, error) {
	ev, err := st.pool.get()
	if err != nil {
		return nil, err
	}
	defer st.pool.put(ev)
	out := make([]Verdict, len(sigs))
	for i := range sigs {
		start := time.Now()
		vd, errs := ev.evaluate(&sigs[i], v, now, s.isTripped)
		s.evalNanos.add(time.Since(start))
		s.Evaluations.Add(1)
		for _, e := range errs {
			s.d.Log.WarnContext(ctx, "risk: rule failed to evaluate", "err", e, "version", st.rs.Version)
		}
		out[i] = vd
	}
	return out, nil
}

// act records every match and makes the enforced locks, one per account
// per batch (the first verdict that asks for one).
func (s *Service) act(ctx context.Context, verdicts []Verdict, out []Outcome, now time.Time) error {
	var ds []monban.RiskDecision
	locked := map[string]string{}
	for i := range verdicts {
		vd := &verdicts[i]
		for _, m := range vd.Matches {
			ds = append(ds, monban.RiskDecision{At: now, AccountID: vd.Signal.AccountID, RuleID: m.Rule.ID,
				RuleVersion: m.Rule.Version, Action: m.Rule.Action, Shadow: m.Shadow, SignalType: vd.Signal.Type})
			if m.Shadow {
				s.ShadowMatches.Add(1)
			}
		}
		if vd.Enforce == nil {
			continue
		}
		out[i].Action, out[i].RuleID = vd.Enforce.Rule.Action, vd.Enforce.Rule.ID
		if vd.Enforce.Rule.Kind == "" {
			continue
		}
		if id, done := locked[vd.Signal.AccountID]; done {
			out[i].LockID = id
			continue
		}
		l, err := s.lock(ctx, vd, now)
		if err != nil {
			return err
		}
		if l != nil {
			locked[vd.Signal.AccountID] = l.ID
			out[i].LockID = l.ID
		} else {
			locked[vd.Signal.AccountID] = ""
		}
	}
	return s.d.Store.RecordDecisions(ctx, ds)
}

// lock makes the lock an enforced verdict asks for, with its notice, in
// one transaction; nil if the account is already locked or the rule's
// breaker has tripped.
func (s *Service) lock(ctx context.Context, vd *Verdict, now time.Time) (*monban.Lock, error) {
	r, sig := vd.Enforce.Rule, vd.Signal
	longest := time.Hour
	for _, c := range r.calls {
		longest = max(longest, c.window)
	}
	ids, err := s.d.Store.RecentSignalIDs(ctx, sig.AccountID, now.Add(-longest), 50)
	if err != nil {
		return nil, err
	}
	evb, _ := json.Marshal(Evidence{Signal: EvidenceSignal{Type: sig.Type, At: sig.At, IP: sig.IP, Device: sig.DeviceID,
		Amount: sig.Amount, Currency: sig.Currency, Instrument: sig.Instrument, Attrs: sig.Attrs},
		Read: vd.Enforce.Read, SignalIDs: ids, Rule: r.ID, When: r.When})
	l := &monban.Lock{ID: monban.NewID("lck"), AccountID: sig.AccountID, Kind: r.Kind, Category: r.Category,
		RuleID: r.ID, RuleVersion: r.Version, Evidence: string(evb), WaysOut: r.Ways, CreatedAt: now}
	if r.Duration > 0 {
		l.ExpiresAt = now.Add(r.Duration)
	}
	err = s.createLock(ctx, l, monban.AuditEvent{At: now, AccountID: l.AccountID, Action: monban.AuditLocked,
		Detail: map[string]string{"lock_id": l.ID, "rule": r.ID, "version": r.Version, "kind": string(r.Kind), "category": r.Category}})
	if errors.Is(err, monban.ErrLockExists) {
		return nil, nil
	}
	if errors.Is(err, monban.ErrLockBreakerOpen) {
		s.tripped.Store(r.ID+"@"+r.Version, true)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.Locks.Add(1)
	s.d.Log.InfoContext(ctx, "account locked", "account", l.AccountID, "lock", l.ID, "rule", r.ID, "version", r.Version,
		"kind", l.Kind, "category", l.Category)
	s.checkBreaker(ctx, r, now)
	return l, nil
}

// createLock stores l with its notice; a repeated notice reference is
// drawn again.
func (s *Service) createLock(ctx context.Context, l *monban.Lock, ev monban.AuditEvent) error {
	params := map[string]string{}
	if !l.ExpiresAt.IsZero() {
		params["until"] = l.ExpiresAt.UTC().Format(time.RFC3339)
	}
	for try := 0; ; try++ {
		n, msgs, err := s.d.Notices.Compose(ctx, l.AccountID, monban.TopicAccountLocked, params, notices.Options{})
		if err != nil {
			return err
		}
		err = s.d.Store.CreateLock(ctx, l, n, msgs, ev, webhookEvent(monban.TopicAccountLocked, l, ev.At))
		if errors.Is(err, monban.ErrNoticeRefTaken) && try < 3 {
			continue
		}
		if err == nil && s.d.Notify != nil {
			// A lock placed during a paced answer (a sign-in failure)
			// wakes the worker once the answer is out.
			pacing.After(ctx, s.d.Notify.Notify)
		}
		return err
	}
}

// Lock locks an account by hand (an agent or an operator), with its
// notice; for the support desk and tests.
func (s *Service) Lock(ctx context.Context, l *monban.Lock, by string) error {
	now := s.d.Clock.Now()
	if l.ID == "" {
		l.ID = monban.NewID("lck")
	}
	l.CreatedAt = now
	if !l.Allows(monban.WaySupport) {
		l.WaysOut = append(l.WaysOut, monban.WaySupport)
	}
	return s.createLock(ctx, l, monban.AuditEvent{At: now, AccountID: l.AccountID, Action: monban.AuditLocked,
		Detail: map[string]string{"lock_id": l.ID, "by": by, "kind": string(l.Kind), "category": l.Category}})
}

// webhookEvent is what the host app is told of a lock or a lift: the
// category and until when, never the rule.
func webhookEvent(topic string, l *monban.Lock, at time.Time) *monban.WebhookEvent {
	data := map[string]string{"lock_id": l.ID, "kind": string(l.Kind), "category": l.Category}
	if !l.ExpiresAt.IsZero() {
		data["until"] = l.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if topic == monban.TopicAccountUnlocked {
		data["how"] = l.LiftedHow
	}
	return &monban.WebhookEvent{ID: monban.NewID("evt"), Type: topic, AccountID: l.AccountID, Data: data, CreatedAt: at}
}

// checkBreaker trips the rule's breaker when its lock rate in the window
// is more than Multiple times its baseline rate (and at least MinLocks).
func (s *Service) checkBreaker(ctx context.Context, r *Rule, now time.Time) {
	st := s.rules.Load()
	if st == nil || s.isTripped(r) {
		return
	}
	b := st.rs.Breaker
	recent, err := s.d.Store.LockCount(ctx, r.ID, now.Add(-b.Window), now.Add(time.Microsecond))
	if err != nil || recent < b.MinLocks {
		return
	}
	before, err := s.d.Store.LockCount(ctx, r.ID, now.Add(-b.Baseline), now.Add(-b.Window))
	if err != nil {
		return
	}
	baseline := float64(before) * float64(b.Window) / float64(b.Baseline-b.Window)
	if float64(recent) <= b.Multiple*baseline {
		return
	}
	desc := jsonString(map[string]any{"window": b.Window.String(), "baseline_per_window": baseline, "multiple": b.Multiple,
		"min_locks": b.MinLocks})
	tripped, err := s.d.Store.TripBreaker(ctx, monban.RiskBreaker{RuleID: r.ID, RuleVersion: r.Version, TrippedAt: now,
		Locks: int64(recent), Baseline: desc}, monban.AuditEvent{At: now, Action: monban.AuditBreakerTipped,
		Detail: map[string]string{"rule": r.ID, "version": r.Version, "locks": itoa(recent)}})
	if err != nil {
		s.d.Log.ErrorContext(ctx, "risk: trip breaker", "rule", r.ID, "err", err)
		return
	}
	s.tripped.Store(r.ID+"@"+r.Version, true)
	if tripped {
		s.Trips.Add(1)
		s.d.Log.ErrorContext(ctx, "ALARM risk circuit breaker tripped: rule switched to shadow mode, it locks no one until a new rules version is loaded",
			"alarm", "risk_breaker", "rule", r.ID, "version", r.Version, "locks_in_window", recent, "window", b.Window.String(),
			"baseline_per_window", baseline, "multiple", b.Multiple,
			"next", "monban admin locks rollback --rule "+r.ID+" --version "+r.Version+" --dry-run")
	}
}

// Tripped lists the rule versions whose breaker has tripped, as this node
// knows them.
func (s *Service) Tripped() []string {
	var out []string
	s.tripped.Range(func(k, _ any) bool { out = append(out, k.(string)); return true })
	slices.Sort(out)
	return out
}

// EvalP99 is the 99th percentile of recent evaluation times (one signal,
// every rule it triggers, aggregates in memory).
func (s *Service) EvalP99() time.Duration { return s.evalNanos.quantile(0.99) }

// ResetLatencies forgets the recorded evaluation times.
func (s *Service) ResetLatencies() { s.evalNanos.reset() }
