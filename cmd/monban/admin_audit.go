package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
)

const auditUsage = `monban admin audit export --since T [--until T] [--account ID] [--agent ID]
                                          the audit log as JSON lines on stdout (T: RFC 3339)`

// auditJSON is one exported line; the admin API writes the same fields.
type auditJSON struct {
	ID        int64             `json:"id"`
	At        time.Time         `json:"at"`
	Action    string            `json:"action"`
	AccountID string            `json:"account_id,omitempty"`
	AgentID   string            `json:"agent_id,omitempty"`
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
}

// cmdAdminAudit exports the audit log of a time range, streaming: each
// event is written as it is read.
func cmdAdminAudit(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "export" {
		return errors.New("usage:\n" + auditUsage)
	}
	fs := flag.NewFlagSet("admin audit export", flag.ContinueOnError)
	var cf commonFlags
	cf.register(fs, false)
	since := fs.String("since", "", "first time included (RFC 3339, e.g. 2026-04-01T00:00:00+09:00)")
	until := fs.String("until", "", "end of the range, excluded (RFC 3339; default: no end)")
	accountID := fs.String("account", "", "only this account's events")
	agentID := fs.String("agent", "", "only this agent's events")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	f := monban.AuditFilter{AccountID: *accountID, AgentID: *agentID}
	var err error
	if f.Since, err = time.Parse(time.RFC3339, *since); err != nil {
		return fmt.Errorf("audit export: --since must be an RFC 3339 time: %w", err)
	}
	if *until != "" {
		if f.Until, err = time.Parse(time.RFC3339, *until); err != nil || !f.Until.After(f.Since) {
			return errors.New("audit export: --until must be an RFC 3339 time after --since")
		}
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	db, err := node.OpenStore(ctx, cfg, monban.SystemClock{})
	if err != nil {
		return err
	}
	defer db.Close()
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	err = db.ExportAudit(ctx, f, func(ev monban.AuditEvent) error {
		return enc.Encode(auditJSON{ID: ev.ID, At: ev.At.UTC(), Action: ev.Action, AccountID: ev.AccountID,
			AgentID: ev.AgentID, IP: ev.IP, UserAgent: ev.UserAgent, Detail: ev.Detail})
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}
