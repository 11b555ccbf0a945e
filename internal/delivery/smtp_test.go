package delivery_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/delivery"
	"github.com/monban-dev/monban/internal/storetest"
)

// sink is an in-process SMTP server (emersion/go-smtp) that records what it
// receives and answers as behave says.
type sink struct {
	addr     string
	user     string // AUTH PLAIN required when set
	password string
	// behave returns the answer to step ("mail", "rcpt", "data") of session
	// n (1-based): nil accepts, errDrop closes the connection.
	behave   func(step string, n int64) error
	sessions atomic.Int64
	got      chan sinkMail
	// onData sees each accepted message before the server answers 250.
	onData func(m sinkMail)

	mu    sync.Mutex
	mails []sinkMail
}

type sinkMail struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

var errDrop = errors.New("drop the connection")

func startSink(t testing.TB, tlsConfig *tls.Config, configure func(s *sink)) *sink {
	t.Helper()
	s := &sink{got: make(chan sinkMail, 100000)}
	if configure != nil {
		configure(s)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: s, conn: c, n: s.sessions.Add(1)}, nil
	}))
	srv.Domain = "sink.test"
	srv.TLSConfig = tlsConfig
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log0{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	s.addr = l.Addr().String()
	return s
}

type log0 struct{}

func (log0) Printf(string, ...any) {}
func (log0) Println(...any)        {}

func (s *sink) port(t testing.TB) int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *sink) received() []sinkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMail(nil), s.mails...)
}

type sinkSession struct {
	sink *sink
	conn *smtp.Conn
	n    int64
	mail sinkMail
}

func (ss *sinkSession) answer(step string) error {
	if ss.sink.behave == nil {
		return nil
	}
	err := ss.sink.behave(step, ss.n)
	if err == errDrop {
		ss.conn.Conn().Close()
	}
	return err
}

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.sink.user || pass != ss.sink.password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.mail.user = user
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.sink.user != "" && ss.mail.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	ss.mail.from = from
	return ss.answer("mail")
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.mail.to = append(ss.mail.to, to)
	return ss.answer("rcpt")
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.answer("data"); err != nil {
		return err
	}
	m := ss.mail
	m.data = b
	_, m.tls = ss.conn.TLSConnectionState()
	ss.sink.mu.Lock()
	ss.sink.mails = append(ss.sink.mails, m)
	ss.sink.mu.Unlock()
	ss.sink.got <- m
	if ss.sink.onData != nil {
		ss.sink.onData(m)
	}
	return nil
}

func (ss *sinkSession) Reset()        { ss.mail = sinkMail{user: ss.mail.user} }
func (ss *sinkSession) Logout() error { return nil }

// testTLS returns a server certificate for 127.0.0.1 and a client config
// that trusts it (borrowed from httptest).
func testTLS(t testing.TB) (server, client *tls.Config) {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return &tls.Config{Certificates: ts.TLS.Certificates}, &tls.Config{RootCAs: pool}
}

// parsed is a received email, decoded.
type parsed struct {
	header     mail.Header
	text, html string
}

func parseMail(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	typ, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || typ != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	p := parsed{header: msg.Header}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if part.Header.Get("Content-Transfer-Encoding") != "base64" {
			t.Fatalf("part encoding %q", part.Header.Get("Content-Transfer-Encoding"))
		}
		b, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, part))
		if err != nil {
			t.Fatal(err)
		}
		switch part.Header.Get("Content-Type") {
		case "text/plain; charset=UTF-8":
			p.text = string(b)
		case "text/html; charset=UTF-8":
			p.html = string(b)
		default:
			t.Fatalf("part type %q", part.Header.Get("Content-Type"))
		}
	}
	return p
}

func newSMTP(t testing.TB, s *sink, edit func(c *delivery.SMTPConfig)) *delivery.SMTP {
	t.Helper()
	cfg := delivery.SMTPConfig{Host: "127.0.0.1", Port: s.port(t), From: "no-reply@example.jp", FromName: "モンバン",
		TLS: delivery.SMTPNoTLS, Timeout: 10 * time.Second, HeloName: "node1.example.jp",
		Clock: clocktest.New(storetest.Epoch)}
	if edit != nil {
		edit(&cfg)
	}
	smtpSender, err := delivery.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return smtpSender
}

