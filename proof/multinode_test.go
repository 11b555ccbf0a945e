package proof

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"
)

// startCluster starts n nodes on one fresh PostgreSQL schema, sharing
// MONBAN_SECRET, each with its own outbox worker, email to sink.
func startCluster(t *testing.T, n int, sink *smtpSink) (*cluster, string) {
	t.Helper()
	dsn := postgresDSN(t)
	c := &cluster{}
	for i := range n {
		env := map[string]string{}
		for k, v := range fastHash {
			env[k] = v
		}
		for k, v := range sink.env() {
			env[k] = v
		}
		c.nodes = append(c.nodes, startNode(t, fmt.Sprintf("node%d", i), nodeSpec{database: dsn, env: env}))
	}
	return c, dsn
}

// phone returns a random Japanese mobile number in a random range, so the
// per-prefix limits of one subtest never touch another's.
func phone() string { return fmt.Sprintf("090%d%07d", 1+rand.IntN(9), rand.IntN(10_000_000)) }

// problemKey is the "key" of a problem+json answer.
func problemKey(a answer) string {
	var p struct {
		Key string `json:"key"`
	}
	json.Unmarshal(a.body, &p)
	return p.Key
}

type flowAnswer struct {
	ID         string    `json:"id"`
	NextSendAt time.Time `json:"next_send_at"`
	Messages   []struct {
		ID string `json:"id"`
	} `json:"messages"`
}

// startFlow asks for a code to the account's phone (or email) and returns
// the flow.
func startFlow(t *testing.T, ctx context.Context, c *client, base string, acc account, kind string) flowAnswer {
	t.Helper()
	a := c.call(ctx, "POST", base+"/api/v1/flows", acc.Token, map[string]string{"kind": kind})
	if a.status != http.StatusCreated {
		t.Fatalf("start %s flow: %s", kind, a)
	}
	var f flowAnswer
	a.decode(t, &f)
	return f
}

