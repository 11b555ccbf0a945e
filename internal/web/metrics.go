package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the Prometheus registry of one server. It is not global, so
// tests and several servers in one process stay apart.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	SignIns  *prometheus.CounterVec
}

// NewMetrics registers monban's metrics and the Go runtime's.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "monban_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "monban_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		SignIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "monban_signin_total", Help: "Password sign-ins by outcome.",
		}, []string{"outcome"}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.SignIns,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// GaugeFunc registers a gauge read at scrape time (e.g. hashes in flight).
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

func (m *Metrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Outbox counts every delivery attempt by channel, provider and outcome.
func (m *Metrics) Outbox(w interface {
	OnResult(func(channel, provider, outcome string))
}) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "monban_outbox_sends_total", Help: "Outbox delivery attempts by channel, provider and outcome.",
	}, []string{"channel", "provider", "outcome"})
	m.Registry.MustRegister(c)
	w.OnResult(func(ch, p, o string) { c.WithLabelValues(ch, p, o).Inc() })
}

// Budget counts SMS-pumping budget alarms and logs each one as an alarm.
// The metric's labels are bounded whatever numbers an attacker sends to:
// the kind of budget ("global" or "prefix") and, for a prefix, the region
// of its country calling code (about 250 values); the prefix itself goes
// only to the log line.
func (m *Metrics) Budget(codes interface{ OnBudgetAlarm(func(scope string)) }, log *slog.Logger) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "monban_sms_budget_exceeded_total", Help: "Code requests refused because an SMS budget was spent (alarm), by budget kind and region.",
	}, []string{"scope", "region"})
	m.Registry.MustRegister(c)
	codes.OnBudgetAlarm(func(scope string) {
		kind, region := budgetLabels(scope)
		c.WithLabelValues(kind, region).Inc()
		log.Error("ALARM: SMS budget exceeded", "alarm", "sms_budget", "scope", scope, "region", region)
	})
}

// budgetLabels maps a budget scope ("global", "prefix:+8190123") to
// bounded label values.
func budgetLabels(scope string) (kind, region string) {
	prefix, ok := strings.CutPrefix(scope, "prefix:+")
	switch {
	case scope == "global":
		return "global", ""
	case !ok:
		return "other", ""
	}
	// Country calling codes are prefix-free: the first 1–3 digits that name
	// a region are the code.
	for n := 1; n <= 3 && n <= len(prefix); n++ {
		cc, err := strconv.Atoi(prefix[:n])
		if err != nil {
			break
		}
		if r := phonenumbers.GetRegionCodeForCountryCode(cc); r != "" && r != "ZZ" {
			return "prefix", r
		}
	}
	return "prefix", "ZZ"
}
