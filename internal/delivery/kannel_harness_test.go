package delivery_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Where the Debian packages put Kannel: bearerbox and smsbox come with
// "kannel", fakesmsc with "kannel-extras".
const (
	bearerboxBin = "/usr/sbin/bearerbox"
	smsboxBin    = "/usr/sbin/smsbox"
	fakesmscBin  = "/usr/lib/kannel/test/fakesmsc"
)

// kannelGateway is a real Kannel (bearerbox + smsbox) on loopback with a
// fake SMSC, started for one test.
type kannelGateway struct {
	SendSMSURL string
	Username   string
	Password   string
	dir        string
	adminURL   string
}

// requireKannel fails the test when Kannel is not installed: a silently
// skipped suite would hide that SMS delivery is untested. Only
// MONBAN_SKIP_KANNEL=1 skips on purpose.
func requireKannel(t *testing.T) {
	t.Helper()
	var missing []string
	for _, bin := range []string{bearerboxBin, smsboxBin, fakesmscBin} {
		if _, err := os.Stat(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("Kannel is not installed (missing %s): apt-get install -y kannel kannel-extras",
		strings.Join(missing, ", "))
	if os.Getenv("MONBAN_SKIP_KANNEL") == "1" {
		t.Skip(msg + " (skipped: MONBAN_SKIP_KANNEL=1)")
	}
	t.Fatal(msg + "; set MONBAN_SKIP_KANNEL=1 to skip the Kannel tests on purpose")
}

// startKannel writes a kannel.conf into a temporary directory, starts
// bearerbox, fakesmsc and smsbox, and waits until the fake SMSC and smsbox
// are connected. Everything is killed when the test ends; the logs are
// printed if it failed.
func startKannel(t *testing.T) *kannelGateway {
	t.Helper()
	requireKannel(t)
	dir := t.TempDir()
	admin, boxPort, sendsms, smsc := loopbackPort(t), loopbackPort(t), loopbackPort(t), loopbackPort(t)
	g := &kannelGateway{
		SendSMSURL: fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms", sendsms),
		Username:   "monban",
		Password:   "s3cret-pw",
		dir:        dir,
		adminURL:   fmt.Sprintf("http://127.0.0.1:%d/status.txt?password=adminpw", admin),
	}
	conf := filepath.Join(dir, "kannel.conf")
	writeKannelFile(t, conf, fmt.Sprintf(kannelConf, admin, boxPort, dir, smsc, boxPort, sendsms, dir, g.Username, g.Password))
	t.Cleanup(func() {
		if t.Failed() {
			g.dumpLogs(t)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bb := startKannelProcess(t, dir, "bearerbox", bearerboxBin, "-v", "0", conf)
	// The admin page answers once bearerbox has read its configuration and
	// the fake SMSC listens; fakesmsc does not retry, so wait for it.
	g.poll(ctx, t, "bearerbox admin port", func() (bool, string) {
		s, err := kannelGet(g.adminURL)
		return err == nil && strings.Contains(s, "Status: running"), kannelErrText(err, s)
	}, bb)
	// -m 0: send no mobile-originated messages, only print what arrives.
	fake := startKannelProcess(t, dir, "fakesmsc", fakesmscBin, "-H", "127.0.0.1", "-r", fmt.Sprint(smsc), "-i", "0", "-m", "0", "1 2 text nop")
	sb := startKannelProcess(t, dir, "smsbox", smsboxBin, "-v", "0", conf)
	g.poll(ctx, t, "fake SMSC and smsbox connected", func() (bool, string) {
		s, err := kannelGet(g.adminURL)
		return err == nil && strings.Contains(s, "(online ") && strings.Contains(s, "smsbox:"), kannelErrText(err, s)
	}, bb, fake, sb)
	g.poll(ctx, t, "smsbox sendsms port", func() (bool, string) {
		c, err := net.Dial("tcp", strings.TrimPrefix(strings.Split(g.SendSMSURL, "/cgi-bin")[0], "http://"))
		if err == nil {
			c.Close()
		}
		return err == nil, kannelErrText(err, "")
	}, bb, fake, sb)
	return g
}

const kannelConf = `group = core
admin-port = %d
admin-password = adminpw
admin-interface = 127.0.0.1
admin-allow-ip = 127.0.0.1
smsbox-port = %d
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "%s/bearerbox.log"
log-level = 0
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = %d
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = %d
sendsms-port = %d
sendsms-interface = 127.0.0.1
global-sender = 12345
log-file = "%s/smsbox.log"
log-level = 0

group = sendsms-user
username = %s
password = %s
max-messages = 10
concatenation = true
black-list-regex = "^\+1900"
`

// kannelProcess is a child process and a channel closed when it exits.
type kannelProcess struct {
	name   string
	exited chan struct{}
}

func startKannelProcess(t *testing.T, dir, name, bin string, args ...string) *kannelProcess {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = killWithParent()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &kannelProcess{name: name, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// poll calls check with growing pauses until it holds, the context ends or
// one of the processes exits.
func (g *kannelGateway) poll(ctx context.Context, t *testing.T, what string, check func() (bool, string), procs ...*kannelProcess) {
	t.Helper()
	delay := 5 * time.Millisecond
	for {
		ok, last := check()
		if ok {
			return
		}
		timer := time.NewTimer(delay)
		for _, p := range procs {
			select {
			case <-p.exited:
				timer.Stop()
				t.Fatalf("waiting for %s: %s exited", what, p.name)
			default:
			}
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			t.Fatalf("waiting for %s: %v; last: %s", what, ctx.Err(), last)
		case <-timer.C:
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// fakesmscOutput returns what fakesmsc has printed so far.
func (g *kannelGateway) fakesmscOutput(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(g.dir, "fakesmsc.out"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (g *kannelGateway) dumpLogs(t *testing.T) {
	for _, name := range []string{"bearerbox.out", "smsbox.out", "fakesmsc.out"} {
		b, err := os.ReadFile(filepath.Join(g.dir, name))
		if err != nil {
			t.Logf("%s: %v", name, err)
			continue
		}
		if len(b) > 16<<10 {
			b = b[len(b)-16<<10:]
		}
		t.Logf("---- %s ----\n%s", name, b)
	}
}

func loopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeKannelFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func kannelGet(u string) (string, error) {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func kannelErrText(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}
