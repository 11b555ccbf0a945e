// Package web is monban's HTTP face: every route in one table (routes.go),
// one mapping from domain errors to problem+json and error pages (errors.go),
// server-rendered pages in Japanese and English, the JSON API for native and
// host apps, health, readiness and metrics.
package web
