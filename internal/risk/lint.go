package risk

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"

	"github.com/monban-dev/monban"
)

// Warning is something about a rule that compiles but that an operator
// should know before deploying it. Warnings never make a file invalid.
type Warning struct {
	RuleID  string
	Code    string
	Message string
}

func (w Warning) String() string { return fmt.Sprintf("rule %s [%s]: %s", w.RuleID, w.Code, w.Message) }

// WarnLockWeapon: a rule locks an account on signals a stranger can
// produce about it, so an attacker can lock its owner out.
const WarnLockWeapon = "lock.stranger_signals"

// Warnings lists what the rules check found, in file order.
func (rs *Ruleset) Warnings() []Warning { return rs.warnings }

// strangerSignals are the signal types anyone can produce about an account
// without any access to it — knowing its name is enough — and why. Every
// other type needs the password (signin.success, device.new, …), the
// account's session or the host app's API key (host-app signals).
var strangerSignals = map[string]string{
	monban.SignalSignInFailure:    "a failed sign-in needs only the account's name",
	monban.SignalCodeRequested:    "anyone can ask for a code to be sent",
	monban.SignalRecoveryAttempt:  "anyone can start login help and enter wrong codes",
	monban.SignalSupportRequested: "anyone can file a support request in someone's name",
}

// weaponWarning reports a rule whose action holds the account past what
// its owner can clear alone (a lock, a review lock, a suspension) and that
// a stranger's signal can set off with nothing from the account's own
// session: it runs on a stranger's signal and its condition is not gated
// on an aggregate of signals that need access. A step-up is not warned
// about: the owner passes it themselves.
//
// A condition is gated when it can only be true after such activity: a
// comparison that is false while an access-needing count, sum or ratio is
// zero ("count(\"purchase\", \"24h\") > 0"), a signal.type equal to an
// access-needing type, a conjunction with one gated side, a disjunction or
// choice with every side gated. Anything else (a negation, arithmetic over
// aggregates, a call it does not know) counts as not gated: the lint
// rather warns once too often than misses a weapon.
func (r *Rule) weaponWarning() (Warning, bool) {
	if r.Kind != monban.LockTemp && r.Kind != monban.LockReview && r.Kind != monban.LockSuspend {
		return Warning{}, false
	}
	var triggers []string // the stranger signals the rule runs on
	for t := range strangerSignals {
		if r.Triggers(t) {
			triggers = append(triggers, t)
		}
	}
	if len(triggers) == 0 {
		return Warning{}, false
	}
	calls := make(map[int64]aggCall, len(r.calls))
	for _, c := range r.calls {
		calls[c.id] = c
	}
	if gated(r.ast.NativeRep().Expr(), calls) {
		return Warning{}, false
	}
	return Warning{RuleID: r.ID, Code: WarnLockWeapon, Message: r.weaponMessage(triggers)}, true
}

// weaponMessage names the stranger signals the rule runs on (when it
// names them) and counts, why each is a stranger's, and what to do instead.
func (r *Rule) weaponMessage(triggers []string) string {
	used := map[string]bool{}
	keyed := false
	for _, c := range r.calls {
		for _, t := range c.types {
			if strangerSignals[t] != "" {
				used[t] = true
				keyed = keyed || c.by != byAccount
			}
		}
	}
	if len(r.on) > 0 || len(used) == 0 {
		for _, t := range triggers {
			used[t] = true
		}
	}
	var why []string
	for _, t := range slices.Sorted(maps.Keys(used)) {
		why = append(why, t+" ("+strangerSignals[t]+")")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "action %s on signals a stranger makes without any access to the account: %s. "+
		"Nothing in the condition needs the account's own session or the host app's traffic, "+
		"so an attacker can lock its owner out. ", r.Action, strings.Join(why, ", "))
	b.WriteString("Instead: step up (action: step_up, step_up: verify_phone or second_factor), which the owner passes " +
		"and a stranger cannot; or run it on what needs the password or a session (on: [device.new] or " +
		"[signin.success], or host-app signals). Failures from unknown devices cannot be counted apart in a rule; " +
		"the sign-in throttle already slows them and at 100 pauses the password for unknown devices only.")
	if keyed {
		b.WriteString(" Counting by device or ip does not help: the attacker chooses both, and the lock still falls on the account they named.")
	}
	if r.Shadow {
		b.WriteString(" The rule is in shadow mode now and locks nobody; this holds the day it is enforced.")
	}
	return b.String()
}

