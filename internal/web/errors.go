package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/humantime"
)

// ProblemTypePrefix begins every problem+json type URI; the rest is the
// stable error code.
const ProblemTypePrefix = "urn:monban:problem:"

// statusOf maps each domain error code to its HTTP status.
var statusOf = map[monban.ErrorCode]int{
	monban.EInvalid:          http.StatusBadRequest,
	monban.EUnauthorized:     http.StatusUnauthorized,
	monban.EForbidden:        http.StatusForbidden,
	monban.ENotFound:         http.StatusNotFound,
	monban.EConflict:         http.StatusConflict,
	monban.ERateLimited:      http.StatusTooManyRequests,
	monban.ETooLarge:         http.StatusRequestEntityTooLarge,
	monban.EUnsupportedMedia: http.StatusUnsupportedMediaType,
	monban.EMethod:           http.StatusMethodNotAllowed,
	monban.EUnavailable:      http.StatusServiceUnavailable,
	monban.EInternal:         http.StatusInternalServerError,
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type    string     `json:"type"`
	Title   string     `json:"title"`
	Status  int        `json:"status"`
	Detail  string     `json:"detail"`
	Code    string     `json:"code"`
	Key     string     `json:"key,omitempty"`
	Field   string     `json:"field,omitempty"`
	RetryAt *time.Time `json:"retry_at,omitempty"`
}

// problemOf turns any error into the client-safe domain error. Unknown
// errors become error.internal and are logged with their cause.
func (s *Server) problemOf(r *http.Request, err error) *monban.Error {
	var e *monban.Error
	if !errors.As(err, &e) || e.Code == monban.EInternal || statusOf[e.Code] == 0 {
		s.log.ErrorContext(r.Context(), "internal error", "err", err, "request_id", requestID(r.Context()))
		return monban.Errorf(monban.EInternal, "error.internal")
	}
	if e.Code == monban.EUnavailable {
		s.log.WarnContext(r.Context(), "dependency unavailable", "err", err, "request_id", requestID(r.Context()))
	}
	return e
}

// setRetryAfter names the next allowed try for limits and outages.
func setRetryAfter(w http.ResponseWriter, e *monban.Error, now time.Time) {
	switch {
	case !e.RetryAt.IsZero():
		w.Header().Set("Retry-After", strconv.Itoa(humantime.RetryAfter(e.RetryAt, now)))
	case e.Code == monban.EUnavailable:
		w.Header().Set("Retry-After", "5")
	}
}

// withRetryTime adds the next allowed try, as a local time of day rounded
// up (to the second under a minute), to a limit's message parameters:
// people are told when, not just "later", and it is the retry_at moment.
func (s *Server) withRetryTime(e *monban.Error, lang string) map[string]any {
	if e.RetryAt.IsZero() {
		return e.Params
	}
	return mergeParams(e.Params, map[string]any{"time": humantime.NextTry(lang, e.RetryAt, s.clock.Now())})
}

// writeProblem renders err as problem+json in the request's language.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	e := s.problemOf(r, err)
	lang := s.cat.Lang(r)
	status := statusOf[e.Code]
	p := Problem{
		Type: ProblemTypePrefix + string(e.Code), Status: status, Code: string(e.Code),
		Title: s.cat.T(lang, "problem."+string(e.Code), nil), Detail: s.cat.T(lang, e.Key, s.withRetryTime(e, lang)),
		Key: e.Key, Field: e.Field,
	}
	if !e.RetryAt.IsZero() {
		t := humantime.RetryAt(e.RetryAt, s.clock.Now()).UTC()
		p.RetryAt = &t
	}
	setRetryAfter(w, e, s.clock.Now())
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// writePageError renders err as a full error page.
func (s *Server) writePageError(w http.ResponseWriter, r *http.Request, err error) {
	if account.IsLocked(err) {
		// A locked account's session reaches only the lock page and its ways out.
		http.Redirect(w, r, "/locked", http.StatusSeeOther)
		return
	}
	e := s.problemOf(r, err)
	setRetryAfter(w, e, s.clock.Now())
	v := s.view(w, r, "error.title")
	v.Error = v.T(e.Key, s.withRetryTime(e, v.Lang))
	v.Status = statusOf[e.Code]
	s.render(w, r, v.Status, "error", v)
}
