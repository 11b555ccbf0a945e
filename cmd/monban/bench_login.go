package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/monban-dev/monban/internal/loadtest"
)

// loginScenario: password sign-ins through POST /api/v1/sessions, next to
// the node's own argon2id Verify called directly from as many goroutines.
// The hash is the physical limit of a sign-in; everything around it (JSON,
// lookups, the session insert, the audit row) should be noise.
func loginScenario() benchScenario {
	return benchScenario{
		name:        "login",
		reference:   "argon2id Verify",
		concurrency: []int{2, 4, 8, 16, 32},
		targets:     func(string) benchTargets { return benchTargets{Ratio: 0.90} },
		prepare:     prepareLogin,
	}
}

func prepareLogin(ctx context.Context, env *benchEnv) (*benchPair, error) {
	if err := env.ensureAccounts(ctx); err != nil {
		return nil, err
	}
	bodies := make([][]byte, len(env.accounts))
	for i, name := range env.accounts {
		// Each account signs in from its own app install, as a native app
		// does (a stable device_id): the first sign-in of a round is a new
		// device, the rest are the everyday case of a known one.
		bodies[i], _ = json.Marshal(map[string]string{"identifier": name, "password": benchPassword,
			"device_id": fmt.Sprintf("bench-install-%06d", i)})
	}
	hdr := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"monban-bench"}}
	target := loadtest.Target{
		Base:   env.base,
		Expect: http.StatusCreated,
		Request: func(seq uint64) loadtest.Request {
			return loadtest.Request{Method: "POST", Path: "/api/v1/sessions", Header: hdr, Body: bodies[seq%uint64(len(bodies))]}
		},
	}
	// The reference verifies a hash made by the same hasher with the same
	// parameters, as a sign-in does.
	hasher := env.node.Hasher
	encoded, err := hasher.Hash(ctx, benchPassword)
	if err != nil {
		return nil, err
	}
	verify := func(ctx context.Context, _ int, _ uint64) error {
		ok, _, err := hasher.Verify(ctx, encoded, benchPassword)
		if err == nil && !ok {
			return &loadtest.Failure{Kind: "verify", Detail: "password did not match"}
		}
		return err
	}
	return &benchPair{
		run: runTarget(target),
		ref: func(ctx context.Context, o loadtest.Options) (loadtest.Result, error) {
			return loadtest.RunFunc(ctx, o, verify)
		},
	}, nil
}