// gated reports whether e can only be true once the account has activity
// that needs access to it.
func gated(e ast.Expr, calls map[int64]aggCall) bool {
	if e.Kind() != ast.CallKind {
		return false
	}
	c := e.AsCall()
	args := c.Args()
	switch c.FunctionName() {
	case operators.LogicalAnd:
		return slices.ContainsFunc(args, func(a ast.Expr) bool { return gated(a, calls) })
	case operators.LogicalOr:
		return !slices.ContainsFunc(args, func(a ast.Expr) bool { return !gated(a, calls) })
	case operators.Conditional:
		return gated(args[1], calls) && gated(args[2], calls)
	case operators.Equals, operators.Greater, operators.GreaterEquals, operators.Less, operators.LessEquals:
		return comparisonGated(c.FunctionName(), args[0], args[1], calls)
	}
	return false
}

// comparisonGated handles "AGG op N", "N op AGG" and "signal.type == T".
func comparisonGated(op string, l, r ast.Expr, calls map[int64]aggCall) bool {
	if op == operators.Equals {
		if t, ok := signalTypeEquals(l, r); ok {
			return strangerSignals[t] == ""
		}
		if t, ok := signalTypeEquals(r, l); ok {
			return strangerSignals[t] == ""
		}
	}
	agg, lit, aggLeft := l, r, true
	if _, ok := calls[l.ID()]; !ok {
		agg, lit, aggLeft = r, l, false
	}
	c, ok := calls[agg.ID()]
	if !ok || lit.Kind() != ast.LiteralKind || !needsAccess(c) {
		return false
	}
	n, ok := number(lit)
	if !ok {
		return false
	}
	// Is "agg op n" false when agg is 0?
	if !aggLeft {
		op = map[string]string{operators.Less: operators.Greater, operators.LessEquals: operators.GreaterEquals,
			operators.Greater: operators.Less, operators.GreaterEquals: operators.LessEquals, operators.Equals: operators.Equals}[op]
	}
	switch op {
	case operators.Greater:
		return n >= 0
	case operators.GreaterEquals:
		return n > 0
	case operators.Equals:
		return n != 0
	}
	return false
}

// needsAccess reports whether an aggregate stays zero without activity that
// needs access: a count or sum of such a type, or a ratio with one on
// either side (a ratio is zero while either count is).
func needsAccess(c aggCall) bool {
	return slices.ContainsFunc(c.types, func(t string) bool { return strangerSignals[t] == "" })
}

// signalTypeEquals matches signal.type (or signal["type"]) against a string literal.
func signalTypeEquals(sel, lit ast.Expr) (string, bool) {
	t, ok := stringLiteral(lit)
	if !ok {
		return "", false
	}
	var operand ast.Expr
	switch sel.Kind() {
	case ast.SelectKind:
		s := sel.AsSelect()
		if s.FieldName() != "type" {
			return "", false
		}
		operand = s.Operand()
	case ast.CallKind:
		c := sel.AsCall()
		if c.FunctionName() != operators.Index || len(c.Args()) != 2 {
			return "", false
		}
		if k, ok := stringLiteral(c.Args()[1]); !ok || k != "type" {
			return "", false
		}
		operand = c.Args()[0]
	default:
		return "", false
	}
	return t, operand.Kind() == ast.IdentKind && operand.AsIdent() == "signal"
}

func stringLiteral(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().Value().(string)
	return s, ok
}

func number(e ast.Expr) (float64, bool) {
	switch v := e.AsLiteral().Value().(type) {
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}
