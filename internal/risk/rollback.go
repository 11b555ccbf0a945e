package risk

import (
	"context"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/notices"
)

func noticeOpts() notices.Options { return notices.Options{} }

// RollbackOptions says which locks to lift and how.
type RollbackOptions struct {
	Filter monban.LockFilter
	DryRun bool
	Batch  int    // locks per transaction; default 1000
	By     string // who asked, e.g. "operator:alice"
	// Deadline, when set, stops after the batch that passes it (the admin
	// API answers within its request timeout; the caller calls again).
	Deadline time.Time
	Progress func(RollbackProgress)
}

// RollbackProgress reports a rollback as it goes.
type RollbackProgress struct {
	Total   int           `json:"total"`   // locks in force that matched at the start
	Lifted  int           `json:"lifted"`  // lifted by this run
	Skipped int           `json:"skipped"` // lifted meanwhile by someone else
	Elapsed time.Duration `json:"-"`
	Rate    float64       `json:"rate"` // locks per second
	ETA     time.Duration `json:"-"`
	Done    bool          `json:"done"`
	Sample  []string      `json:"sample,omitempty"` // dry run: a few account ids
}

// Rollback lifts every lock in force that o.Filter matches, in batches of
// one transaction each: the lock, a notice to its person and one audit
// entry per account. Interrupted, it leaves whole batches lifted and the
// rest in force; run again, it lifts the rest (it only ever selects locks
// still in force).
func (s *Service) Rollback(ctx context.Context, o RollbackOptions) (RollbackProgress, error) {
	if o.Filter.RuleID == "" {
		return RollbackProgress{}, monban.Errorf(monban.EInvalid, "rollback.rule").WithField("rule")
	}
	if o.Batch <= 0 {
		o.Batch = 5000
	}
	if o.By == "" {
		o.By = "operator"
	}
	total, err := s.d.Store.CountLocks(ctx, o.Filter)
	if err != nil {
		return RollbackProgress{}, err
	}
	p := RollbackProgress{Total: total}
	if o.DryRun {
		locks, err := s.d.Store.LocksAfter(ctx, o.Filter, "", 10)
		if err != nil {
			return p, err
		}
		for _, l := range locks {
			p.Sample = append(p.Sample, l.AccountID)
		}
		p.Done = true
		return p, nil
	}
	start := time.Now()
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return p, err
		}
		locks, err := s.d.Store.LocksAfter(ctx, o.Filter, after, o.Batch)
		if err != nil {
			return p, err
		}
		if len(locks) == 0 {
			p.Done = true
			break
		}
		after = locks[len(locks)-1].ID
		lifted, err := s.liftBatch(ctx, locks, o.By)
		if err != nil {
			return p, err
		}
		p.Lifted += lifted
		p.Skipped += len(locks) - lifted
		p.Elapsed = time.Since(start)
		if p.Elapsed > 0 {
			p.Rate = float64(p.Lifted+p.Skipped) / p.Elapsed.Seconds()
		}
		if left := p.Total - p.Lifted - p.Skipped; p.Rate > 0 && left > 0 {
			p.ETA = time.Duration(float64(left) / p.Rate * float64(time.Second))
		} else {
			p.ETA = 0
		}
		if o.Progress != nil {
			o.Progress(p)
		}
		if !o.Deadline.IsZero() && time.Now().After(o.Deadline) {
			break
		}
	}
	if s.d.Notify != nil {
		s.d.Notify.Notify()
	}
	s.d.Log.InfoContext(ctx, "risk rollback", "rule", o.Filter.RuleID, "version", o.Filter.Version, "lifted", p.Lifted,
		"skipped", p.Skipped, "done", p.Done, "by", o.By)
	return p, nil
}

// liftBatch lifts one batch: reads the people's languages and contacts in
// bulk, composes each notice, and writes everything in one transaction.
func (s *Service) liftBatch(ctx context.Context, locks []monban.Lock, by string) (int, error) {
	accounts := make([]string, len(locks))
	for i, l := range locks {
		accounts[i] = l.AccountID
	}
	langs, ids, err := s.d.Store.NoticeTargets(ctx, accounts)
	if err != nil {
		return 0, err
	}
	for try := 0; ; try++ {
		now := s.d.Clock.Now()
		lifts := make([]monban.LockLift, len(locks))
		for i, l := range locks {
			n, msgs, err := s.d.Notices.ComposeFor(l.AccountID, langs[l.AccountID], ids[l.AccountID], monban.TopicAccountUnlocked, nil)
			if err != nil {
				return 0, err
			}
			lifted := l
			lifted.LiftedAt, lifted.LiftedBy, lifted.LiftedHow = now, by, "rollback"
			lifts[i] = monban.LockLift{LockID: l.ID, AccountID: l.AccountID, At: now, By: by, How: "rollback",
				Notice: n, Messages: msgs, Audit: monban.AuditEvent{At: now, AccountID: l.AccountID, Action: monban.AuditUnlocked,
					Detail: map[string]string{"lock_id": l.ID, "rule": l.RuleID, "version": l.RuleVersion, "by": by, "how": "rollback"}},
				Event: webhookEvent(monban.TopicAccountUnlocked, &lifted, now)}
		}
		done, err := s.d.Store.LiftLocks(ctx, lifts)
		if e, ok := monban.AsError(err); ok && e.Key == "notice.ref_taken" && try < 3 {
			continue
		}
		if err != nil {
			return 0, err
		}
		s.Lifts.Add(int64(len(done)))
		return len(done), nil
	}
}
