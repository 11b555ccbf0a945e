package risk

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"github.com/monban-dev/monban"
)

// evaluator runs a ruleset's compiled programs for one signal at a time.
// Its aggregate functions read the view and signal it is given; a
// ruleset keeps a pool of evaluators so programs are made once per
// version and evaluator, never per signal.
type evaluator struct {
	rs    *Ruleset
	progs []cel.Program
	v     *view
	sig   *monban.Signal
	now   time.Time
	read  map[string]int64 // what the aggregates returned, for the evidence
}

func (rs *Ruleset) newEvaluator() (*evaluator, error) {
	ev := &evaluator{rs: rs}
	env, err := newEnv(ev)
	if err != nil {
		return nil, err
	}
	for _, r := range rs.Rules {
		p, err := env.Program(r.ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		ev.progs = append(ev.progs, p)
	}
	return ev, nil
}

var windowCache sync.Map // window text → time.Duration

func window(s string) time.Duration {
	if d, ok := windowCache.Load(s); ok {
		return d.(time.Duration)
	}
	d, err := parseWindow(s)
	if err != nil {
		return 0 // not reached: windows are checked at compile time
	}
	windowCache.Store(s, d)
	return d
}

func (ev *evaluator) agg(typ, win string, filterArg ref.Val) (n, total int64) {
	var f map[string]string
	if filterArg != nil {
		f = asStringMap(filterArg)
	}
	filter, by, _ := filterKey(f)
	return ev.v.sum(subjectOf(by, ev.sig), typ, filter, window(win), ev.now)
}

func (ev *evaluator) note(call string, v int64) {
	if ev.read != nil {
		ev.read[call] = v
	}
}

func (ev *evaluator) count(args ...ref.Val) ref.Val {
	typ, win := args[0].Value().(string), args[1].Value().(string)
	var f ref.Val
	if len(args) > 2 {
		f = args[2]
	}
	n, _ := ev.agg(typ, win, f)
	ev.note("count("+typ+","+win+")", n)
	return types.Int(n)
}

func (ev *evaluator) sum(args ...ref.Val) ref.Val {
	field, win := args[0].Value().(string), args[1].Value().(string)
	typ, _, _ := strings.Cut(field, ".")
	var f ref.Val
	if len(args) > 2 {
		f = args[2]
	}
	_, total := ev.agg(typ, win, f)
	ev.note("sum("+field+","+win+")", total)
	return types.Int(total)
}

func (ev *evaluator) ratio(args ...ref.Val) ref.Val {
	a, b, win := args[0].Value().(string), args[1].Value().(string), args[2].Value().(string)
	var f ref.Val
	if len(args) > 3 {
		f = args[3]
	}
	na, _ := ev.agg(a, win, f)
	nb, _ := ev.agg(b, win, f)
	if nb == 0 {
		return types.Double(0)
	}
	ev.note("count("+a+","+win+")", na)
	ev.note("count("+b+","+win+")", nb)
	return types.Double(float64(na) / float64(nb))
}

// signalVars is the "signal" a condition sees.
func signalVars(s *monban.Signal) map[string]any {
	attrs := s.Attrs
	if attrs == nil {
		attrs = map[string]string{}
	}
	return map[string]any{"signal": map[string]any{
		"type": s.Type, "account": s.AccountID, "ip": s.IP, "device": s.DeviceID, "phone": s.Phone,
		"amount": s.Amount, "currency": s.Currency, "instrument": s.Instrument, "attrs": attrs,
	}}
}

// Match is one rule whose condition held.
type Match struct {
	Rule   *Rule
	Shadow bool             // recorded, not enforced
	Read   map[string]int64 // the aggregates the rule read
}

// Verdict is what the rules decided about one signal: every match, and
// the enforced one (the first enforced match, in file order), if any.
type Verdict struct {
	Signal  *monban.Signal
	Matches []Match
	Enforce *Match
}

// Action is the verdict's action: allow when no enforced rule matched.
func (v *Verdict) Action() string {
	if v.Enforce == nil {
		return ActionAllow
	}
	return v.Enforce.Rule.Action
}

// evaluate runs every rule the signal triggers. shadowed reports rules
// forced into shadow mode (a tripped breaker). A rule that fails to
// evaluate is skipped and reported, never a lock.
func (ev *evaluator) evaluate(s *monban.Signal, v *view, now time.Time, shadowed func(*Rule) bool) (Verdict, []error) {
	ev.v, ev.sig, ev.now = v, s, now
	out := Verdict{Signal: s}
	var errs []error
	act := signalVars(s)
	for i, r := range ev.rs.Rules {
		if !r.Triggers(s.Type) {
			continue
		}
		ev.read = map[string]int64{}
		val, _, err := ev.progs[i].Eval(act)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", r.ID, err))
			continue
		}
		if val != types.True {
			continue
		}
		m := Match{Rule: r, Shadow: r.Shadow || (shadowed != nil && shadowed(r)), Read: ev.read}
		out.Matches = append(out.Matches, m)
	}
	for i := range out.Matches {
		if !out.Matches[i].Shadow {
			out.Enforce = &out.Matches[i]
			break
		}
	}
	ev.v, ev.sig, ev.read = nil, nil, nil
	return out, errs
}

// pool hands out evaluators of one ruleset.
type pool struct {
	rs *Ruleset
	p  sync.Pool
}

func (p *pool) get() (*evaluator, error) {
	if ev, ok := p.p.Get().(*evaluator); ok {
		return ev, nil
	}
	return p.rs.newEvaluator()
}

func (p *pool) put(ev *evaluator) { p.p.Put(ev) }

// Evaluate runs the ruleset on signal s over buckets b, as of now: the
// pure core, for tests and "monban rules check".
func (rs *Ruleset) Evaluate(s *monban.Signal, b []monban.RiskBucket, now time.Time) (Verdict, error) {
	ev, err := rs.newEvaluator()
	if err != nil {
		return Verdict{}, err
	}
	v := newView()
	v.addRows(b)
	out, errs := ev.evaluate(s, v, now, nil)
	if len(errs) > 0 {
		return out, errs[0]
	}
	return out, nil
}

// Types lists the signal types the rules read.
func (rs *Ruleset) Types() []string { return rs.types }
