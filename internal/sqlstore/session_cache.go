package sqlstore

import (
	"sync"
	"time"

	"github.com/monban-dev/monban"
)

// sessionCache keeps session checks between commits, on SQLite only. An
// embedded SQLite file has one monban process writing to it, and every
// write of that process is a commit on the one write connection, which
// commitCounter counts: an entry read before the latest commit is never
// used. A write by another process on the same file (the admin command)
// is counted too, by the data_version watcher (data_version.go), within
// watchEvery. PostgreSQL, shared by many nodes, has no such cache.
//
// A session's last-seen touch is the exception: it is written without
// counting as a commit, and applied here instead, to the session's entry
// and to every later read of it (seen), so a check that read the row just
// before the touch cannot bring the older time back.
type sessionCache struct {
	mu   sync.RWMutex
	m    map[string]cachedState
	seen map[string]time.Time // session id → last-seen time written by a touch
}

type cachedState struct {
	st      monban.SessionState
	commits uint64
}

// maxCachedSessions bounds the cache's memory; past it, it starts over.
const maxCachedSessions = 100_000

func newSessionCache() *sessionCache {
	return &sessionCache{m: map[string]cachedState{}, seen: map[string]time.Time{}}
}

// get returns a copy of the entry for hash if nothing was committed since it
// was read.
func (c *sessionCache) get(hash []byte, commits uint64) (*monban.SessionState, bool) {
	c.mu.RLock()
	e, ok := c.m[string(hash)]
	c.mu.RUnlock()
	if !ok || e.commits != commits {
		return nil, false
	}
	st := copyState(&e.st)
	c.applySeen(st)
	return st, true
}

// applySeen moves st's last-seen time forward to its latest touch.
func (c *sessionCache) applySeen(st *monban.SessionState) {
	c.mu.RLock()
	t, ok := c.seen[st.Session.ID]
	c.mu.RUnlock()
	if ok && t.After(st.Session.LastSeenAt) {
		st.Session.LastSeenAt = t
	}
}

// touched records a last-seen time written to the database.
func (c *sessionCache) touched(sessionID string, at time.Time) {
	c.mu.Lock()
	if len(c.seen) >= maxCachedSessions {
		clear(c.seen)
	}
	if at.After(c.seen[sessionID]) {
		c.seen[sessionID] = at
	}
	c.mu.Unlock()
}

// put stores st as read when commits commits had happened.
func (c *sessionCache) put(hash []byte, st *monban.SessionState, commits uint64) {
	c.mu.Lock()
	if len(c.m) >= maxCachedSessions {
		clear(c.m)
	}
	c.m[string(hash)] = cachedState{st: *copyState(st), commits: commits}
	c.mu.Unlock()
}

// copyState copies what callers may change.
func copyState(st *monban.SessionState) *monban.SessionState {
	out := *st
	s := *st.Session
	out.Session = &s
	out.Identifiers = append([]monban.Identifier(nil), st.Identifiers...)
	return &out
}
