package delivery_test

import (
	"bytes"
	"context"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/delivery"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/storetest"
)

// crashEnv tells a re-executed test binary to run TestCrashChild: a worker
// on the SQLite file and SMTP address it names ("path|host:port").
const crashEnv = "MONBAN_CRASH_CHILD"

// Child worker settings: the lease outlasts a send, so only a dead
// worker's messages are taken over.
const (
	crashConcurrency = 4
	crashLease       = 3 * time.Second
	crashSendTimeout = 2 * time.Second
)

// TestCrashChild is the worker process of TestOutboxCrash; it runs until
// it is killed.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		t.Skip("run as a child process by TestOutboxCrash")
	}
	path, addr, _ := strings.Cut(spec, "|")
	db, err := sqlstore.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	sender, err := delivery.NewSMTP(delivery.SMTPConfig{Host: host, Port: p, From: "no-reply@example.jp",
		TLS: delivery.SMTPNoTLS, Timeout: crashSendTimeout})
	if err != nil {
		t.Fatal(err)
	}
	w := delivery.New(db, map[monban.Channel]delivery.Sender{monban.ChannelEmail: sender}, testBox(t), newRenderer(t),
		monban.SystemClock{}, quietLog, delivery.Config{Concurrency: crashConcurrency, Lease: crashLease,
			SendTimeout: crashSendTimeout, Poll: 20 * time.Millisecond})
	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute) // never outlive a stuck parent
	defer cancel()
	_ = w.Run(runCtx)
}

// TestOutboxCrash kills a worker process (SIGKILL) while messages are in
// flight and starts another: every queued message is delivered at least
// once, none is lost, and only those in flight at the kill go out twice.
func TestOutboxCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const n, before = 200, 50 // messages; accepted before the sink starts holding
	path := t.TempDir() + "/crash.db"
	db := storetest.OpenSQLite(t, path)
	box := testBox(t)
	acc := "acc_crash"
	for i := range n {
		queueCode(t, db, box, monban.ChannelEmail, "u"+strconv.Itoa(i)+"@example.jp", "123456", time.Now(),
			func(m *monban.Message) { m.AccountID = acc })
	}

	// The sink accepts the first messages, then records each next one and
	// holds its answer: those are in flight, received but not yet
	// acknowledged, when the worker dies.
	var accepted atomic.Int64
	var holding atomic.Bool
	holding.Store(true)
	inflight, release := make(chan struct{}, n), make(chan struct{})
	s := startSink(t, nil, func(s *sink) {
		s.onData = func(sinkMail) {
			if accepted.Add(1) > before && holding.Load() {
				inflight <- struct{}{}
				<-release
			}
		}
	})
	defer func() {
		if holding.Swap(false) {
			close(release)
		}
	}()

	first := startCrashChild(t, path, s.addr)
	waitFor(t, "messages in flight", 60*time.Second, func() bool {
		return len(inflight) == crashConcurrency
	}, nil)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	holding.Store(false)
	close(release)

	counts := statusCounts(t, db, acc)
	t.Logf("after SIGKILL: %v", counts)
	if counts[monban.MessageSent] != before || counts[monban.MessageSending] != crashConcurrency {
		t.Errorf("after the kill: %v, want %d sent and %d sending", counts, before, crashConcurrency)
	}

	second := startCrashChild(t, path, s.addr)
	waitFor(t, "every message sent", 60*time.Second, func() bool {
		return statusCounts(t, db, acc)[monban.MessageSent] == n
	}, func() {
		t.Logf("status: %v\nfirst child:\n%s\nsecond child:\n%s", statusCounts(t, db, acc), first.out, second.out)
	})
	second.cmd.Process.Signal(syscall.SIGKILL)
	second.cmd.Wait()

	perID := map[string]int{}
	for _, m := range s.received() {
		perID[messageIDOf(t, m.data)]++
	}
	twice := 0
	for _, c := range perID {
		if c > 1 {
			twice++
		}
	}
	t.Logf("%d messages, %d delivered, %d delivered twice because of the kill (%d were in flight)",
		n, len(perID), twice, crashConcurrency)
	if len(perID) != n {
		t.Errorf("%d of %d messages reached the sink: lost messages", len(perID), n)
	}
	if twice > crashConcurrency {
		t.Errorf("%d messages went out twice; only the %d in flight may", twice, crashConcurrency)
	}
}

type crashChild struct {
	cmd *exec.Cmd
	out *syncBuffer
}

func startCrashChild(t *testing.T, path, addr string) *crashChild {
	t.Helper()
	c := &crashChild{out: &syncBuffer{}}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.v")
	c.cmd.Env = append(os.Environ(), crashEnv+"="+path+"|"+addr)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.SysProcAttr = killWithParent()
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	return c
}

// waitFor checks cond every few milliseconds until it holds or the
// deadline passes (then it reports what and calls onFail).
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool, onFail func()) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			if onFail != nil {
				onFail()
			}
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func statusCounts(t *testing.T, db *sqlstore.DB, accountID string) map[monban.MessageStatus]int {
	t.Helper()
	ms, err := db.MessagesByAccount(ctx, accountID, 10000)
	if err != nil {
		t.Fatal(err)
	}
	c := map[monban.MessageStatus]int{}
	for _, m := range ms {
		c[m.Status]++
	}
	return c
}

func messageIDOf(t *testing.T, data []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return msg.Header.Get("Message-ID")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
