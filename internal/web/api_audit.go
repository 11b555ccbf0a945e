package web

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/monban-dev/monban"
)

// AuditStore streams the audit log.
type AuditStore interface {
	ExportAudit(ctx context.Context, f monban.AuditFilter, fn func(monban.AuditEvent) error) error
}

// auditLine is one JSON line of an export.
type auditLine struct {
	ID        int64             `json:"id,omitempty"`
	At        time.Time         `json:"at"`
	Action    string            `json:"action"`
	AccountID string            `json:"account_id,omitempty"`
	AgentID   string            `json:"agent_id,omitempty"`
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
}

// adminAPIKey authenticates an API key created with --admin.
func (s *Server) adminAPIKey(r *http.Request) (*monban.APIKey, error) {
	k, err := s.hostKey(r)
	if err != nil {
		return nil, err
	}
	if !k.Admin {
		return nil, monban.Errorf(monban.EForbidden, "apikey.not_admin")
	}
	return k, nil
}

// auditRange reads ?since= and ?until= (RFC 3339). since is required when
// required is set; until defaults to no end.
func auditRange(r *http.Request, required bool) (monban.AuditFilter, error) {
	var f monban.AuditFilter
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(p.name)
		if v == "" {
			if required && p.name == "since" {
				return f, monban.Errorf(monban.EInvalid, "audit.range").WithField(p.name)
			}
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, monban.Errorf(monban.EInvalid, "audit.range").WithField(p.name)
		}
		*p.dst = t
	}
	if !f.Until.IsZero() && !f.Until.After(f.Since) {
		return f, monban.Errorf(monban.EInvalid, "audit.range").WithField("until")
	}
	return f, nil
}

// apiAdminAudit exports the audit log of a time range as JSON lines
// (?since=&until=, optionally &account= or &agent=), streaming.
func (s *Server) apiAdminAudit(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.adminAPIKey(r); err != nil {
		return err
	}
	f, err := auditRange(r, true)
	if err != nil {
		return err
	}
	f.AccountID, f.AgentID = r.URL.Query().Get("account"), r.URL.Query().Get("agent")
	return s.streamAudit(w, r, f, "", func(ev monban.AuditEvent) auditLine {
		return auditLine{ID: ev.ID, At: ev.At.UTC(), Action: ev.Action, AccountID: ev.AccountID, AgentID: ev.AgentID,
			IP: ev.IP, UserAgent: ev.UserAgent, Detail: ev.Detail}
	})
}

// ownActivity is what an account holder's download shows of an event: what
// happened, when and from where; a support agent's actions say so without
// naming the agent.
func ownActivity(ev monban.AuditEvent) auditLine {
	l := auditLine{At: ev.At.UTC(), Action: ev.Action, IP: ev.IP, UserAgent: ev.UserAgent, Detail: ev.Detail}
	if ev.AgentID != "" {
		l.AgentID = "support"
	}
	return l
}

// apiAccountActivity is the signed-in account's own audit log as JSON
// lines (?since=&until= optional).
func (s *Server) apiAccountActivity(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	f, err := auditRange(r, false)
	if err != nil {
		return err
	}
	f.AccountID = cur.Account.ID
	return s.streamAudit(w, r, f, "", ownActivity)
}

// pageAccountActivity downloads the signed-in account's activity.
func (s *Server) pageAccountActivity(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	f := monban.AuditFilter{AccountID: cur.Account.ID}
	name := "monban-activity-" + s.clock.Now().UTC().Format("20060102") + ".jsonl"
	return s.streamAudit(w, r, f, name, ownActivity)
}

// streamAudit writes the selected events as JSON lines as they are read.
// Once the first line is out an error can no longer be a problem answer:
// it is logged and a last line says the export is incomplete.
func (s *Server) streamAudit(w http.ResponseWriter, r *http.Request, f monban.AuditFilter, filename string,
	view func(monban.AuditEvent) auditLine) error {
	started := false
	start := func() {
		started = true
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if filename != "" {
			w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
		}
		w.WriteHeader(http.StatusOK)
	}
	enc := json.NewEncoder(w)
	err := s.audit.ExportAudit(r.Context(), f, func(ev monban.AuditEvent) error {
		if !started {
			start()
		}
		return enc.Encode(view(ev))
	})
	switch {
	case err == nil && !started:
		start() // an empty export is an empty body
	case err != nil && !started:
		return err
	case err != nil:
		s.log.ErrorContext(r.Context(), "audit export interrupted", "err", err, "request_id", requestID(r.Context()))
		_ = enc.Encode(map[string]string{"error": "incomplete"})
	}
	return nil
}
