package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// TestAdminAgentsResetTwoStep: an agent who lost the authenticator gets it
// removed by an operator — the next sign-in enrols a new one, the open
// console sessions end, and the audit log says who and when.
func TestAdminAgentsResetTwoStep(t *testing.T) {
	dir := t.TempDir()
	mustAdmin(t, dir, "agents", "create", "--username", "Sato")

	ctx := context.Background()
	cfg := node.DefaultConfig()
	cfg.Data = dir
	db, err := node.OpenStore(ctx, cfg, monban.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.AgentByUsername(ctx, "sato")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := db.SetAgentTOTP(ctx, a.ID, []byte("sealed"), 7, monban.AuditEvent{At: now, AgentID: a.ID, Action: monban.AuditAgentTOTP}); err != nil {
		t.Fatal(err)
	}
	sess := &sqlstore.AgentSession{ID: monban.NewID("dss"), TokenHash: []byte("token-hash-sato"), AgentID: a.ID, Level: 2,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateAgentSession(ctx, sess, monban.AuditEvent{}); err != nil {
		t.Fatal(err)
	}

	out := mustAdmin(t, dir, "agents", "reset-2step", "--username", " SATO ")
	if !strings.Contains(out, "authenticator removed") || !strings.Contains(out, a.ID) {
		t.Errorf("reset-2step said:\n%s", out)
	}
	if secret, step, err := db.AgentTOTP(ctx, a.ID); err != nil || secret != nil || step != 0 {
		t.Errorf("after the reset: secret %q step %d (%v), want none", secret, step, err)
	}
	if s, err := db.AgentSessionByTokenHash(ctx, sess.TokenHash); err != nil || s.RevokedAt.IsZero() {
		t.Errorf("console session after the reset: %+v, %v; want revoked", s, err)
	}
	var found bool
	err = db.ExportAudit(ctx, monban.AuditFilter{AgentID: a.ID}, func(ev monban.AuditEvent) error {
		found = found || (ev.Action == monban.AuditAgentTOTPReset && ev.Detail["username"] == "sato")
		return nil
	})
	if err != nil || !found {
		t.Errorf("no %s audit entry for the agent (%v)", monban.AuditAgentTOTPReset, err)
	}

	for _, bad := range [][]string{
		{"agents", "reset-2step"},
		{"agents", "reset-2step", "--username", "nobody"},
	} {
		if out, err := admin(t, dir, bad...); err == nil {
			t.Errorf("admin %v succeeded:\n%s", bad, out)
		}
	}
}
