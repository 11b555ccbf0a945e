package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/identifier"
)

// Template functions of the support pages and the agent console.
func init() {
	pageFuncs["dur"] = func(d time.Duration) string {
		switch {
		case d <= 0:
			return "—"
		case d < time.Hour:
			return fmt.Sprintf("%dm", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
		}
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
	// mask shows an email or phone number as agents see them: enough to
	// recognise, not to copy.
	pageFuncs["mask"] = func(v string) string {
		switch {
		case strings.Contains(v, "@"):
			return identifier.MaskEmail(v)
		case strings.HasPrefix(v, "+"):
			return identifier.MaskPhone(v)
		}
		return v
	}
}

// The console shows every value of the domain in the agent's language:
// one label function per kind of value, each reading the catalogs under
// its prefix. deskLabelKinds lists each kind with every value the domain
// has, and TestDeskLabels fails on a value without a label in every
// language, so a new value cannot ship unlabelled.
type deskLabelKind struct {
	Prefix string
	Values func() []string
}

func stringsOf[T ~string](vs []T) func() []string {
	return func() []string {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = string(v)
		}
		return out
	}
}

var deskLabelKinds = map[string]deskLabelKind{
	"purpose":        {"desk.purpose.", stringsOf(monban.Purposes)},
	"topic":          {"desk.topic.", stringsOf(monban.Topics)},
	"message_status": {"desk.msg_status.", stringsOf(monban.MessageStatuses)},
	"channel":        {"desk.channel.", stringsOf(monban.Channels)},
	"lock_kind":      {"desk.lock_kind.", stringsOf(monban.LockKinds)},
	"lock_category":  {"desk.lock_category.", stringsOf(monban.Categories)},
	"lifted_how":     {"desk.lifted_how.", stringsOf([]string{"code", "password", "second_factor", "password_reset", "support", "expired", "rollback"})},
	"step":           {"desk.step.", stringsOf(monban.GrantSteps)},
	"factor":         {"desk.factor.", stringsOf(monban.FactorKinds)},
	"case_status":    {"desk.status.", stringsOf(monban.CaseStatuses)},
	"case_category":  {"support.category.", stringsOf(monban.CaseCategories)},
	"account_status": {"desk.account_status.", stringsOf(monban.AccountStatuses)},
	"identifier":     {"desk.ident_kind.", stringsOf(monban.IdentifierKinds)},
	"thread":         {"desk.thread.", stringsOf([]string{monban.CaseMsgRequest, monban.CaseMsgReply, monban.CaseMsgPerson, monban.CaseMsgStatus, monban.CaseMsgNote})},
	"signal":         {"desk.signal.", stringsOf(monban.SignalTypes)},
	"read":           {"desk.read.", stringsOf([]string{"count", "sum"})},
	"instrument":     {"desk.instrument.", stringsOf([]string{"gift_card", "card"})},
	"platform":       {"desk.platform.", stringsOf([]string{"web", "app"})},
	"two_step":       {"desk.two_step.", stringsOf([]string{"on", "off"})},
	"message":        {"desk.msg.", stringsOf([]string{"code", "notice", "case"})},
	"role":           {"desk.role.", stringsOf([]monban.AgentRole{monban.RoleAgent, monban.RoleLead, monban.RoleAdmin})},
	"audit":          {"desk.audit.", stringsOf(monban.AuditActions)},
	"currency":       {"desk.currency.", stringsOf([]string{"JPY"})},
	"note":           {"desk.note.", stringsOf([]string{monban.AuditDeskLockLifted, monban.AuditGrantCreated, monban.AuditPhoneVerified, monban.AuditTwoStepReset})},
}

// deskLabel is the label of value in kind, or the value itself where the
// domain leaves it open (a host app's own signal types).
func (v *View) deskLabel(kind, value string) string {
	if value == "" {
		return ""
	}
	if k := deskLabelKinds[kind].Prefix + value; v.s.cat.Has(k) {
		return v.T(k)
	}
	return value
}

// MessageLabel names an outbox message by what it carries: a code for a
// purpose, a notice of a topic, or a support mail.
func (v *View) MessageLabel(template string) string {
	switch {
	case strings.HasPrefix(template, "code."):
		return v.T("desk.msg.code", "purpose", v.deskLabel("purpose", strings.TrimPrefix(template, "code.")))
	case strings.HasPrefix(template, "notice."):
		return v.T("desk.msg.notice", "topic", v.deskLabel("topic", strings.TrimPrefix(template, "notice.")))
	case template == "desk.case":
		return v.T("desk.msg.case")
	}
	return template
}

func (v *View) MessageStatusLabel(s monban.MessageStatus) string {
	return v.deskLabel("message_status", string(s))
}
func (v *View) ChannelLabel(c monban.Channel) string   { return v.deskLabel("channel", string(c)) }
func (v *View) LockKindLabel(k monban.LockKind) string { return v.deskLabel("lock_kind", string(k)) }
func (v *View) LockCategoryLabel(c string) string      { return v.deskLabel("lock_category", c) }
func (v *View) LiftedHowLabel(h string) string         { return v.deskLabel("lifted_how", h) }
func (v *View) StepLabel(s string) string              { return v.deskLabel("step", s) }
func (v *View) FactorLabel(k monban.FactorKind) string { return v.deskLabel("factor", string(k)) }
func (v *View) CaseStatusLabel(s string) string        { return v.deskLabel("case_status", s) }
func (v *View) CaseCategoryLabel(c string) string      { return v.deskLabel("case_category", c) }
func (v *View) AccountStatusLabel(s monban.AccountStatus) string {
	return v.deskLabel("account_status", string(s))
}
func (v *View) IdentifierKindLabel(k monban.IdentifierKind) string {
	return v.deskLabel("identifier", string(k))
}
func (v *View) RoleLabel(r monban.AgentRole) string { return v.deskLabel("role", string(r)) }
func (v *View) NoteLabel(action string) string      { return v.deskLabel("note", action) }
func (v *View) ThreadLabel(k string) string         { return v.deskLabel("thread", k) }
func (v *View) SignalLabel(t string) string         { return v.deskLabel("signal", t) }
func (v *View) ReadLabel(fn string) string          { return v.deskLabel("read", fn) }
func (v *View) InstrumentLabel(i string) string     { return v.deskLabel("instrument", i) }
func (v *View) PlatformLabel(p string) string       { return v.deskLabel("platform", p) }
func (v *View) AuditLabel(action string) string     { return v.deskLabel("audit", action) }

// AmountLabel is an amount in its currency as the agent says it ("3000円").
func (v *View) AmountLabel(amount int64, currency string) string {
	return v.T("desk.amount", "amount", amount, "currency", v.deskLabel("currency", currency))
}

// RuleVersionLabel is a rule's version as the agent says it ("第1版").
func (v *View) RuleVersionLabel(version string) string { return v.T("desk.rule_version", "v", version) }
func (v *View) TwoStepLabel(on bool) string {
	if on {
		return v.deskLabel("two_step", "on")
	}
	return v.deskLabel("two_step", "off")
}

// AuthorLabel names who wrote a thread entry: the person, the system, or
// an agent by their id ("agent:ID").
func (v *View) AuthorLabel(a string) string {
	switch {
	case a == "person":
		return v.T("desk.author.person")
	case a == "system":
		return v.T("desk.author.system")
	case strings.HasPrefix(a, "agent:"):
		return v.T("desk.author.agent", "id", strings.TrimPrefix(a, "agent:"))
	}
	return a
}
