package sqlstore

import (
	"sync"

	"github.com/monban-dev/monban"
)

// sessionCache keeps session checks between commits, on SQLite only. An
// embedded SQLite file has one monban process writing to it, and every
// write of that process is a commit on the one write connection, which
// commitCounter counts: an entry read before the latest commit is never
// used. A write by another process on the same file (the admin command)
// is counted too, by the data_version watcher (data_version.go), within
// watchEvery. PostgreSQL, shared by many nodes, has no such cache.
type sessionCache struct {
	mu sync.RWMutex
	m  map[string]cachedState
}

type cachedState struct {
	st      monban.SessionState
	commits uint64
}

// maxCachedSessions bounds the cache's memory; past it, it starts over.
const maxCachedSessions = 100_000

func newSessionCache() *sessionCache { return &sessionCache{m: map[string]cachedState{}} }

// get returns a copy of the entry for hash if nothing was committed since it
// was read.
func (c *sessionCache) get(hash []byte, commits uint64) (*monban.SessionState, bool) {
	c.mu.RLock()
	e, ok := c.m[string(hash)]
	c.mu.RUnlock()
	if !ok || e.commits != commits {
		return nil, false
	}
	return copyState(&e.st), true
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
