package proof

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrash kills a node with SIGKILL in the middle of a mixed load
// (sign-ups, sign-ins, code sends), restarts it on the same database, and
// checks that every acknowledged write is there, every acknowledged code's
// message is in the outbox and gets delivered, and nothing half-done is
// visible.
func TestCrash(t *testing.T) {
	// In parallel: each waits about a minute for the dead node's claims.
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		data := t.TempDir()
		testCrash(t, nodeSpec{data: data}, filepath.Join(data, "monban.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := postgresDSN(t)
		testCrash(t, nodeSpec{database: dsn}, dsn)
	})
}

// acked is what the node acknowledged (2xx) before it died.
type acked struct {
	mu       sync.Mutex
	accounts map[string]string // account id → username
	sessions []string          // tokens from sign-ins
	messages map[string]string // message id → flow id
}

func testCrash(t *testing.T, spec nodeSpec, dsn string) {
	ctx := t.Context()
	sink := startSMTP(t)
	spec.env = map[string]string{}
	for k, v := range fastHash {
		spec.env[k] = v
	}
	for k, v := range sink.env() {
		spec.env[k] = v
	}
	node := startNode(t, "crash", spec)
	got := &acked{accounts: map[string]string{}, messages: map[string]string{}}

	// Kill after this many acknowledged operations; the load keeps going
	// until the process is gone, so writes are in flight when it dies.
	killAfter := int64(scale(60, 600))
	var ops atomic.Int64
	load, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var seq atomic.Int64
	for range 8 {
		wg.Go(func() {
			c := newClient() // its own address: per-IP limits stay out of the way
			for load.Err() == nil {
				n := seq.Add(1)
				mixedStep(load, c, node.URL, n, got, &ops)
			}
		})
	}
	waitFor(t, "load to reach the kill point", 60*time.Second, func() bool { return ops.Load() >= killAfter })
	node.kill()
	stopLoad()
	wg.Wait()
	got.mu.Lock()
	defer got.mu.Unlock()
	t.Logf("SIGKILL after %d acknowledged operations: %d sign-ups, %d sign-ins, %d code sends acknowledged",
		ops.Load(), len(got.accounts), len(got.sessions), len(got.messages))

	node.restart()
	db := openDB(t, dsn)
	c := newClient()

	for id, username := range got.accounts {
		var n int
		if err := db.QueryRow(rebind(dsn, `SELECT count(*) FROM identifiers WHERE account_id = ? AND kind = 'username' AND value = ?`),
			id, username).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("acknowledged sign-up %s (%s) is missing after the crash", id, username)
		}
	}
	for _, tok := range got.sessions {
		if a := c.call(ctx, "GET", node.URL+"/api/v1/account", tok, nil); a.status != http.StatusOK {
			t.Errorf("an acknowledged sign-in's session is refused after the crash: %s", a)
		}
	}
	for msg, flow := range got.messages {
		var n int
		if err := db.QueryRow(rebind(dsn, `SELECT count(*) FROM messages m JOIN codes c ON c.message_id = m.id
			WHERE m.id = ? AND c.flow_id = ?`), msg, flow).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("acknowledged code send %s (flow %s) has no code and outbox message after the crash", msg, flow)
		}
	}
	halfDone(t, db)

	// Messages the dead node had claimed wait for their claim's lease (one
	// minute) to run out, then the restarted node sends them.
	leased := queryInt(t, db, `SELECT count(*) FROM messages WHERE status = 'sending'`)
	start := time.Now()
	waitFor(t, "every acknowledged code's email delivered after the restart", 100*time.Second, func() bool {
		for msg := range got.messages {
			if !sink.has(msg) {
				return false
			}
		}
		return true
	})
	_, dup := sink.counts()
	t.Logf("after restart: %d acknowledged sign-ups present, %d sessions valid, %d acknowledged codes delivered "+
		"(%d were claimed by the dead node, delivered %v after the restart; %d emails sent twice: in flight at the kill)",
		len(got.accounts), len(got.sessions), len(got.messages), leased, time.Since(start).Round(time.Second), dup)
	if dup > 8 { // at most the node's outbox workers' messages in flight
		t.Errorf("%d emails went out twice; only those in flight at the kill may", dup)
	}
	if a := c.call(ctx, "POST", node.URL+"/api/v1/sessions", "", map[string]string{"identifier": "nobody-" + uniq(),
		"password": password}); a.status != http.StatusUnauthorized {
		t.Errorf("the restarted node does not answer sign-ins normally: %s", a)
	}
}

// mixedStep is one user's visit: sign up, sometimes sign in again, ask for
// an email code. Acknowledged results are recorded.
func mixedStep(ctx context.Context, c *client, base string, n int64, got *acked, ops *atomic.Int64) {
	username := fmt.Sprintf("crash%d%s", n, uniq())
	a := c.call(ctx, "POST", base+"/api/v1/accounts", "", map[string]string{"username": username,
		"email": username + "@example.jp", "phone": phone(), "password": password, "lang": "en"})
	if a.status != http.StatusCreated {
		return
	}
	var s struct {
		AccountID string `json:"account_id"`
		Token     string `json:"token"`
	}
	if json_(a, &s) != nil {
		return
	}
	got.mu.Lock()
	got.accounts[s.AccountID] = username
	got.mu.Unlock()
	ops.Add(1)
	if n%2 == 0 {
		a = c.call(ctx, "POST", base+"/api/v1/sessions", "", map[string]string{"identifier": username, "password": password})
		var si struct {
			Token string `json:"token"`
		}
		if a.status == http.StatusCreated && json_(a, &si) == nil {
			got.mu.Lock()
			got.sessions = append(got.sessions, si.Token)
			got.mu.Unlock()
			ops.Add(1)
		}
	}
	a = c.call(ctx, "POST", base+"/api/v1/flows", s.Token, map[string]string{"kind": "email"})
	var f flowAnswer
	if a.status == http.StatusCreated && json_(a, &f) == nil && len(f.Messages) == 1 {
		got.mu.Lock()
		got.messages[f.Messages[0].ID] = f.ID
		got.mu.Unlock()
		ops.Add(1)
	}
}

// halfDone fails the test if any write is visible only in part.
func halfDone(t *testing.T, db *sql.DB) {
	t.Helper()
	for what, q := range map[string]string{
		"accounts without identifiers": `SELECT count(*) FROM accounts a
			WHERE NOT EXISTS (SELECT 1 FROM identifiers i WHERE i.account_id = a.id)`,
		"flows without a code": `SELECT count(*) FROM flows f WHERE NOT EXISTS (SELECT 1 FROM codes c WHERE c.flow_id = f.id)`,
		"codes without their message": `SELECT count(*) FROM codes c
			WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = c.message_id)`,
		"code messages without their code": `SELECT count(*) FROM messages m WHERE m.flow_id <> ''
			AND NOT EXISTS (SELECT 1 FROM codes c WHERE c.message_id = m.id)`,
		"sessions without an account": `SELECT count(*) FROM sessions s
			WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = s.account_id)`,
	} {
		if n := queryInt(t, db, q); n != 0 {
			t.Errorf("half-done after the crash: %d %s", n, what)
		}
	}
}