// TestSMTPConversation sends a Japanese and an English code email through
// the worker over STARTTLS with AUTH to a real SMTP server, and reads them
// back as a mail client would.
func TestSMTPConversation(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	s := startSink(t, serverTLS, func(s *sink) { s.user, s.password = "monban", "s3cret" })
	sender := newSMTP(t, s, func(c *delivery.SMTPConfig) {
		c.TLS, c.TLSConfig, c.Username, c.Password = delivery.SMTPStartTLS, clientTLS, "monban", "s3cret"
	})
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	r, err := delivery.NewRenderer("モンバン", "no-reply@example.jp")
	if err != nil {
		t.Fatal(err)
	}
	w := delivery.New(db, map[monban.Channel]delivery.Sender{monban.ChannelEmail: sender}, box, r, clock, quietLog, delivery.Config{})
	ja := queueCode(t, db, box, monban.ChannelEmail, "taro@example.jp", "482910", clock.Now())
	en := queueCode(t, db, box, monban.ChannelEmail, "alice@example.com", "193746", clock.Now(),
		func(m *monban.Message) { m.Lang = "en" })
	runOnce(t, w, 2)

	mails := map[string]sinkMail{}
	for _, m := range s.received() {
		mails[parseMail(t, m.data).header.Get("Message-ID")] = m
	}
	for _, tt := range []struct {
		m                   *monban.Message
		lang, subject, code string
	}{
		{ja, "ja", "【モンバン】確認コードのお知らせ（ログイン）", "482910"},
		{en, "en", "Your モンバン code for sign-in", "193746"},
	} {
		stored := message(t, db, tt.m.ID)
		msgID := "<" + tt.m.ID + "@example.jp>"
		if stored.Status != monban.MessageSent || stored.Provider != "smtp" || stored.ProviderID != msgID {
			t.Errorf("%s: stored %s %s %s", tt.lang, stored.Status, stored.Provider, stored.ProviderID)
		}
		got, ok := mails[msgID]
		if !ok {
			t.Fatalf("%s: no mail with Message-ID %s", tt.lang, msgID)
		}
		if got.from != "no-reply@example.jp" || len(got.to) != 1 || got.to[0] != tt.m.Destination || !got.tls || got.user != "monban" {
			t.Errorf("%s: envelope from %q to %q, TLS %v, user %q", tt.lang, got.from, got.to, got.tls, got.user)
		}
		p := parseMail(t, got.data)
		h := p.header
		from, err := mail.ParseAddress(h.Get("From"))
		if err != nil || from.Name != "モンバン" || from.Address != "no-reply@example.jp" {
			t.Errorf("%s: From %q → %v, %v", tt.lang, h.Get("From"), from, err)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
		if err != nil || subject != tt.subject {
			t.Errorf("%s: Subject %q → %q, %v", tt.lang, h.Get("Subject"), subject, err)
		}
		for k, v := range map[string]string{"To": "<" + tt.m.Destination + ">", "Content-Language": tt.lang,
			"Auto-Submitted": "auto-generated", "MIME-Version": "1.0"} {
			if h.Get(k) != v {
				t.Errorf("%s: %s: %q, want %q", tt.lang, k, h.Get(k), v)
			}
		}
		if d, err := h.Date(); err != nil || !d.Equal(clock.Now().Truncate(time.Second)) {
			t.Errorf("%s: Date %q: %v", tt.lang, h.Get("Date"), err)
		}
		for _, line := range strings.Split(string(got.data), "\r\n") {
			if len(line) > 998 || strings.ContainsFunc(line, func(r rune) bool { return r > 0x7f }) {
				t.Errorf("%s: raw line not 7-bit or too long: %q", tt.lang, line)
			}
		}
		if !strings.Contains(p.text, tt.code) || !strings.Contains(p.html, tt.code) ||
			!strings.Contains(p.html, `lang="`+tt.lang+`"`) {
			t.Errorf("%s: body:\n%s\n%s", tt.lang, p.text, p.html)
		}
		if tt.lang == "ja" && !strings.Contains(p.text, "誰にも教えないでください") {
			t.Errorf("ja text part is not Japanese:\n%s", p.text)
		}
	}
}

func TestSMTPRefusedIsPermanent(t *testing.T) {
	s := startSink(t, nil, func(s *sink) {
		s.behave = func(step string, _ int64) error {
			if step == "rcpt" {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
			}
			return nil
		}
	})
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	w := delivery.New(db, map[monban.Channel]delivery.Sender{monban.ChannelEmail: newSMTP(t, s, nil)}, box,
		newRenderer(t), clock, quietLog, delivery.Config{})
	m := queueCode(t, db, box, monban.ChannelEmail, "nobody@example.jp", "111111", clock.Now())
	runOnce(t, w, 1)
	clock.Advance(time.Hour)
	runOnce(t, w, 0)
	got := message(t, db, m.ID)
	if got.Status != monban.MessageFailed || got.Reason != "550 5.1.1 No such user here" || s.sessions.Load() != 1 {
		t.Errorf("%s %q after %d sessions", got.Status, got.Reason, s.sessions.Load())
	}
}

// TestSMTPTransientThenDelivered: the first connection drops, the second
// gets 451; both are retried and the third delivers, once.
func TestSMTPTransientThenDelivered(t *testing.T) {
	s := startSink(t, nil, func(s *sink) {
		s.behave = func(step string, n int64) error {
			switch {
			case n == 1 && step == "mail":
				return errDrop
			case n == 2 && step == "data":
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
			}
			return nil
		}
	})
	db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
	w := delivery.New(db, map[monban.Channel]delivery.Sender{monban.ChannelEmail: newSMTP(t, s, nil)}, box,
		newRenderer(t), clock, quietLog, delivery.Config{Rand: func(n int64) int64 { return n - 1 }})
	m := queueCode(t, db, box, monban.ChannelEmail, "taro@example.jp", "111111", clock.Now())
	for i, want := range []string{"smtp: ", "451 4.3.0 Try again later"} {
		runOnce(t, w, 1)
		got := message(t, db, m.ID)
		if got.Status != monban.MessageQueued || !strings.Contains(got.Reason, want) {
			t.Fatalf("attempt %d: %s %q", i+1, got.Status, got.Reason)
		}
		clock.Set(got.NextAttemptAt)
	}
	runOnce(t, w, 1)
	if got := message(t, db, m.ID); got.Status != monban.MessageSent || got.Attempts != 3 {
		t.Errorf("%s after %d attempts", got.Status, got.Attempts)
	}
	if n := len(s.received()); n != 1 {
		t.Errorf("%d mails received, want 1", n)
	}
}

func TestSMTPConfig(t *testing.T) {
	for _, cfg := range []delivery.SMTPConfig{
		{Host: "mail.example.jp", Port: 587, From: "no-reply@example.jp", TLS: "ssl"},
		{Host: "mail.example.jp", Port: 587, From: "not an address"},
		{Port: 587, From: "no-reply@example.jp"},
	} {
		if _, err := delivery.NewSMTP(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// BenchmarkOutboxSMTP measures messages per second from the outbox
// (SQLite) through the worker to a local SMTP sink, one connection per
// message.
func BenchmarkOutboxSMTP(b *testing.B) {
	s := startSink(b, nil, nil)
	db := storetest.OpenSQLite(b, b.TempDir()+"/bench.db")
	box := testBox(b)
	w := newWorker(b, db, newSMTP(b, s, nil), monban.SystemClock{},
		delivery.Config{Concurrency: 16, Batch: 64, Poll: 10 * time.Millisecond})
	for i := range b.N {
		queueCode(b, db, box, monban.ChannelEmail, "u"+strconv.Itoa(i)+"@example.jp", "123456", time.Now())
	}
	runCtx, cancel := context.WithCancel(ctx)
	b.ResetTimer()
	start := time.Now()
	done := make(chan struct{})
	go func() { _ = w.Run(runCtx); close(done) }()
	for range b.N {
		select {
		case <-s.got:
		case <-time.After(30 * time.Second):
			b.Fatal("sink stopped receiving")
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
