package desk

import "github.com/monban-dev/monban"

// Action is something an agent may be allowed to do.
type Action string

// Agent actions. The permission table below says which role may take each.
const (
	ActView          Action = "view"           // the queue, a case and the account's timeline
	ActReply         Action = "reply"          // reply to the person
	ActSetStatus     Action = "set_status"     // set a status, close
	ActCheckIdentity Action = "check_identity" // run the identity checklist
	ActLiftLock      Action = "lift_lock"      // lift a lock (not a suspension)
	ActLiftSuspend   Action = "lift_suspend"   // lift a suspension
	ActGrantBypass   Action = "grant_bypass"   // a time-boxed bypass of one step
	ActVerifyPhone   Action = "verify_phone"   // mark a new phone verified
	ActResetTwoStep  Action = "reset_two_step" // turn 2-step off, remove factors
	ActMetrics       Action = "metrics"        // the desk's numbers
)

// Actions lists every action, in the order the console shows them.
var Actions = []Action{ActView, ActReply, ActSetStatus, ActCheckIdentity, ActLiftLock, ActLiftSuspend,
	ActGrantBypass, ActVerifyPhone, ActResetTwoStep, ActMetrics}

// minRole is the least role allowed each action: a role may do what every
// weaker role may. Lifting an ordinary lock is an agent's work (seed 000:
// the person waited days for it); what hands an account to a caller — a
// bypass, a new phone, 2-step off — takes a lead.
var minRole = map[Action]monban.AgentRole{
	ActView:          monban.RoleAgent,
	ActReply:         monban.RoleAgent,
	ActSetStatus:     monban.RoleAgent,
	ActCheckIdentity: monban.RoleAgent,
	ActLiftLock:      monban.RoleAgent,
	ActLiftSuspend:   monban.RoleLead,
	ActGrantBypass:   monban.RoleLead,
	ActVerifyPhone:   monban.RoleLead,
	ActResetTwoStep:  monban.RoleLead,
	ActMetrics:       monban.RoleLead,
}

func rank(r monban.AgentRole) int {
	switch r {
	case monban.RoleAgent:
		return 1
	case monban.RoleLead:
		return 2
	case monban.RoleAdmin:
		return 3
	}
	return 0
}

// Allowed reports whether role may take act.
func Allowed(role monban.AgentRole, act Action) bool {
	min, ok := minRole[act]
	return ok && rank(role) > 0 && rank(role) >= rank(min)
}

// errDenied is the answer to an agent without the role: nothing changes.
func errDenied(act Action) error {
	return monban.Errorf(monban.EForbidden, "desk.denied").WithParams(map[string]any{"action": string(act)})
}

// allow checks the agent may take act, refusing disabled agents too.
func allow(a *monban.Agent, act Action) error {
	if a == nil || !a.DisabledAt.IsZero() || !Allowed(a.Role, act) {
		return errDenied(act)
	}
	return nil
}
