package web

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/monban-dev/monban/internal/pacing"
)

// pacedRoutes are the public routes that take an identifier someone can
// type (or a reference someone can guess): their answers must not tell, by
// time, whether it names something. Each route has its own pacer (a page
// and its API twin cost differently) with a floor above its usual work, in
// units of the configured floor (Config.PaceFloor, 10 ms by default).
// proof's TestEnumerationTiming measures them.
var pacedRoutes = []pacedRoute{
	{"POST /signin", 1},          // sign-in: a wrong password, known name or not
	{"POST /api/v1/sessions", 1}, //
	{"POST /help/signin", 1},     // login help
	{"POST /api/v1/recoveries", 1},
	// A support request: a proof of work, a case, a mail and a page, 5–12
	// ms on two busy cores.
	{"POST /support/new", 2},
	{"POST /transfer/start", 1}, // moving to a new device: identifier and password
	{"POST /api/v1/transfers", 1},
	{"POST /account/contact", 1}, // a contact change names an address
	{"POST /api/v1/contact-changes", 1},
	{"POST /check", 1}, // the public notice check (it had a 40 ms floor of its own)
	{"POST /api/v1/check", 1},
	{"POST /signup", 1}, // sign-up: its "taken" answer says so in words, paced alike
	{"POST /api/v1/accounts", 1},
}

// pacedRoute is a paced route and the least time its answers take, in
// floors.
type pacedRoute struct {
	pattern string
	floors  int
}

// paceFloor is the default floor: above the work of each paced route on an
// idle machine (1–8 ms), so that nearly every answer ends by the same wait.
const paceFloor = 10 * time.Millisecond

// pacers holds one pacer per paced route.
type pacers map[string]*pacing.Pacer

func newPacers(floor time.Duration) pacers {
	if floor == 0 {
		floor = paceFloor
	}
	ps := pacers{}
	for _, p := range pacedRoutes {
		ps[p.pattern] = &pacing.Pacer{Floor: max(time.Duration(p.floors)*floor, 0)}
	}
	return ps
}

// check refuses a paced route the table does not have, so renaming one
// cannot quietly drop its pacing: the server does not start.
func (ps pacers) check(rs []route) error {
	for p := range ps {
		if !slices.ContainsFunc(rs, func(rt route) bool { return rt.pattern == p }) {
			return fmt.Errorf("web: paced route %q is not in the route table", p)
		}
	}
	return nil
}

// paced wraps h when pattern is a paced route: the whole answer is held
// back (so that all of its work, rendering included, lies before the pace
// point) and goes out at the route's target; the work capabilities put off
// with pacing.After runs once it is out.
func (s *Server) paced(pattern string, h http.Handler) http.Handler {
	p, ok := s.pacers[pattern]
	if !ok {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, pc := pacing.Begin(r.Context(), p, time.Now())
		pw := &pacedWriter{ResponseWriter: w}
		h.ServeHTTP(pw, r.WithContext(ctx))
		if pw.status >= 500 {
			// A fault of monban's (the database is gone) is the same
			// answer for every identifier: it goes out at once, and its
			// duration (a connect timeout) must not raise the target of
			// the answers after it.
			pacing.Skip(ctx)
		}
		pc.Wait(ctx)
		// The length is known: flushing must not turn the answer chunked.
		if pw.status != http.StatusNoContent && pw.status != http.StatusNotModified && w.Header().Get("Content-Length") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(pw.body.Len()))
		}
		if pw.status != 0 {
			w.WriteHeader(pw.status)
		}
		_, _ = w.Write(pw.body.Bytes())
		_ = http.NewResponseController(w).Flush() // out before the put-off work
		pc.Finish()
	})
}

// pacedWriter holds an answer back until its pace says it may go. A paced
// answer is a page or a small JSON body: it fits in memory.
type pacedWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *pacedWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *pacedWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
