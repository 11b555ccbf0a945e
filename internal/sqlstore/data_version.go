package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// Writes by other processes on the same SQLite file (the admin command,
// a second node started by mistake) do not pass through this process's
// commit hook. PRAGMA data_version, read again and again on one
// connection, changes whenever any other connection has committed. The
// watcher reads it on this process's write connection, so that it changes
// for other processes' commits only (this process's own are counted by the
// commit hook, and its read connections never write), and counts each
// change as a commit: the session cache drops what it read before. The
// cache is trusted only while the watcher is alive: when its last poll is
// older than watchStale (a long write transaction holds the connection, or
// polling failed), every check reads the database.

// watchEvery is how often the watcher polls: the longest a write by
// another process can go unseen by the session check.
const watchEvery = 100 * time.Millisecond

// watchStale is how old the last poll may be before the cache is bypassed.
const watchStale = time.Second

type dataVersionWatch struct {
	conn    *sql.DB // the write connection (one): data_version is per connection
	commits *atomic.Uint64
	mu      sync.Mutex // one poll at a time
	last    int64
	polled  atomic.Int64 // unix nanoseconds of the last poll that succeeded
	stop    chan struct{}
	halted  sync.Once
	done    sync.WaitGroup
}

func newDataVersionWatch(w *sql.DB, commits *atomic.Uint64) (*dataVersionWatch, error) {
	dv := &dataVersionWatch{conn: w, commits: commits, last: -1, stop: make(chan struct{})}
	if err := dv.poll(context.Background(), time.Now()); err != nil {
		return nil, err
	}
	dv.done.Add(1)
	go dv.run()
	return dv, nil
}

func (w *dataVersionWatch) run() {
	defer w.done.Done()
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case now := <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), watchStale)
			w.poll(ctx, now) // a failed poll leaves polled old: the cache is bypassed
			cancel()
		}
	}
}

// poll reads data_version once; a change (or a new connection, whose
// numbering starts afresh) counts as a commit.
func (w *dataVersionWatch) poll(ctx context.Context, now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var v int64
	if err := w.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return err
	}
	if v != w.last {
		if w.last != -1 {
			w.commits.Add(1)
		}
		w.last = v
	}
	w.polled.Store(now.UnixNano())
	return nil
}

// fresh reports whether the watcher has polled recently enough for cached
// reads to be trusted at now.
func (w *dataVersionWatch) fresh(now time.Time) bool {
	p := w.polled.Load()
	return now.UnixNano()-p < int64(watchStale) && now.UnixNano() >= p-int64(watchStale)
}

// halt stops the polling loop; poll still works when called.
func (w *dataVersionWatch) halt() {
	w.halted.Do(func() { close(w.stop) })
	w.done.Wait()
}

func (w *dataVersionWatch) close() error {
	w.halt() // the connection is the store's, closed with it
	return nil
}
