package proof

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tcpProxy forwards loopback connections to the database. cut() makes the
// database vanish the way a network partition does: open connections stop
// moving (nothing is closed, nothing answers) and new ones are accepted but
// never reach it. restore() lets new connections through again.
type tcpProxy struct {
	ln     net.Listener
	target string
	cutNow atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	gen    chan struct{} // closed by restore: releases the stalled connections
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, gen: make(chan struct{})}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		stalled := p.gen
		p.mu.Unlock()
		if p.cutNow.Load() {
			// Accepted, never answered: a blackholed connection. It is
			// closed when the database comes back.
			go func() { <-stalled; c.Close() }()
			continue
		}
		go p.pipe(c)
	}
}

func (p *tcpProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up)
	p.mu.Unlock()
	copyUnlessCut := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				for p.cutNow.Load() {
					// Hold the bytes, as a partitioned network does, until
					// the connection is torn down at restore.
					p.mu.Lock()
					g := p.gen
					p.mu.Unlock()
					<-g
					dst.Close()
					src.Close()
					return
				}
				if _, err := dst.Write(buf[:n]); err != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go copyUnlessCut(up, c)
	go copyUnlessCut(c, up)
}

func (p *tcpProxy) cut() { p.cutNow.Store(true) }

// restore lets connections through again and drops the stalled ones (the
// partition healed; their TCP state is long gone).
func (p *tcpProxy) restore() {
	p.mu.Lock()
	p.cutNow.Store(false)
	close(p.gen)
	p.gen = make(chan struct{})
	p.mu.Unlock()
}

// TestDatabaseOutage cuts the database off under load: requests fail fast
// with 503, the node's goroutines and memory stay bounded, and when the
// database is back the node serves again without a restart.
func TestDatabaseOutage(t *testing.T) {
	ctx := t.Context()
	dsn := postgresDSN(t)
	u, _ := url.Parse(dsn)
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	proxy := startProxy(t, target)
	u.Host = proxy.ln.Addr().String()
	node := startNode(t, "outage", nodeSpec{database: u.String(), env: fastHash})
	c := newClient()
	// One account per worker: concurrent sign-ins to one account would
	// meet its sign-in throttle, which is not what this test is about.
	var accs []account
	for i := range 16 {
		accs = append(accs, signUp(t, ctx, c, node.URL, fmt.Sprintf("outage%d%s", i, uniq()), "", phone()))
	}
	acc := accs[0]

	// The load: sign-ins and session checks from 16 workers.
	type sample struct {
		status int
		took   time.Duration
		phase  string
	}
	var (
		mu      sync.Mutex
		samples []sample
		phase   atomic.Value
	)
	phase.Store("before")
	load, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			cc, acc := newClient(), accs[w]
			for i := 0; load.Err() == nil; i++ {
				ph := phase.Load().(string) // a request counts in the phase it started in
				var a answer
				if (w+i)%2 == 0 {
					a = cc.call(load, "GET", node.URL+"/api/v1/account", acc.Token, nil)
				} else {
					a = cc.call(load, "POST", node.URL+"/api/v1/sessions", "",
						map[string]string{"identifier": acc.Username, "password": acc.Password})
				}
				if load.Err() != nil {
					return
				}
				st := a.status
				if a.err != nil {
					st = -1
				}
				mu.Lock()
				samples = append(samples, sample{st, a.took, ph})
				mu.Unlock()
			}
		})
	}
	gauge := func(name string) float64 {
		v, ok := metric(t, c, node.URL, name)
		if !ok {
			t.Fatalf("/metrics has no %s", name)
		}
		return v
	}
	waitFor(t, "load before the outage", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(samples) > 200 })
	goBefore, rssBefore := gauge("go_goroutines"), gauge("process_resident_memory_bytes")

	outage := time.Duration(scale(8, 120)) * time.Second
	proxy.cut()
	phase.Store("outage")
	cutAt := time.Now()
	var goMax, rssMax float64
	for time.Since(cutAt) < outage {
		goMax = max(goMax, gauge("go_goroutines"))
		rssMax = max(rssMax, gauge("process_resident_memory_bytes"))
		pause(250 * time.Millisecond)
	}
	ready := c.call(ctx, "GET", node.URL+"/readyz", "", nil)
	proxy.restore()
	phase.Store("after")
	restoredAt := time.Now()
	waitFor(t, "/readyz 200 after the database returned", 30*time.Second, func() bool {
		return c.call(ctx, "GET", node.URL+"/readyz", "", nil).status == http.StatusOK
	})
	recovered := time.Since(restoredAt)
	waitFor(t, "a sign-in to work again", 30*time.Second, func() bool {
		return c.call(ctx, "POST", node.URL+"/api/v1/sessions", "", map[string]string{"identifier": acc.Username,
			"password": acc.Password}).status == http.StatusCreated
	})
	afterOK := time.Now()
	waitFor(t, "load after recovery", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return samples[len(samples)-1].phase == "after" && time.Since(afterOK) > time.Second
	})
	stopLoad()
	wg.Wait()
	if t.Failed() || testing.Verbose() {
		t.Logf("node log (tail):\n%s", tail(node.out.String(), 3000))
	}

	// Outage answers: all 503 (or, for requests that got their database
	// work done just before the cut, a normal answer), each quick.
	var lat []time.Duration
	counts := map[string]map[int]int{"before": {}, "outage": {}, "after": {}}
	for _, s := range samples {
		counts[s.phase][s.status]++
		if s.phase == "outage" {
			lat = append(lat, s.took)
		}
	}
	p50, p99, worst := percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1)
	t.Logf("outage of %v under 16 workers: before %v; during %v (p50 %v, p99 %v, max %v); /readyz during: %d; after %v",
		outage, counts["before"], counts["outage"], p50.Round(time.Millisecond), p99.Round(time.Millisecond),
		worst.Round(time.Millisecond), ready.status, counts["after"])
	t.Logf("goroutines %v before, at most %v during; RSS %.1f MB before, at most %.1f MB during; ready again %v after the database returned",
		goBefore, goMax, rssBefore/1e6, rssMax/1e6, recovered.Round(time.Millisecond))
	if ready.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %s, want 503", ready)
	}
	if n := counts["outage"][http.StatusServiceUnavailable]; n < len(lat)/2 {
		t.Errorf("only %d of %d requests during the outage were answered 503: %v", n, len(lat), counts["outage"])
	}
	for ph, m := range counts {
		if m[http.StatusInternalServerError] > 0 {
			t.Errorf("%d requests answered 500 (%s the outage)", m[http.StatusInternalServerError], ph)
		}
	}
	for st, n := range counts["outage"] {
		if st != http.StatusServiceUnavailable && st/100 != 2 && st != http.StatusUnauthorized {
			t.Errorf("%d requests during the outage were answered %d", n, st)
		}
	}
	if p99 > 2*time.Second {
		t.Errorf("p99 latency during the outage %v, want < 2 s (fail fast)", p99)
	}
	if goMax > goBefore+100 {
		t.Errorf("goroutines piled up during the outage: %v before, %v at most", goBefore, goMax)
	}
	if rssMax > rssBefore+64e6 {
		t.Errorf("memory grew by %.1f MB during the outage", (rssMax-rssBefore)/1e6)
	}
	if recovered > 10*time.Second {
		t.Errorf("ready again only %v after the database returned", recovered)
	}
}
