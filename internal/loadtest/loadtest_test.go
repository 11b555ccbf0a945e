package loadtest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// server answers 503 "busy" to odd ?n= and {"ok":true} to the rest, and
// counts what it served.
func server(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if n%2 == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &served
}

func evenOnly(seq uint64) Request {
	return Request{Method: "POST", Path: "/?n=" + strconv.FormatUint(seq*2, 10), Body: []byte(`{}`)}
}

func TestRunCountBounded(t *testing.T) {
	srv, served := server(t)
	res, err := Run(context.Background(), Options{Concurrency: 4, Count: 200}, nil, Target{Base: srv.URL, Request: evenOnly})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 200 || res.Errors != 0 || served.Load() != 200 {
		t.Fatalf("ops %d errors %d served %d, want 200 0 200: %v", res.Ops, res.Errors, served.Load(), res)
	}
	if res.P50 <= 0 || res.P50 > res.P90 || res.P90 > res.P99 || res.P99 > res.Max || res.OpsPerSec <= 0 {
		t.Fatalf("inconsistent latencies: %v", res)
	}
}

func TestRunCountsErrorsByKind(t *testing.T) {
	srv, _ := server(t)
	res, err := Run(context.Background(), Options{Concurrency: 3, Count: 100}, nil, Target{
		Base:    srv.URL,
		Request: func(seq uint64) Request { return Request{Method: "GET", Path: "/?n=" + strconv.FormatUint(seq, 10)} },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 50 || res.Errors != 50 || res.ErrorKinds["status 503"] != 50 {
		t.Fatalf("want 50 ok, 50 × status 503: %v", res)
	}
	if len(res.Samples) != keptBodies || !strings.Contains(res.Samples[0], "busy") {
		t.Fatalf("samples %q", res.Samples)
	}
}

func TestRunExpectAndCheck(t *testing.T) {
	srv, _ := server(t)
	tests := []struct {
		name string
		tgt  Target
		kind string
	}{
		{"wrong status", Target{Expect: http.StatusCreated}, "status 200"},
		{"check refuses body", Target{Check: func(b []byte) bool { return bytes.Contains(b, []byte("false")) }}, "check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.tgt.Base, tt.tgt.Request = srv.URL, evenOnly
			res, err := Run(context.Background(), Options{Concurrency: 2, Count: 10}, nil, tt.tgt)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops != 0 || res.ErrorKinds[tt.kind] != 10 {
				t.Fatalf("want 10 × %s: %v", tt.kind, res)
			}
		})
	}
}

func TestRunTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	res, err := Run(context.Background(), Options{Concurrency: 2, Count: 6}, nil, Target{Base: base, Request: evenOnly})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 6 || res.ErrorKinds["transport"] != 6 {
		t.Fatalf("want 6 transport errors: %v", res)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, base := range []string{"http://192.0.2.1:80", "http://example.com", "ftp://127.0.0.1", "http://10.0.0.1:8080", "::"} {
		if _, err := Run(context.Background(), Options{Concurrency: 1, Count: 1}, nil, Target{Base: base, Request: evenOnly}); err == nil {
			t.Errorf("%s: accepted", base)
		}
	}
	for _, base := range []string{"http://127.0.0.1:1", "http://[::1]:1", "http://localhost:1"} {
		if err := CheckLoopback(base); err != nil {
			t.Errorf("%s: %v", base, err)
		}
	}
}

func TestClientRefusesNonLoopbackDial(t *testing.T) {
	_, err := NewClient(1).Get("http://192.0.2.1:9/")
	if err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunFuncRateAndCount(t *testing.T) {
	var calls atomic.Int64
	res, err := RunFunc(context.Background(), Options{Concurrency: 4, Count: 50, Rate: 1e6}, func(context.Context, int, uint64) error {
		calls.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 50 || calls.Load() != 50 {
		t.Fatalf("ops %d calls %d, want 50", res.Ops, calls.Load())
	}
}

func TestRunFuncSeqCoversCount(t *testing.T) {
	seen := make([]atomic.Bool, 100)
	_, err := RunFunc(context.Background(), Options{Concurrency: 7, Count: 100}, func(_ context.Context, _ int, seq uint64) error {
		if seen[seq].Swap(true) {
			return errors.New("seq twice")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if !seen[i].Load() {
			t.Fatalf("seq %d never used", i)
		}
	}
}

func TestRunFuncOtherErrors(t *testing.T) {
	res, _ := RunFunc(context.Background(), Options{Concurrency: 1, Count: 3}, func(context.Context, int, uint64) error {
		return errors.New("boom")
	})
	if res.ErrorKinds["error"] != 3 || res.Samples[0] != "error: boom" {
		t.Fatalf("%v %q", res, res.Samples)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{}, {Concurrency: 1}, {Concurrency: 0, Count: 1}, {Concurrency: 1, Count: 1, Rate: -1}} {
		if _, err := RunFunc(context.Background(), o, func(context.Context, int, uint64) error { return nil }); err == nil {
			t.Errorf("%+v: accepted", o)
		}
	}
}

func TestQuantile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i))
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}, {0, 1}} {
		if got := quantile(lat, tt.q); got != tt.want {
			t.Errorf("q%v = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := quantile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("single = %v", got)
	}
}

func TestSummarize(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	errs := []error{&Failure{Kind: "retry", Detail: "421"}, errors.New("boom")}
	r := Summarize(lat, errs, 2*time.Second)
	if r.Ops != 100 || r.Errors != 2 || r.OpsPerSec != 50 {
		t.Fatalf("ops %d errors %d rate %v", r.Ops, r.Errors, r.OpsPerSec)
	}
	if r.P50 != 50*time.Millisecond || r.P99 != 99*time.Millisecond || r.Max != 100*time.Millisecond {
		t.Fatalf("p50 %v p99 %v max %v", r.P50, r.P99, r.Max)
	}
	if r.ErrorKinds["retry"] != 1 || r.ErrorKinds["error"] != 1 || len(r.Samples) != 2 {
		t.Fatalf("kinds %v samples %v", r.ErrorKinds, r.Samples)
	}
	if lat[0] != 100*time.Millisecond {
		t.Fatal("Summarize sorted the caller's slice")
	}
}
