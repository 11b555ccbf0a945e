package proof

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// weaponRules is a rules file as an operator might write it: host-app
// rules on purchases and follows, a takeover rule that reads sign-in
// failures but fires only on a sign-in from a new device (which needs the
// password), and a shadow rule that would lock on failures alone — it
// shows the attack reached the rules without giving it a lock.
const weaponRules = `version: "weapon.1"
rules:
  - id: gift-card-50k
    on: [purchase]
    when: 'sum("purchase.amount", "24h", {"instrument": "gift_card"}) >= 50000'
    action: lock
    duration: 24h
    category: payment
  - id: follow-burst
    on: [follow]
    when: 'count("follow", "1h") > 400'
    action: step_up
    step_up: verify_phone
  - id: stuffed-then-new-device
    on: [device.new]
    when: 'count("signin.failure", "1h") >= 20'
    action: step_up
    step_up: second_factor
  - id: failures-would-lock
    on: [signin.failure]
    when: 'count("signin.failure", "1h") >= 5'
    action: lock
    shadow: true
`

// TestLockAsWeapon plays an attacker who wants a victim locked out: from
// hundreds of loopback addresses and unknown devices it fails sign-ins (API
// and web form), asks for login help and enters wrong codes, and files
// support requests — everything an outsider controls (host-app signals
// need the host app's API key). Meanwhile the owner signs in from their
// trusted device over and over, on two nodes behind a round-robin: every
// sign-in succeeds at once and its session works, and no lock is placed.
// Then the attacker's counter is fast-forwarded to the disabling threshold
// (four days of waiting out delays): the password is disabled for unknown
// devices, and the owner's device still signs in.
func TestLockAsWeapon(t *testing.T) {
	ctx := t.Context()
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(weaponRules), 0o600); err != nil {
		t.Fatal(err)
	}
	dsn := postgresDSN(t)
	cl := &cluster{}
	for i := range 2 {
		env := map[string]string{"MONBAN_RULES_FILE": rules}
		for k, v := range fastHash {
			env[k] = v
		}
		cl.nodes = append(cl.nodes, startNode(t, fmt.Sprintf("weapon%d", i), nodeSpec{database: dsn, env: env}))
	}
	db := openDB(t, dsn)

	// The owner: signed up in their app, whose install key is the device.
	owner := newClient()
	device := "owner-install-" + uniq() + uniq()
	name := "victim" + uniq()
	victimPhone := phone()
	email := name + "@example.jp"
	a := owner.call(ctx, "POST", cl.next()+"/api/v1/accounts", "", map[string]string{"username": name, "email": email,
		"phone": victimPhone, "password": password, "lang": "en", "device_id": device})
	if a.status != http.StatusCreated {
		t.Fatalf("sign up: %s", a)
	}
	var victim struct {
		AccountID string `json:"account_id"`
		Token     string `json:"token"`
	}
	a.decode(t, &victim)
	ownerSignIn := func() (answer, string) {
		a := owner.call(ctx, "POST", cl.next()+"/api/v1/sessions", "", map[string]string{"identifier": name,
			"password": password, "device_id": device})
		var s struct {
			Token string `json:"token"`
		}
		json_(a, &s)
		return a, s.Token
	}
	if a, _ := ownerSignIn(); a.status != http.StatusCreated {
		t.Fatalf("owner's first sign-in: %s", a)
	}

	// The owner keeps using the account while the attack runs.
	attackDone := make(chan struct{})
	var ownerRuns, ownerFails atomic.Int64
	var ownerTook []time.Duration
	var ownerMu sync.Mutex
	ownerDone := make(chan struct{})
	go func() {
		defer close(ownerDone)
		for {
			a, tok := ownerSignIn()
			ok := a.status == http.StatusCreated
			if ok {
				me := owner.call(ctx, "GET", cl.next()+"/api/v1/account", tok, nil)
				old := owner.call(ctx, "GET", cl.next()+"/api/v1/account", victim.Token, nil)
				ok = me.status == http.StatusOK && old.status == http.StatusOK
				if !ok {
					t.Errorf("owner's session refused during the attack: new %s, first %s", me, old)
				}
			} else {
				t.Errorf("owner's trusted device refused during the attack: %s", a)
			}
			ownerRuns.Add(1)
			if !ok {
				ownerFails.Add(1)
			}
			ownerMu.Lock()
			ownerTook = append(ownerTook, a.took)
			ownerMu.Unlock()
			select {
			case <-attackDone:
				return
			case <-time.After(25 * time.Millisecond):
			}
		}
	}()

	// The attack.
	ids := []string{name, victimPhone, email, "  " + name + " "}
	attempts := scale(400, 4000)
	var mu sync.Mutex
	tallies := map[string]int{}
	count := func(what string, a answer) {
		mu.Lock()
		defer mu.Unlock()
		if a.err != nil {
			tallies[what+" error"]++
			return
		}
		tallies[fmt.Sprintf("%s %d %s", what, a.status, problemKey(a))]++
	}
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 12)
	// The attack goes on until it has made its attempts and the owner has
	// signed in at least three times under it: on a machine loaded by
	// the rest of the suite, 400 attempts may be over before the owner's
	// third try, and the question is whether the owner gets in while the
	// attack runs, not how many tries fit into a second.
	sent := 0
	giveUp := start.Add(2 * time.Minute)
	for i := 0; i < attempts || (ownerRuns.Load() < 3 && time.Now().Before(giveUp)); i++ {
		sent++
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := newClient() // a new address every time
			id := ids[i%len(ids)]
			switch i % 5 {
			case 0, 1: // a wrong password from an unknown app install
				body := map[string]string{"identifier": id, "password": fmt.Sprintf("guess %d of the victim's password", i)}
				if i%2 == 0 {
					body["device_id"] = "attacker-install-" + uniq() + uniq()
				}
				count("sign-in", c.call(ctx, "POST", cl.next()+"/api/v1/sessions", "", body))
			case 2: // a wrong password through the web form, a new browser
				b := newBrowser(t, cl.next())
				p := b.post(ctx, "/signin", "/signin", url.Values{"identifier": {id}, "password": {"guess " + uniq()}})
				mu.Lock()
				tallies[fmt.Sprintf("web sign-in %d", p.status)]++
				mu.Unlock()
			case 3: // login help, and a wrong code into it
				r := c.call(ctx, "POST", cl.next()+"/api/v1/recoveries", "", map[string]string{"identifier": id})
				count("login help", r)
				var rec struct {
					ID string `json:"id"`
				}
				if json_(r, &rec) == nil && rec.ID != "" {
					count("help code", c.call(ctx, "POST", cl.next()+"/api/v1/recoveries/"+rec.ID+"/code", "",
						map[string]string{"code": fmt.Sprintf("%06d", i)}))
				}
			case 4: // a code to the victim's phone on the second step of a sign-in it cannot reach
				count("pending", c.call(ctx, "POST", cl.next()+"/api/v1/signins/pnd_"+uniq()+"/code", "",
					map[string]string{"secret": uniq(), "method": "sms"}))
			}
		})
	}
	// Support requests in the victim's name, each from its own browser.
	for i := range scale(8, 40) {
		wg.Go(func() {
			b := newBrowser(t, cl.next())
			csrf := b.csrf(ctx, "/support/new")
			p := b.do(ctx, "POST", "/support/new", url.Values{"csrf": {csrf}, "altcha": {b.solvePoW(ctx)},
				"identifier": {ids[i%3]}, "contact": {"attacker" + uniq() + "@example.net"}, "category": {"locked"},
				"platform": {"web"}, "device": {"PC"}, "description": {"Please lock this account, it was stolen."}})
			mu.Lock()
			tallies[fmt.Sprintf("support %d", p.status)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	attackTook := time.Since(start)
	close(attackDone)
	<-ownerDone

	locks := queryInt(t, db, `SELECT count(*) FROM locks WHERE account_id = $1`, victim.AccountID)
	failures := queryInt(t, db, `SELECT count(*) FROM risk_signals WHERE account_id = $1 AND type = 'signin.failure'`, victim.AccountID)
	shadow := queryInt(t, db, `SELECT count(*) FROM risk_decisions WHERE account_id = $1 AND shadow`, victim.AccountID)
	lockNotices := queryInt(t, db, `SELECT count(*) FROM notices WHERE account_id = $1 AND topic = 'account.locked'`, victim.AccountID)
	ownerMu.Lock()
	p50, p99, worst := percentile(ownerTook, 0.5), percentile(ownerTook, 0.99), percentile(ownerTook, 1)
	ownerMu.Unlock()
	t.Logf("attack: %d requests from %d addresses in %v: %v", sent, sent, attackTook.Round(time.Millisecond), tallies)
	t.Logf("owner: %d sign-ins from the trusted device during the attack, %d refused; took p50 %v p99 %v max %v",
		ownerRuns.Load(), ownerFails.Load(), p50, p99, worst)
	t.Logf("victim: %d sign-in failures recorded as signals, %d shadow matches of a lock-on-failures rule, %d locks, %d lock notices",
		failures, shadow, locks, lockNotices)
	if locks != 0 || lockNotices != 0 {
		t.Errorf("the attack placed %d locks on the victim (%d notices)", locks, lockNotices)
	}
	if failures == 0 || shadow == 0 {
		t.Errorf("the attack never reached the rules (%d failure signals, %d shadow matches): the test proves nothing", failures, shadow)
	}
	if tallies["sign-in 429 signin.throttled"] == 0 {
		t.Errorf("the attacker was never slowed down: %v", tallies)
	}
	if ownerRuns.Load() < 3 {
		t.Errorf("the owner signed in only %d times during the attack", ownerRuns.Load())
	}

	// Four days of waiting out the delays, fast-forwarded: the counter of
	// unknown devices reaches the disabling threshold.
	if _, err := db.Exec(`UPDATE throttle_counters SET failures = 100 WHERE key = $1`, "pwd:acct:"+victim.AccountID+":any"); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, `SELECT failures FROM throttle_counters WHERE key = $1`, "pwd:acct:"+victim.AccountID+":any"); n != 100 {
		t.Fatalf("unknown-device counter at %d after the fast-forward", n)
	}
	stranger := newClient().call(ctx, "POST", cl.next()+"/api/v1/sessions", "", map[string]string{"identifier": name, "password": password})
	if stranger.status != http.StatusForbidden || problemKey(stranger) != "signin.password_disabled" {
		t.Errorf("an unknown device with the right password after 100 failures: %s; want 403 signin.password_disabled", stranger)
	}
	for i := range 2 {
		a, tok := ownerSignIn()
		if a.status != http.StatusCreated {
			t.Fatalf("owner's trusted device after the password was disabled for strangers (try %d): %s", i, a)
		}
		if me := owner.call(ctx, "GET", cl.nodes[i].URL+"/api/v1/lock", tok, nil); me.status != http.StatusOK || string(me.body) != `{"locked":false}`+"\n" && string(me.body) != `{"locked":false}` {
			t.Errorf("owner's lock status on node %d: %s", i, me)
		}
	}
	t.Logf("after 100 failures from unknown devices: a stranger with the right password gets %d %s; the owner's device signs in on both nodes, not locked",
		stranger.status, problemKey(stranger))
}
