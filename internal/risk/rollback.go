package risk

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/notices"
)

func noticeOpts() notices.Options { return notices.Options{} }

// RollbackOptions says which locks to lift and how.
type RollbackOptions struct {
	Filter monban.LockFilter
	DryRun bool
	Batch  int // locks per transaction; default 5000
	// Workers is how many batches are lifted at once; default: as many as
	// the store writes well at once (one on SQLite).
	Workers int
	By      string // who asked, e.g. "operator:alice"
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
	if o.Workers <= 0 {
		o.Workers = 1
		if w, ok := s.d.Store.(concurrentWriters); ok {
			o.Workers = w.ConcurrentWriters()
		}
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
	p, err = s.liftAll(ctx, o, p)
	if s.d.Notify != nil && p.Lifted > 0 {
		s.d.Notify.Notify()
	}
	if err != nil {
		return p, err
	}
	s.d.Log.InfoContext(ctx, "risk rollback", "rule", o.Filter.RuleID, "version", o.Filter.Version, "lifted", p.Lifted,
		"skipped", p.Skipped, "done", p.Done, "by", o.By)
	return p, nil
}

// concurrentWriters is a store that can run several write transactions at
// once (PostgreSQL), and says how many a bulk change should.
type concurrentWriters interface{ ConcurrentWriters() int }

// liftAll reads the batches in account order and hands them to o.Workers
// lifters, each batch its own transaction. The batches are disjoint, so
// the lifters never wait for each other's rows; the reader reads the next
// batch while they write.
func (s *Service) liftAll(ctx context.Context, o RollbackOptions, p RollbackProgress) (RollbackProgress, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []monban.Lock)
	var mu sync.Mutex // guards p
	start := time.Now()
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Go(func() {
			for locks := range batches {
				if ctx.Err() != nil {
					continue // drain: the reader stops soon
				}
				lifted, err := s.liftBatch(ctx, locks, o.By)
				if err != nil {
					cancel(err)
					continue
				}
				mu.Lock()
				p.Lifted += lifted
				p.Skipped += len(locks) - lifted
				p.progress(time.Since(start))
				if o.Progress != nil {
					o.Progress(p)
				}
				mu.Unlock()
			}
		})
	}
	done, readErr := s.readBatches(ctx, o, batches)
	close(batches)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return p, err
	}
	if readErr != nil {
		return p, readErr
	}
	p.Done = done
	return p, nil
}

// readBatches sends the batches of locks in force to out until none is
// left (done), the deadline has passed or ctx ends.
func (s *Service) readBatches(ctx context.Context, o RollbackOptions, out chan<- []monban.Lock) (done bool, err error) {
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return false, nil // the cause is the caller's to report
		}
		if after != "" && !o.Deadline.IsZero() && time.Now().After(o.Deadline) {
			return false, nil
		}
		locks, err := s.d.Store.LocksAfter(ctx, o.Filter, after, o.Batch)
		if err != nil {
			return false, err
		}
		if len(locks) == 0 {
			return true, nil
		}
		after = locks[len(locks)-1].AccountID
		select {
		case out <- locks:
		case <-ctx.Done():
			return false, nil
		}
	}
}

// progress updates the rate and the ETA after elapsed.
func (p *RollbackProgress) progress(elapsed time.Duration) {
	p.Elapsed = elapsed
	if elapsed > 0 {
		p.Rate = float64(p.Lifted+p.Skipped) / elapsed.Seconds()
	}
	p.ETA = 0
	if left := p.Total - p.Lifted - p.Skipped; p.Rate > 0 && left > 0 {
		p.ETA = time.Duration(float64(left) / p.Rate * float64(time.Second))
	}
}

// liftBatch lifts one batch: reads the people's languages and contacts in
// bulk, composes each notice, and writes everything in one transaction.
func (s *Service) liftBatch(ctx context.Context, locks []monban.Lock, by string) (int, error) {
	accounts := make([]string, len(locks))
	for i, l := range locks {
		accounts[i] = l.AccountID
	}
	langs, contacts, err := s.d.Store.NoticeTargets(ctx, accounts)
	if err != nil {
		return 0, err
	}
	for try := 0; ; try++ {
		ids := batchIDs()
		b, err := s.d.Notices.NewBatch(monban.TopicAccountUnlocked, ids)
		if err != nil {
			return 0, err
		}
		// The rule was faulty: the notice says the lock was monban's mistake.
		b.WithParams(map[string]string{"how": "rollback"})
		now := s.d.Clock.Now()
		lifts := make([]monban.LockLift, len(locks))
		for i, l := range locks {
			n, msgs, err := b.Compose(l.AccountID, langs[l.AccountID], contacts[l.AccountID])
			if err != nil {
				return 0, err
			}
			lifted := l
			lifted.LiftedAt, lifted.LiftedBy, lifted.LiftedHow = now, by, "rollback"
			ev := webhookEvent(monban.TopicAccountUnlocked, &lifted, now)
			ev.ID = ids("evt")
			lifts[i] = monban.LockLift{LockID: l.ID, AccountID: l.AccountID, At: now, By: by, How: "rollback",
				Notice: n, Messages: msgs, Audit: monban.AuditEvent{At: now, AccountID: l.AccountID, Action: monban.AuditUnlocked,
					Detail: map[string]string{"lock_id": l.ID, "rule": l.RuleID, "version": l.RuleVersion, "by": by, "how": "rollback"}},
				Event: ev}
		}
		done, err := s.d.Store.LiftLocks(ctx, lifts)
		if errors.Is(err, monban.ErrNoticeRefTaken) && try < 3 {
			continue
		}
		if err != nil {
			return 0, err
		}
		s.Lifts.Add(int64(len(done)))
		return len(done), nil
	}
}

// batchIDs returns a source of ids in monban.NewID's form whose first 48
// bits are the same for the whole batch (and random): the batch's notices,
// messages and webhook events then sit together in their id indexes, a few
// pages per batch instead of one page per row. The other 80 bits are
// random for each id, so each stays unguessable.
func batchIDs() func(prefix string) string {
	var shared [6]byte
	if _, err := rand.Read(shared[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return func(prefix string) string {
		var b [16]byte
		copy(b[:], shared[:])
		if _, err := rand.Read(b[len(shared):]); err != nil {
			panic(err)
		}
		return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b[:]))
	}
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)
