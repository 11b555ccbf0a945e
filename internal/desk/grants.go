package desk

import (
	"context"
	"slices"
	"time"

	"github.com/monban-dev/monban"
)

// GrantStore is the storage grants need.
type GrantStore interface {
	CreateGrant(ctx context.Context, g *monban.Grant, ev monban.AuditEvent) error
	UseGrant(ctx context.Context, accountID, step string, now time.Time, ev monban.AuditEvent) (*monban.Grant, error)
	GrantsByAccount(ctx context.Context, accountID string, usableAt time.Time) ([]monban.Grant, error)
	AppendAudit(ctx context.Context, ev monban.AuditEvent) error
}

// Grants are time-boxed bypasses of one verification step (seed 001): an
// agent opens one for an account, and the flow that would ask for that
// step (a transfer, a lock's phone check) uses it instead, once.
type Grants struct {
	store GrantStore
	clock monban.Clock
}

// NewGrants returns the grant service.
func NewGrants(store GrantStore, clock monban.Clock) *Grants {
	return &Grants{store: store, clock: clock}
}

// Create opens a grant of step for accountID, usable for ttl (0:
// monban.DefaultGrantTTL; at most monban.MaxGrantTTL), on behalf of agent
// (who needs ActGrantBypass; a refusal is audited), in caseID if any.
func (g *Grants) Create(ctx context.Context, agent *monban.Agent, accountID, step, caseID string, ttl time.Duration) (*monban.Grant, error) {
	now := g.clock.Now()
	if err := allow(agent, ActGrantBypass); err != nil {
		g.denied(ctx, agent, accountID, ActGrantBypass, now)
		return nil, err
	}
	if !slices.Contains(monban.GrantSteps, step) {
		return nil, monban.Errorf(monban.EInvalid, "grant.step").WithField("step")
	}
	if accountID == "" {
		return nil, monban.Errorf(monban.EInvalid, "grant.no_account")
	}
	if ttl == 0 {
		ttl = monban.DefaultGrantTTL
	}
	if ttl < 0 || ttl > monban.MaxGrantTTL {
		return nil, monban.Errorf(monban.EInvalid, "grant.ttl").WithField("hours")
	}
	gr := &monban.Grant{ID: monban.NewID("grt"), AccountID: accountID, Step: step, CreatedBy: agent.ID,
		CaseID: caseID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	ev := monban.AuditEvent{At: now, AccountID: accountID, AgentID: agent.ID, Action: monban.AuditGrantCreated,
		Detail: map[string]string{"grant_id": gr.ID, "step": step, "expires_at": gr.ExpiresAt.Format(time.RFC3339)}}
	if caseID != "" {
		ev.Detail["case_id"] = caseID
	}
	if err := g.store.CreateGrant(ctx, gr, ev); err != nil {
		return nil, err
	}
	return gr, nil
}

// Use spends the account's grant for step, if one is usable now: only
// inside its window, only once (atomically, even across nodes), only for
// that account and step. No grant is ENotFound "grant.none".
func (g *Grants) Use(ctx context.Context, accountID, step string) (*monban.Grant, error) {
	now := g.clock.Now()
	return g.store.UseGrant(ctx, accountID, step, now,
		monban.AuditEvent{At: now, AccountID: accountID, Action: monban.AuditGrantUsed})
}

// Active returns the account's grants usable now, newest first.
func (g *Grants) Active(ctx context.Context, accountID string) ([]monban.Grant, error) {
	return g.store.GrantsByAccount(ctx, accountID, g.clock.Now())
}

// All returns every grant of the account, used and expired ones included.
func (g *Grants) All(ctx context.Context, accountID string) ([]monban.Grant, error) {
	return g.store.GrantsByAccount(ctx, accountID, time.Time{})
}

// denied audits an agent's refused action (best effort: the refusal stands
// either way).
func (g *Grants) denied(ctx context.Context, agent *monban.Agent, accountID string, act Action, now time.Time) {
	auditDenied(ctx, g.store, agent, accountID, act, now)
}

func auditDenied(ctx context.Context, s interface {
	AppendAudit(ctx context.Context, ev monban.AuditEvent) error
}, agent *monban.Agent, accountID string, act Action, now time.Time) {
	id := ""
	if agent != nil {
		id = agent.ID
	}
	_ = s.AppendAudit(ctx, monban.AuditEvent{At: now, AccountID: accountID, AgentID: id, Action: monban.AuditAgentDenied,
		Detail: map[string]string{"action": string(act)}})
}
