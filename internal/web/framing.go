package web

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/monban-dev/monban"
)

// NewHTTPServer is the one http.Server monban serves h with: its timeouts,
// and the framing check (Serve it on a FramingListener).
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if fc, ok := c.(*framingConn); ok {
				return context.WithValue(ctx, framingKey, fc)
			}
			return ctx
		},
	}
}

// FramingListener wraps ln so that the server can tell a request framed
// two ways. Go's server reads a request carrying both Content-Length and
// Transfer-Encoding by the latter and drops the former header before any
// handler sees it; RFC 9112 §6.1 says the server MUST close such a
// connection, because a proxy in front may have framed it the other way
// and what Go reads as the next request was smuggled. Go also ignores
// Transfer-Encoding on an HTTP/1.0 request and reads its chunks as the next
// request. The wrapper watches the bytes read for a header block with both
// fields, or with Transfer-Encoding under an HTTP/1.0 request line; the
// root handler then refuses the request and closes the connection. Under TLS, wrap the
// TLS listener (the wrapper must see plain text).
func FramingListener(ln net.Listener) net.Listener { return framingListener{ln} }

type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

// framingConn scans what is read from it line by line. A body is scanned
// too, harmlessly: a JSON body has no header lines, and an empty line only
// starts a new block.
type framingConn struct {
	net.Conn
	ambiguous atomic.Bool

	// Scan state; only the server's reading goroutine touches it.
	line    []byte   // the start of the current line
	tail    [10]byte // the end of the current line ("HTTP/1.0\r" and one more)
	inBlock bool     // a line of the current block was seen (the first is the request line)
	http10  bool     // the block's request line is HTTP/1.0
	cl, te  bool     // the current header block has Content-Length / Transfer-Encoding
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for _, b := range p[:n] {
		c.scan(b)
	}
	return n, err
}

func (c *framingConn) scan(b byte) {
	if b != '\n' {
		if len(c.line) < len("transfer-encoding:") {
			c.line = append(c.line, b)
		}
		copy(c.tail[:], c.tail[1:])
		c.tail[len(c.tail)-1] = b
		return
	}
	switch l := string(c.line); {
	case l == "" || l == "\r":
		c.cl, c.te, c.inBlock, c.http10 = false, false, false, false // an empty line ends a header block
	case !c.inBlock:
		c.inBlock = true
		t := string(c.tail[:])
		c.http10 = strings.HasSuffix(t, " HTTP/1.0\r") || strings.HasSuffix(t, " HTTP/1.0")
	case hasPrefixFold(l, "content-length:"):
		c.cl = true
	case hasPrefixFold(l, "transfer-encoding:"):
		c.te = true
	}
	// Both framings, or Transfer-Encoding on HTTP/1.0 (which Go ignores,
	// reading the chunks as the next request, while a proxy may not).
	if c.te && (c.cl || c.http10) {
		c.ambiguous.Store(true)
	}
	c.line = c.line[:0]
	c.tail = [10]byte{}
}

func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != prefix[i] {
			return false
		}
	}
	return true
}

// refuseAmbiguousFraming answers a request from a connection that carried
// an ambiguously framed request with 400 and closes the connection.
func (s *Server) refuseAmbiguousFraming(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fc, ok := r.Context().Value(framingKey).(*framingConn); ok && fc.ambiguous.Load() {
			w.Header().Set("Connection", "close") // net/http closes after this answer
			s.writeProblem(w, r, monban.Errorf(monban.EInvalid, "request.ambiguous_framing"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