// concurrently runs fn(i) for i in [0, n) at once and returns the answers.
func concurrently(n int, fn func(i int) answer) []answer {
	out := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// tally counts answers by "status key".
func tally(as []answer) map[string]int {
	m := map[string]int{}
	for _, a := range as {
		if a.err != nil {
			m["error"]++
			continue
		}
		m[fmt.Sprintf("%d %s", a.status, problemKey(a))]++
	}
	return m
}

// TestMultiNode runs three nodes on one PostgreSQL schema behind a
// round-robin and checks that the promises that need coordination hold
// across them.
func TestMultiNode(t *testing.T) {
	ctx := t.Context()
	sink := startSMTP(t)
	cl, dsn := startCluster(t, 3, sink)
	db := openDB(t, dsn)
	c := newClient()

	// The resend cooldown is 30 s of wall time: its flow starts now and is
	// checked last, once the cooldown has run out.
	cooldownAcc := signUp(t, ctx, c, cl.next(), "cool"+uniq(), "", phone())
	cooldownFlow := startFlow(t, ctx, c, cl.next(), cooldownAcc, "phone")

	t.Run("single-use code", func(t *testing.T) {
		const racers = 24
		flows := scale(4, 40)
		for i := range flows {
			cc := newClient()
			acc := signUp(t, ctx, cc, cl.next(), fmt.Sprintf("once%d%s", i, uniq()), "", phone())
			f := startFlow(t, ctx, cc, cl.next(), acc, "phone")
			code := devCode(t, ctx, c, cl.next(), f.Messages[0].ID)
			as := concurrently(racers, func(int) answer {
				return newClient().call(ctx, "POST", cl.next()+"/api/v1/flows/"+f.ID+"/verify", acc.Token,
					map[string]string{"code": code})
			})
			got := tally(as)
			// Each check is claimed on the account's counter before the
			// compare: losers past the free tries wait rather than lose.
			if got["200 "] != 1 || got["409 code.used"]+got["429 code.too_many_failures"] != racers-1 {
				t.Fatalf("flow %d: %d concurrent checks of the right code over 3 nodes: %v; want exactly one 200", i, racers, got)
			}
		}
		t.Logf("%d flows × %d concurrent right-code checks spread over 3 nodes: each accepted exactly once", flows, racers)
	})

	t.Run("attempt counter", func(t *testing.T) {
		const racers = 15
		cc := newClient()
		acc := signUp(t, ctx, cc, cl.next(), "tries"+uniq(), "", phone())
		f := startFlow(t, ctx, cc, cl.next(), acc, "phone")
		code := devCode(t, ctx, c, cl.next(), f.Messages[0].ID)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		as := concurrently(racers, func(int) answer {
			return newClient().call(ctx, "POST", cl.next()+"/api/v1/flows/"+f.ID+"/verify", acc.Token,
				map[string]string{"code": wrong})
		})
		got := tally(as)
		if got["400 code.wrong"] != 5 {
			t.Fatalf("%d concurrent wrong codes over 3 nodes: %v; want exactly 5 checks (the per-code limit)", racers, got)
		}
		right := c.call(ctx, "POST", cl.next()+"/api/v1/flows/"+f.ID+"/verify", acc.Token, map[string]string{"code": code})
		if right.status == http.StatusOK {
			t.Fatalf("the right code was accepted after 5 wrong ones: %s", right)
		}
		if n := queryInt(t, db, `SELECT checks FROM codes WHERE flow_id = $1`, f.ID); n != 5 {
			t.Errorf("code row records %d checks, want 5", n)
		}
		t.Logf("%d concurrent wrong codes: %v; then the right code: %d %s", racers, got, right.status, problemKey(right))
	})

	t.Run("send limits", func(t *testing.T) {
		const racers = 16
		// One number, requested at once on every node: one code, the rest
		// wait for the cooldown (the check holds a lock on the account,
		// purpose and destination).
		acc := signUp(t, ctx, newClient(), cl.next(), "dest"+uniq(), "", phone())
		as := concurrently(racers, func(int) answer {
			return newClient().call(ctx, "POST", cl.next()+"/api/v1/flows", acc.Token, map[string]string{"kind": "phone"})
		})
		got := tally(as)
		if got["201 "] != 1 || got["429 code.resend_cooldown"] != racers-1 {
			t.Fatalf("%d concurrent code requests to one number over 3 nodes: %v; want exactly one sent", racers, got)
		}
		for _, a := range as {
			if a.status == http.StatusTooManyRequests && a.header.Get("Retry-After") == "" {
				t.Fatalf("a limit without Retry-After: %s", a)
			}
		}
		t.Logf("one number, %d concurrent requests: %v", racers, got)

		// One client address, many accounts: the per-IP limit (20 an hour).
		const perIP, accounts = 20, 28
		var accs []account
		for i := range accounts {
			accs = append(accs, signUp(t, ctx, newClient(), cl.next(), fmt.Sprintf("ip%d%s", i, uniq()), "", phone()))
		}
		shared := newClient()
		got = tally(concurrently(accounts, func(i int) answer {
			return shared.call(ctx, "POST", cl.next()+"/api/v1/flows", accs[i].Token, map[string]string{"kind": "phone"})
		}))
		if got["201 "] != perIP || got["429 limit.ip"] != accounts-perIP {
			t.Fatalf("%d accounts asking from one address over 3 nodes: %v; want exactly %d sent", accounts, got, perIP)
		}
		t.Logf("one address, %d accounts at once: %v", accounts, got)

		// Numbers of one range, each from its own address: the per-prefix
		// limit and SMS budget (30 an hour).
		const perPrefix, numbers = 30, 38
		prefix := fmt.Sprintf("090%d%03d", 1+rand.IntN(9), rand.IntN(1000))
		accs = accs[:0]
		for i := range numbers {
			accs = append(accs, signUp(t, ctx, newClient(), cl.next(), fmt.Sprintf("px%d%s", i, uniq()), "",
				fmt.Sprintf("%s%04d", prefix, i)))
		}
		got = tally(concurrently(numbers, func(i int) answer {
			return newClient().call(ctx, "POST", cl.next()+"/api/v1/flows", accs[i].Token, map[string]string{"kind": "phone"})
		}))
		if got["201 "] != perPrefix || got["429 limit.prefix"]+got["429 sms.budget"] != numbers-perPrefix {
			t.Fatalf("%d numbers of one range at once over 3 nodes: %v; want exactly %d sent", numbers, got, perPrefix)
		}
		t.Logf("one number range, %d numbers at once: %v", numbers, got)
	})

	t.Run("session revoked everywhere at once", func(t *testing.T) {
		acc := signUp(t, ctx, c, cl.nodes[0].URL, "sess"+uniq(), "", phone())
		for round := range scale(5, 50) {
			a := c.call(ctx, "POST", cl.nodes[round%3].URL+"/api/v1/sessions", "",
				map[string]string{"identifier": acc.Username, "password": acc.Password})
			if a.status != http.StatusCreated {
				t.Fatalf("sign in: %s", a)
			}
			var s struct {
				SessionID string `json:"session_id"`
				Token     string `json:"token"`
			}
			a.decode(t, &s)
			A, B, C := cl.nodes[round%3].URL, cl.nodes[(round+1)%3].URL, cl.nodes[(round+2)%3].URL
			if a := c.call(ctx, "GET", B+"/api/v1/account", s.Token, nil); a.status != http.StatusOK {
				t.Fatalf("new session refused on another node: %s", a)
			}
			if a := c.call(ctx, "DELETE", A+"/api/v1/sessions/"+s.SessionID, acc.Token, nil); a.status/100 != 2 {
				t.Fatalf("revoke on node A: %s", a)
			}
			for _, u := range []string{B, C} {
				if a := c.call(ctx, "GET", u+"/api/v1/account", s.Token, nil); a.status != http.StatusUnauthorized {
					t.Fatalf("round %d: a session revoked on one node still works on another: %s", round, a)
				}
			}
		}
		t.Logf("%d sessions revoked on one node were refused by the next request on both others", scale(5, 50))
	})

	t.Run("outbox sends once", func(t *testing.T) {
		// One code per account: a second would wait for the cooldown.
		accounts, perAccount := scale(45, 300), 1
		var accs []account
		for i := range accounts {
			accs = append(accs, signUp(t, ctx, c, cl.next(), fmt.Sprintf("mail%d%s", i, uniq()),
				fmt.Sprintf("mail%d.%s@example.jp", i, uniq()), ""))
		}
		before, _ := sink.counts()
		start := time.Now()
		var wg sync.WaitGroup
		for _, acc := range accs {
			wg.Go(func() {
				cc := newClient()
				for range perAccount {
					a := cc.call(ctx, "POST", cl.next()+"/api/v1/flows", acc.Token, map[string]string{"kind": "email"})
					if a.status != http.StatusCreated {
						t.Errorf("email code: %s", a)
					}
				}
			})
		}
		wg.Wait()
		want := before + accounts*perAccount
		waitFor(t, "every email delivered", 60*time.Second, func() bool { n, _ := sink.counts(); return n >= want })
		// Give a would-be second sender the time of several polls.
		pause(time.Second)
		n, dup := sink.counts()
		if n != want || dup != 0 {
			t.Fatalf("%d distinct emails (want %d), %d delivered more than once", n, want, dup)
		}
		if k := queryInt(t, db, `SELECT count(*) FROM messages WHERE channel = 'email' AND (status <> 'sent' OR attempts <> 1)`); k != 0 {
			t.Errorf("%d email rows not sent in exactly one attempt", k)
		}
		t.Logf("%d emails queued over 3 nodes (3 workers polling one outbox): %d delivered, 0 twice, in %v",
			accounts*perAccount, n-before, time.Since(start).Round(time.Millisecond))
	})

	t.Run("resend cooldown", func(t *testing.T) {
		waitFor(t, "the resend cooldown to end", 45*time.Second, func() bool { return time.Now().After(cooldownFlow.NextSendAt) })
		const racers = 12
		as := concurrently(racers, func(int) answer {
			return newClient().call(ctx, "POST", cl.next()+"/api/v1/flows/"+cooldownFlow.ID+"/resend", cooldownAcc.Token, nil)
		})
		got := tally(as)
		if got["200 "] != 1 || got["429 code.resend_cooldown"] != racers-1 {
			t.Fatalf("%d concurrent resends once the cooldown ended, over 3 nodes: %v; want exactly one", racers, got)
		}
		t.Logf("%d concurrent resends when the cooldown ended: %v", racers, got)
	})
}
