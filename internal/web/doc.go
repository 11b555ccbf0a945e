// Package web is monban's HTTP face: every route in one table (routes.go),
// one mapping from domain errors to problem+json and error pages (errors.go),
// server-rendered pages in Japanese and English, the JSON API for native and
// host apps, health, readiness and metrics.
//
// Each route in the table names its principal, who may call it (anyone, a
// person's session, a locked session, a held sign-in, a transfer's new
// device, a host or admin API key, a desk agent, a receipt provider), and
// the guessable secrets it checks (password, codes, links). The wrapper
// buildMux puts around every handler resolves the principal first
// (access.go), refuses the request without it as the pages and the API
// always have, and leaves it in the request's context for the handler; a
// route that names none stops the server at start-up. TestAccessRouteTable
// and TestSecretRouteTable walk the table: every refusal, and every secret
// behind a limit.
package web
