package proof

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultyRules locks on every follow: a rule an operator got wrong. Its
// breaker trips at 20 locks (no baseline: a new rule).
const faultyRules = `version: "faulty.1"
breaker: {window: 10m, baseline: 24h, multiple: 10, min_locks: 20}
rules:
  - id: faulty-follow
    on: [follow]
    when: 'count("follow", "1h") >= 1'
    action: lock
    category: unusual_activity
`

// TestMultiNodeActsOnce runs three nodes on one PostgreSQL schema with the
// same rules file and checks what must happen once however many nodes
// take part: a recovery code used at once through every node is accepted
// once; a faulty rule's breaker trips once (one ALARM, one breaker row, one
// audit entry) while signals arrive through every node, and no node locks
// after it; a rollback run on every node at once (the admin API on each,
// and the CLI) lifts each lock once, with one unlock notice, one audit
// entry and one webhook event per person.
func TestMultiNodeActsOnce(t *testing.T) {
	ctx := t.Context()
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(faultyRules), 0o600); err != nil {
		t.Fatal(err)
	}
	dsn := postgresDSN(t)
	cl := &cluster{}
	for i := range 3 {
		env := map[string]string{"MONBAN_RULES_FILE": rules}
		for k, v := range fastHash {
			env[k] = v
		}
		cl.nodes = append(cl.nodes, startNode(t, fmt.Sprintf("node%d", i), nodeSpec{database: dsn, env: env}))
	}
	db := openDB(t, dsn)

	t.Run("recovery code", func(t *testing.T) { recoveryCodeOnce(t, ctx, cl, db) })
	t.Run("breaker and rollback", func(t *testing.T) { breakerAndRollbackOnce(t, ctx, cl, db, dsn) })
}

var recoveryCodeItem = regexp.MustCompile(`<li><code>([0-9A-Z-]{19})</code></li>`)

// recoveryCodeOnce: an account with 2-step on and recovery codes; many
// sign-ins from new devices, each held for the second step, all finished
// at once with the same recovery code through the round-robin.
func recoveryCodeOnce(t *testing.T, ctx context.Context, cl *cluster, db *sql.DB) {
	c := newClient()
	acc := signUp(t, ctx, c, cl.next(), "rcode"+uniq(), "", phone())
	// The browser signs in before the phone is verified: afterwards a new
	// browser would be asked for a code first.
	b := newBrowser(t, cl.nodes[0].URL)
	b.signIn(ctx, acc.Username, acc.Password)
	f := startFlow(t, ctx, c, cl.next(), acc, "phone")
	code := devCode(t, ctx, c, cl.next(), f.Messages[0].ID)
	if a := c.call(ctx, "POST", cl.next()+"/api/v1/flows/"+f.ID+"/verify", acc.Token, map[string]string{"code": code}); a.status != http.StatusOK {
		t.Fatalf("verify phone: %s", a)
	}
	if p := b.post(ctx, "/account/security", "/account/twostep", url.Values{"on": {"1"}, "confirm": {"codes"}}); p.status != http.StatusSeeOther || !strings.Contains(p.loc, "done=on") {
		t.Fatalf("turn 2-step on: %d → %q", p.status, p.loc)
	}
	p := b.post(ctx, "/account/security", "/account/recovery-codes", url.Values{})
	m := recoveryCodeItem.FindAllStringSubmatch(p.body, -1)
	if p.status != http.StatusOK || len(m) != 10 {
		t.Fatalf("recovery codes page: %d, %d codes\n%s", p.status, len(m), tail(p.body, 600))
	}
	rc := m[3][1]

	racers := scale(12, 48)
	type held struct{ ID, Secret string }
	var pend []held
	for range racers {
		a := newClient().call(ctx, "POST", cl.next()+"/api/v1/sessions", "", map[string]string{"identifier": acc.Username, "password": acc.Password})
		var out struct {
			P struct {
				ID     string   `json:"id"`
				Secret string   `json:"secret"`
				Ways   []string `json:"ways"`
			} `json:"pending_signin"`
		}
		a.decode(t, &out)
		if a.status != http.StatusAccepted || !slices.Contains(out.P.Ways, "recovery_code") {
			t.Fatalf("sign-in from a new device with 2-step on: %s; want 202 with a recovery_code way", a)
		}
		pend = append(pend, held{out.P.ID, out.P.Secret})
	}
	as := concurrently(racers, func(i int) answer {
		return newClient().call(ctx, "POST", cl.next()+"/api/v1/signins/"+pend[i].ID+"/verify", "",
			map[string]string{"secret": pend[i].Secret, "method": "recovery_code", "code": rc})
	})
	got := tally(as)
	// Every try is counted before the compare: those past the free ones
	// (from devices the account does not know) wait instead of losing.
	if got["201 "] != 1 || got["401 recovery_code.wrong"]+got["429 secret.throttled"] != racers-1 {
		t.Fatalf("one recovery code used by %d held sign-ins at once over 3 nodes: %v; want exactly one 201", racers, got)
	}
	used := queryInt(t, db, `SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND used_at <> 0`, acc.ID)
	audits := queryInt(t, db, `SELECT count(*) FROM audit_events WHERE account_id = $1 AND action = 'factor.recovery_code_used'`, acc.ID)
	if used != 1 || audits != 1 {
		t.Errorf("%d recovery codes marked used, %d audit entries; want 1 each", used, audits)
	}
	// Another of the ten still works, once the race's failures no longer
	// delay strangers (as a password reset would clear them).
	if _, err := db.ExecContext(ctx, `DELETE FROM throttle_counters WHERE key LIKE $1`, "rc:acct:"+acc.ID+":%"); err != nil {
		t.Fatal(err)
	}
	a := newClient().call(ctx, "POST", cl.next()+"/api/v1/sessions", "", map[string]string{"identifier": acc.Username, "password": acc.Password})
	var out struct {
		P struct{ ID, Secret string } `json:"pending_signin"`
	}
	a.decode(t, &out)
	if a := newClient().call(ctx, "POST", cl.next()+"/api/v1/signins/"+out.P.ID+"/verify", "",
		map[string]string{"secret": out.P.Secret, "method": "recovery_code", "code": strings.ToLower(m[7][1])}); a.status != http.StatusCreated {
		t.Errorf("a second, unused recovery code: %s", a)
	}
	t.Logf("one recovery code, %d held sign-ins finishing with it at once over 3 nodes: %v; %d code marked used, %d audit entries",
		racers, got, used, audits)
}

