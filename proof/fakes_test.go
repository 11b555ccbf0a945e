package proof

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Fake providers at the outer edge of the world: an SMTP server and an
// HTTP SMS API on loopback, each of which can behave well, hang, refuse or
// answer garbage, and records what it accepted.

type fault int32

const (
	faultNone    fault = iota // accept every message
	faultHang                 // accept the connection, never answer
	faultRefuse               // close every connection at once
	faultGarbage              // answer nonsense
	faultTemp                 // a temporary failure (SMTP 451, HTTP 503)
)

// smtpSink is a minimal SMTP server that records each accepted message by
// its Message-ID.
type smtpSink struct {
	ln    net.Listener
	mode  atomic.Int32
	mu    sync.Mutex
	byID  map[string]int    // Message-ID → times accepted
	mails map[string][]byte // Message-ID → last copy
	hung  chan struct{}     // closed at the end: releases hanging connections
}

func startSMTP(t *testing.T) *smtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln, byID: map[string]int{}, mails: map[string][]byte{}, hung: make(chan struct{})}
	go s.serve()
	t.Cleanup(func() { ln.Close(); close(s.hung) })
	return s
}

func (s *smtpSink) port() string { _, p, _ := net.SplitHostPort(s.ln.Addr().String()); return p }

func (s *smtpSink) set(f fault) { s.mode.Store(int32(f)) }

// env is the node configuration that sends email here.
func (s *smtpSink) env() map[string]string {
	return map[string]string{"MONBAN_SMTP_HOST": "127.0.0.1", "MONBAN_SMTP_PORT": s.port(), "MONBAN_SMTP_TLS": "none"}
}

// counts returns how many distinct messages arrived and how many arrived
// more than once.
func (s *smtpSink) counts() (distinct, dup int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.byID {
		if n > 1 {
			dup++
		}
	}
	return len(s.byID), dup
}

// has reports whether a message whose Message-ID contains id arrived.
func (s *smtpSink) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for mid := range s.byID {
		if strings.Contains(mid, id) {
			return true
		}
	}
	return false
}

func (s *smtpSink) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.conn(c)
	}
}

func (s *smtpSink) conn(c net.Conn) {
	defer c.Close()
	switch fault(s.mode.Load()) {
	case faultRefuse:
		return
	case faultHang:
		<-s.hung
		return
	case faultGarbage:
		io.WriteString(c, "\x00\xffHELLO? 999 not smtp at all\r\n")
		return
	}
	r := bufio.NewReader(c)
	reply := func(l string) { io.WriteString(c, l+"\r\n") }
	reply("220 proof ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			reply("250-proof")
			reply("250 8BITMIME")
		case strings.HasPrefix(cmd, "HELO"), strings.HasPrefix(cmd, "RSET"), strings.HasPrefix(cmd, "NOOP"):
			reply("250 ok")
		case strings.HasPrefix(cmd, "MAIL"):
			if fault(s.mode.Load()) == faultTemp {
				reply("451 4.3.0 try again later")
				continue
			}
			reply("250 ok")
		case strings.HasPrefix(cmd, "RCPT"):
			reply("250 ok")
		case cmd == "DATA":
			reply("354 go ahead")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			s.record(data.Bytes())
			reply("250 queued")
		case cmd == "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 unknown")
		}
	}
}

func (s *smtpSink) record(data []byte) {
	id := ""
	if m, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		id = m.Header.Get("Message-ID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[id]++
	s.mails[id] = data
}

// smsAPI is an HTTP SMS provider: it records each accepted message by its
// idempotency key and answers {"id": …}.
type smsAPI struct {
	srv  *httptest.Server
	mode atomic.Int32
	mu   sync.Mutex
	byID map[string]int
	to   map[string]int // destination → messages accepted
	hung chan struct{}
}

func startSMSAPI(t *testing.T) *smsAPI {
	t.Helper()
	a := &smsAPI{byID: map[string]int{}, to: map[string]int{}, hung: make(chan struct{})}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(func() { close(a.hung); a.srv.Close() })
	return a
}

func (a *smsAPI) set(f fault) { a.mode.Store(int32(f)) }

func (a *smsAPI) serve(w http.ResponseWriter, r *http.Request) {
	switch fault(a.mode.Load()) {
	case faultHang:
		select {
		case <-a.hung:
		case <-r.Context().Done():
		}
		return
	case faultRefuse:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
	case faultGarbage:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "<html>\x00{not json")
		return
	case faultTemp:
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var in struct {
		To   string `json:"to"`
		Text string `json:"text"`
	}
	json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in)
	key := r.Header.Get("Idempotency-Key")
	a.mu.Lock()
	a.byID[key]++
	a.to[in.To]++
	n := len(a.byID)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": "sms-" + key, "n": n})
}

// counts returns how many distinct messages were accepted and how many
// more than once.
func (a *smsAPI) counts() (distinct, dup int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range a.byID {
		if n > 1 {
			dup++
		}
	}
	return len(a.byID), dup
}

// destinations returns a copy of the per-destination counts.
func (a *smsAPI) destinations() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for k, v := range a.to {
		out[k] = v
	}
	return out
}

// configYAML is a node config file naming this API as the SMS provider.
func (a *smsAPI) configYAML() string {
	return `sms_provider: fakesms
http_providers:
  - name: fakesms
    channel: sms
    url: ` + a.srv.URL + `/send
    body_format: json
    body: {to: "{{.To}}", text: "{{.Text}}"}
    id_from: id
    idempotency_header: Idempotency-Key
    timeout: 2s
    callback_secret: "00112233445566778899aabbccddeeff"
`
}
