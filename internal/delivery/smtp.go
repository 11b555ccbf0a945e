package delivery

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// SMTPProvider names the SMTP sender as a provider.
const SMTPProvider = "smtp"

// SMTP TLS modes.
const (
	SMTPStartTLS = "starttls" // plain connection upgraded with STARTTLS (port 587); required, not opportunistic
	SMTPTLS      = "tls"      // TLS from the first byte (port 465)
	SMTPNoTLS    = "none"     // loopback relays and test sinks only
)

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string // no AUTH when empty
	Password string
	From     string // envelope and header sender, e.g. no-reply@example.jp
	FromName string // display name, e.g. the app's name (any language)
	TLS      string // SMTPStartTLS (default), SMTPTLS or SMTPNoTLS
	Timeout  time.Duration
	HeloName string // the name sent in EHLO (default "localhost")
	// TLSConfig overrides the TLS settings, e.g. to trust a private CA.
	TLSConfig *tls.Config
	Clock     monban.Clock // for the Date header; the wall clock when nil
	// Sign, when set, turns the composed message into the one sent, e.g.
	// with a DKIM-Signature prepended (NewDKIMSigner).
	Sign func(msg []byte) ([]byte, error)
}

// SMTP sends email over SMTP, one connection per message. It uses the
// standard library's net/smtp: it can say EHLO with a chosen name before
// STARTTLS (emersion/go-smtp's client cannot), refuses to send a password
// over an unencrypted connection to anything but loopback, and needs no
// dependency; the context is honoured through the connection's deadline.
type SMTP struct {
	cfg    SMTPConfig
	addr   string
	domain string // of From, for Message-IDs
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns the sender.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	cfg.TLS = orDefault(cfg.TLS, SMTPStartTLS)
	if cfg.TLS != SMTPStartTLS && cfg.TLS != SMTPTLS && cfg.TLS != SMTPNoTLS {
		return nil, fmt.Errorf("smtp: TLS must be %q, %q or %q, not %q", SMTPStartTLS, SMTPTLS, SMTPNoTLS, cfg.TLS)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil || cfg.Host == "" || cfg.Port <= 0 {
		return nil, fmt.Errorf("smtp: need a host, a port and a From address (%q): %v", cfg.From, err)
	}
	cfg.From = from.Address
	cfg.HeloName = orDefault(cfg.HeloName, "localhost")
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = monban.SystemClock{}
	}
	_, domain, _ := strings.Cut(cfg.From, "@")
	return &SMTP{cfg: cfg, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), domain: domain}, nil
}

// Provider returns "smtp".
func (s *SMTP) Provider() string { return SMTPProvider }

// Send delivers out to its destination. The provider id is the
// Message-ID, stable across retries so a receiving system can tell a
// retried message from a new one. A 5xx answer is permanent (its text is the
// reason); 4xx answers and connection failures are retried.
func (s *SMTP) Send(ctx context.Context, out *Outgoing) (string, error) {
	msgID := "<" + out.IdempotencyKey + "@" + s.domain + ">"
	msg, err := s.compose(out, msgID)
	if err != nil {
		return "", Permanent("cannot compose the email", err)
	}
	if s.cfg.Sign != nil {
		if msg, err = s.cfg.Sign(msg); err != nil {
			return "", Permanent("cannot sign the email", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.transact(ctx, out.Message.Destination, msg); err != nil {
		return "", classifySMTP(err)
	}
	return msgID, nil
}

// transact runs one SMTP session. A server that hangs is cut off when ctx
// ends: the connection's deadline makes every read and write fail.
func (s *SMTP) transact(ctx context.Context, to string, msg []byte) error {
	conn, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HeloName); err != nil {
		return err
	}
	if s.cfg.TLS == SMTPStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("server does not offer STARTTLS")
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return err
		}
	}
	if s.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return err
		}
	}
	if err := c.Mail(s.cfg.From); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil { // the server's verdict on the message
		return err
	}
	_ = c.Quit() // accepted already; a failed goodbye changes nothing
	return nil
}

func (s *SMTP) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{}
	if s.cfg.TLS == SMTPTLS {
		return (&tls.Dialer{NetDialer: d, Config: s.tlsConfig()}).DialContext(ctx, "tcp", s.addr)
	}
	return d.DialContext(ctx, "tcp", s.addr)
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.cfg.TLSConfig != nil {
		c := s.cfg.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.cfg.Host
		}
		return c
	}
	return &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
}

// classifySMTP makes a 5xx reply permanent, with the server's words as the
// reason; anything else is worth another try.
func classifySMTP(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		reason := clip(strconv.Itoa(te.Code)+" "+strings.Join(strings.Fields(te.Msg), " "), 300)
		if te.Code >= 500 && te.Code < 600 {
			return Permanent(reason, err)
		}
		return fmt.Errorf("smtp: %s", reason)
	}
	return fmt.Errorf("smtp: %w", err)
}

// compose builds the MIME message: multipart/alternative with a text and an
// HTML part, UTF-8 throughout, header words encoded per RFC 2047.
func (s *SMTP) compose(out *Outgoing, msgID string) ([]byte, error) {
	m := out.Message
	to, err := mail.ParseAddress(m.Destination)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	boundary, err := newBoundary()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", (&mail.Address{Name: s.cfg.FromName, Address: s.cfg.From}).String())
	header("To", (&mail.Address{Address: to.Address}).String())
	header("Subject", mime.BEncoding.Encode("UTF-8", out.Subject))
	header("Date", s.cfg.Clock.Now().Format(time.RFC1123Z))
	header("Message-ID", msgID)
	header("MIME-Version", "1.0")
	header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	if m.Lang != "" {
		header("Content-Language", m.Lang)
	}
	// Ask mail systems not to answer (vacation replies, RFC 3834).
	header("Auto-Submitted", "auto-generated")
	header("X-Auto-Response-Suppress", "All")
	b.WriteString("\r\n")
	for _, p := range []struct{ typ, body string }{{"text/plain", out.Text}, {"text/html", out.HTML}} {
		if p.body == "" {
			continue
		}
		b.WriteString("--" + boundary + "\r\n")
		header("Content-Type", p.typ+"; charset=UTF-8")
		header("Content-Transfer-Encoding", "base64")
		b.WriteString("\r\n")
		writeBase64Lines(&b, []byte(p.body))
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// writeBase64Lines writes data in base64, 76 characters a line (RFC 2045).
func writeBase64Lines(b *bytes.Buffer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
}

func newBoundary() (string, error) {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return "monban-" + base64.RawURLEncoding.EncodeToString(r[:]), nil
}