// breakerAndRollbackOnce: a faulty rule locks whoever follows anyone;
// signals for many accounts arrive through every node at once.
func breakerAndRollbackOnce(t *testing.T, ctx context.Context, cl *cluster, db *sql.DB, dsn string) {
	hostKey := apiKey(t, dsn, "shop", false)
	adminKey := apiKey(t, dsn, "ops", true)
	people := scale(80, 400)
	ids := make([]string, people)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range people {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := newClient()
			a := c.call(ctx, "POST", cl.next()+"/api/v1/accounts", "", map[string]string{"username": fmt.Sprintf("fol%d%s", i, uniq()),
				"email": fmt.Sprintf("fol%d.%s@example.jp", i, uniq()), "password": password, "lang": "en"})
			var out struct {
				AccountID string `json:"account_id"`
			}
			if a.status != http.StatusCreated || json_(a, &out) != nil {
				t.Errorf("sign up: %s", a)
				return
			}
			ids[i] = out.AccountID
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	as := make([]answer, people)
	start := time.Now()
	for i := range people {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			as[i] = newClient().call(ctx, "POST", cl.next()+"/api/v1/signals", hostKey,
				map[string]any{"account_id": ids[i], "type": "follow", "ip": "198.51.100.7"})
		})
	}
	wg.Wait()
	took := time.Since(start)
	for _, a := range as {
		if a.status != http.StatusAccepted {
			t.Fatalf("signal: %s", a)
		}
	}
	locks := queryInt(t, db, `SELECT count(*) FROM locks WHERE rule_id = 'faulty-follow'`)
	breakers := queryInt(t, db, `SELECT count(*) FROM risk_breakers WHERE rule_id = 'faulty-follow'`)
	tripAudits := queryInt(t, db, `SELECT count(*) FROM audit_events WHERE action = 'risk.breaker_tripped'`)
	alarms, metricTrips := 0, 0.0
	for _, n := range cl.nodes {
		alarms += strings.Count(n.out.String(), "ALARM risk circuit breaker tripped")
		v, _ := metric(t, newClient(), n.URL, "monban_risk_breakers_tripped")
		metricTrips += v
	}
	t.Logf("%d follow signals through 3 nodes in %v: %d locks, %d breaker rows, %d trip audit entries, %d ALARM lines, monban_risk_breakers_tripped (rule versions each node knows tripped) summed over 3 nodes %v",
		people, took.Round(time.Millisecond), locks, breakers, tripAudits, alarms, metricTrips)
	if breakers != 1 || tripAudits != 1 || alarms != 1 {
		t.Errorf("the breaker tripped %d times (%d audit entries, %d ALARM lines); want once", breakers, tripAudits, alarms)
	}
	if locks < 20 || locks >= people {
		t.Errorf("%d locks: want the breaker's 20 and the few in flight when it tripped, not all %d", locks, people)
	}
	// Every node knows, once a lock is refused there or at its next refresh.
	for i, n := range cl.nodes {
		waitFor(t, fmt.Sprintf("node %d to list the tripped breaker", i), 15*time.Second, func() bool {
			a := newClient().call(ctx, "GET", n.URL+"/api/v1/admin/breakers", adminKey, nil)
			return a.status == http.StatusOK && strings.Contains(string(a.body), "faulty-follow@faulty.1")
		})
	}
	// A signal after the trip locks no one, on any node.
	fresh := 0
	for i, id := range ids {
		if fresh == 3 {
			break
		}
		if queryInt(t, db, `SELECT count(*) FROM locks WHERE account_id = $1`, id) == 0 {
			a := newClient().call(ctx, "POST", cl.nodes[fresh].URL+"/api/v1/signals", hostKey, map[string]any{"account_id": id, "type": "follow"})
			if a.status != http.StatusAccepted || queryInt(t, db, `SELECT count(*) FROM locks WHERE account_id = $1`, id) != 0 {
				t.Errorf("person %d locked by the tripped rule on node %d: %s", i, fresh, a)
			}
			fresh++
		}
	}

	// Roll back on every node at once: the admin API on each, and the CLI.
	type run struct {
		Lifted  int  `json:"lifted"`
		Skipped int  `json:"skipped"`
		Done    bool `json:"done"`
	}
	runs := make([]run, len(cl.nodes))
	var cliOut []byte
	var cliErr error
	begin := make(chan struct{})
	for i, n := range cl.nodes {
		wg.Go(func() {
			<-begin
			a := newClient().call(ctx, "POST", n.URL+"/api/v1/admin/locks/rollback", adminKey, map[string]string{"rule": "faulty-follow"})
			if a.status != http.StatusOK || json_(a, &runs[i]) != nil {
				t.Errorf("rollback on node %d: %s", i, a)
			}
		})
	}
	wg.Go(func() {
		<-begin
		cmd := exec.CommandContext(ctx, binary(t), "admin", "locks", "rollback", "--rule", "faulty-follow", "--batch", "7", "--by", "proof")
		cmd.Env = append(cleanEnv(), "MONBAN_SECRET="+testSecret, "MONBAN_DATABASE="+dsn)
		cliOut, cliErr = cmd.CombinedOutput()
	})
	close(begin)
	wg.Wait()
	if cliErr != nil {
		t.Fatalf("monban admin locks rollback: %v\n%s", cliErr, cliOut)
	}
	lifted := 0
	for _, r := range runs {
		lifted += r.Lifted
	}
	cliLifted := 0
	if m := regexp.MustCompile(`lifted[ :=]+(\d+)`).FindAllStringSubmatch(string(cliOut), -1); len(m) > 0 {
		fmt.Sscan(m[len(m)-1][1], &cliLifted)
	}
	inForce := queryInt(t, db, `SELECT count(*) FROM locks WHERE rule_id = 'faulty-follow' AND lifted_at = 0`)
	notices := queryInt(t, db, `SELECT count(*) FROM notices WHERE topic = 'account.unlocked'`)
	twice := queryInt(t, db, `SELECT count(*) FROM (SELECT account_id FROM notices WHERE topic = 'account.unlocked' GROUP BY account_id HAVING count(*) > 1) x`)
	audits := queryInt(t, db, `SELECT count(*) FROM audit_events WHERE action = 'account.unlocked'`)
	hooks := queryInt(t, db, `SELECT count(*) FROM webhook_events WHERE type = 'account.unlocked'`)
	messages := queryInt(t, db, `SELECT count(*) FROM messages m JOIN notices n ON n.id = m.notice_id WHERE n.topic = 'account.unlocked'`)
	t.Logf("rollback on 3 nodes and the CLI at once: API runs %+v, CLI lifted %d (output %q); %d locks, %d still in force; %d unlock notices (%d people twice), %d audit entries, %d webhook events, %d messages",
		runs, cliLifted, strings.TrimSpace(tail(string(cliOut), 200)), locks, inForce, notices, twice, audits, hooks, messages)
	if inForce != 0 {
		t.Errorf("%d locks of the rolled-back rule still in force", inForce)
	}
	if lifted+cliLifted != locks || notices != locks || twice != 0 || audits != locks || hooks != locks {
		t.Errorf("lifted %d+%d, %d notices (%d people twice), %d audit entries, %d webhook events; want each once for %d locks",
			lifted, cliLifted, notices, twice, audits, hooks, locks)
	}
}
