package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Request is one HTTP request to send. Header is shared between requests
// and must not be changed once the run has started.
type Request struct {
	Method string
	Path   string // path and query, beginning with "/"
	Header http.Header
	Body   []byte
}

// Target is an HTTP load against one loopback server.
type Target struct {
	// Base is the server's root, such as "http://127.0.0.1:8080". Only
	// loopback hosts are accepted.
	Base string
	// Request returns the request to send as operation seq.
	Request func(seq uint64) Request
	// Expect is the status a successful answer has; 0 accepts any 2xx.
	Expect int
	// Check, when set, must accept a successful answer's body.
	Check func(body []byte) bool
}

// CheckLoopback refuses a base URL whose host is not a loopback address.
func CheckLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("loadtest: target %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("loadtest: target %q: scheme must be http or https", base)
	}
	if !isLoopback(u.Hostname()) {
		return fmt.Errorf("loadtest: target %q is not a loopback address; refusing to send load there", base)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewClient returns a keep-alive client that holds a connection for each of
// concurrency workers, dials only loopback addresses, uses no proxy and
// follows no redirects.
func NewClient(concurrency int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("loadtest: refusing to dial non-loopback %s", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        concurrency * 2,
		MaxIdleConnsPerHost: concurrency * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run sends t's requests with client as o says. A nil client gets a fresh
// one from NewClient.
func Run(ctx context.Context, o Options, client *http.Client, t Target) (Result, error) {
	if err := CheckLoopback(t.Base); err != nil {
		return Result{}, err
	}
	if t.Request == nil {
		return Result{}, errors.New("loadtest: target has no Request")
	}
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	if client == nil {
		client = NewClient(o.Concurrency)
		defer client.CloseIdleConnections()
	}
	bufs := make([]*bytes.Buffer, o.Concurrency)
	for i := range bufs {
		bufs[i] = bytes.NewBuffer(make([]byte, 0, 4096))
	}
	return RunFunc(ctx, o, func(ctx context.Context, worker int, seq uint64) error {
		return t.do(ctx, client, bufs[worker], seq)
	})
}

func (t *Target) do(ctx context.Context, client *http.Client, buf *bytes.Buffer, seq uint64) error {
	rq := t.Request(seq)
	req, err := http.NewRequestWithContext(ctx, rq.Method, t.Base+rq.Path, bytes.NewReader(rq.Body))
	if err != nil {
		return &Failure{Kind: "request", Detail: err.Error()}
	}
	if rq.Header != nil {
		req.Header = rq.Header
	}
	resp, err := client.Do(req)
	if err != nil {
		return &Failure{Kind: "transport", Detail: err.Error()}
	}
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return &Failure{Kind: "transport", Detail: "reading body: " + err.Error()}
	}
	ok := resp.StatusCode == t.Expect || (t.Expect == 0 && resp.StatusCode/100 == 2)
	if !ok {
		return &Failure{Kind: "status " + strconv.Itoa(resp.StatusCode), Detail: clip(buf.Bytes())}
	}
	if t.Check != nil && !t.Check(buf.Bytes()) {
		return &Failure{Kind: "check", Detail: clip(buf.Bytes())}
	}
	return nil
}

func clip(b []byte) string {
	const n = 512
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
