package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/monban-dev/monban/internal/loadtest"
)

// whoamiSessions is how many session tokens the checks go round.
const whoamiSessions = 1000

// whoamiScenario: host-app session checks through POST /api/v1/introspect,
// next to a bare net/http handler on its own loopback listener that writes a
// body of the same size, driven by the same client in the same round. The
// gap between the two is everything monban does per check.
func whoamiScenario() benchScenario {
	return benchScenario{
		name:        "whoami",
		reference:   "bare net/http handler",
		concurrency: []int{16},
		targets: func(db string) benchTargets {
			if db == "sqlite" {
				return benchTargets{Ratio: 0.55, HalfRateMS: 5}
			}
			return benchTargets{} // reported, not held to a target
		},
		prepare: prepareWhoami,
	}
}

var activeTrue = []byte(`{"active":true`)

func prepareWhoami(ctx context.Context, env *benchEnv) (*benchPair, error) {
	tokens, err := env.sessionTokens(ctx, whoamiSessions)
	if err != nil {
		return nil, err
	}
	bodies := make([][]byte, len(tokens))
	for i, t := range tokens {
		bodies[i], _ = json.Marshal(map[string]string{"token": t})
	}
	hdr := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + env.apiKey},
		"User-Agent": {"monban-bench"}}
	request := func(seq uint64) loadtest.Request {
		return loadtest.Request{Method: "POST", Path: "/api/v1/introspect", Header: hdr, Body: bodies[seq%uint64(len(bodies))]}
	}
	sample, err := introspectOnce(ctx, env.base, request(0))
	if err != nil {
		return nil, err
	}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(sample)
	})
	bareBase, err := env.serve(bare)
	if err != nil {
		return nil, err
	}
	check := func(b []byte) bool { return bytes.HasPrefix(b, activeTrue) }
	node := loadtest.Target{Base: env.base, Request: request, Expect: http.StatusOK, Check: check}
	ref := loadtest.Target{Base: bareBase, Request: request, Expect: http.StatusOK, Check: check}
	return &benchPair{run: runTarget(node), ref: runTarget(ref), halfRate: true}, nil
}

func runTarget(t loadtest.Target) func(context.Context, loadtest.Options) (loadtest.Result, error) {
	return func(ctx context.Context, o loadtest.Options) (loadtest.Result, error) {
		client := loadtest.NewClient(o.Concurrency)
		defer client.CloseIdleConnections()
		return loadtest.Run(ctx, o, client, t)
	}
}

// introspectOnce returns a real introspection answer, which the bare
// handler then serves byte for byte.
func introspectOnce(ctx context.Context, base string, rq loadtest.Request) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, rq.Method, base+rq.Path, bytes.NewReader(rq.Body))
	if err != nil {
		return nil, err
	}
	req.Header = rq.Header.Clone()
	resp, err := loadtest.NewClient(1).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(b, activeTrue) {
		return nil, fmt.Errorf("introspect: %d %s", resp.StatusCode, b)
	}
	return b, nil
}
