package web_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/monban-dev/monban/internal/web"
)

// TestAmbiguousFramingClosesConnection speaks raw HTTP/1.1 to the server as
// monban serve builds it: a request framed both by Content-Length and by
// Transfer-Encoding, followed on the same connection by a second request
// (smuggled, if a proxy in front read the first by Content-Length), gets
// one 400 with Connection: close, and the connection is closed before the
// second is answered (RFC 9112 §6.1).
func TestAmbiguousFramingClosesConnection(t *testing.T) {
	h := newHarness(t, "sqlite")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewHTTPServer(h.n.Web.Handler())
	go srv.Serve(web.FramingListener(ln))
	t.Cleanup(func() { srv.Close() })
	smuggled := "GET /healthz HTTP/1.1\r\nHost: monban\r\n\r\n"
	for _, c := range []struct {
		name      string
		first     string
		responses int
		status    int
		closed    bool
	}{
		{"Content-Length and chunked", "POST /api/v1/sessions HTTP/1.1\r\nHost: monban\r\nContent-Type: application/json\r\n" +
			"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 1, 400, true},
		{"header names in another case", "POST /api/v1/sessions HTTP/1.1\r\nHost: monban\r\ncontent-length: 5\r\n" +
			"TRANSFER-ENCODING: chunked\r\n\r\n0\r\n\r\n", 1, 400, true},
		{"chunked on HTTP/1.0", "POST /api/v1/sessions HTTP/1.0\r\nHost: monban\r\nConnection: keep-alive\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 1, 400, true},
		// The control: the same pipelined pair, framed one way, is two answers
		// on a connection that stays open, so the test can see a second one.
		{"chunked only", "POST /api/v1/sessions HTTP/1.1\r\nHost: monban\r\nContent-Type: application/json\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 2, 400, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, c.first+smuggled); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(conn)
			var got []*http.Response
			for len(got) < 2 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					break
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				got = append(got, resp)
			}
			if len(got) != c.responses {
				t.Fatalf("%d responses, want %d", len(got), c.responses)
			}
			if got[0].StatusCode != c.status {
				t.Errorf("status %d, want %d", got[0].StatusCode, c.status)
			}
			if !c.closed {
				return
			}
			if !got[0].Close {
				t.Error("no Connection: close")
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := br.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("after the answer: read %d bytes, %v; want the connection closed (EOF)", n, err)
			}
		})
	}
}
