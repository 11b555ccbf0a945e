package risk

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"gopkg.in/yaml.v3"

	"github.com/monban-dev/monban"
)

// Actions a rule may take.
const (
	ActionAllow      = "allow"
	ActionStepUp     = "step_up"
	ActionLock       = "lock"
	ActionLockReview = "lock_review"
	ActionSuspend    = "suspend"
)

// Step-ups a rule may require.
const (
	StepUpVerifyPhone  = "verify_phone"
	StepUpPassword     = "password"
	StepUpSecondFactor = "second_factor"
)

// File is a rules file as the operator writes it.
type File struct {
	Version string      `yaml:"version"`
	Breaker BreakerSpec `yaml:"breaker"`
	Rules   []RuleSpec  `yaml:"rules"`
}

// BreakerSpec configures the circuit breaker: a rule version that made
// more than Multiple times its baseline rate of locks in Window (and at
// least MinLocks) is switched to shadow mode. The baseline is the rule's
// average rate per Window over the Baseline period before.
type BreakerSpec struct {
	Window   string  `yaml:"window"`    // default 10m
	Baseline string  `yaml:"baseline"`  // default 24h
	Multiple float64 `yaml:"multiple"`  // default 10
	MinLocks int     `yaml:"min_locks"` // default 50
}

// RuleSpec is one rule as written.
type RuleSpec struct {
	ID          string   `yaml:"id"`
	Description string   `yaml:"description"`
	On          []string `yaml:"on"`   // signal types that trigger it; empty: all
	When        string   `yaml:"when"` // CEL, true to act
	Action      string   `yaml:"action"`
	StepUp      string   `yaml:"step_up"`
	Duration    string   `yaml:"duration"` // for lock: how long; empty: until lifted
	Category    string   `yaml:"category"`
	WaysOut     []string `yaml:"ways_out"`
	Shadow      bool     `yaml:"shadow"`
}

// Rule is a compiled rule.
type Rule struct {
	RuleSpec
	Version  string
	Kind     monban.LockKind // "" for allow
	Duration time.Duration
	Ways     []monban.WayOut
	on       map[string]bool
	ast      *cel.Ast
	calls    []aggCall
}

// Triggers reports whether a signal of type typ runs the rule.
func (r *Rule) Triggers(typ string) bool { return len(r.on) == 0 || r.on[typ] }

// aggCall is one count/sum/ratio call of a rule, its arguments literal.
type aggCall struct {
	id     int64 // the call's expression, for the lint
	types  []string
	window time.Duration
	by     string
}

// Ruleset is one loaded version of the rules file, compiled once.
type Ruleset struct {
	Version string
	Rules   []*Rule
	Breaker Breaker
	env     *cel.Env
	// needs says which buckets an evaluation reads: per subject kind, per
	// resolution, the longest window.
	needs    map[string]map[time.Duration]time.Duration
	types    []string
	warnings []Warning
}

// Breaker is the compiled breaker configuration.
type Breaker struct {
	Window, Baseline time.Duration
	Multiple         float64
	MinLocks         int
}

var ruleID = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// LoadFile reads and compiles a rules file.
func LoadFile(path string) (*Ruleset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rs, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}

// Parse compiles a rules file, reporting every problem it finds.
func Parse(b []byte) (*Ruleset, error) {
	var f File
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("rules file: %w", err)
	}
	env, err := newEnv(nil)
	if err != nil {
		return nil, err
	}
	rs := &Ruleset{Version: f.Version, env: env, needs: map[string]map[time.Duration]time.Duration{}}
	var errs []error
	if strings.TrimSpace(f.Version) == "" {
		errs = append(errs, errors.New("version: required (every lock records the version that made it)"))
	}
	if rs.Breaker, err = compileBreaker(f.Breaker); err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{}
	types := map[string]bool{}
	for i, spec := range f.Rules {
		r, err := compileRule(env, spec, f.Version)
		if err == nil && seen[spec.ID] {
			err = errors.New("id repeated")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %d (%s): %w", i+1, spec.ID, err))
			continue
		}
		seen[spec.ID] = true
		for _, c := range r.calls {
			m := rs.needs[c.by]
			if m == nil {
				m = map[time.Duration]time.Duration{}
				rs.needs[c.by] = m
			}
			res := resFor(c.window)
			m[res] = max(m[res], c.window)
			for _, t := range c.types {
				types[t] = true
			}
		}
		rs.Rules = append(rs.Rules, r)
		if w, ok := r.weaponWarning(); ok {
			rs.warnings = append(rs.warnings, w)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for t := range types {
		rs.types = append(rs.types, t)
	}
	sort.Strings(rs.types)
	return rs, nil
}

func compileBreaker(b BreakerSpec) (Breaker, error) {
	out := Breaker{Window: 10 * time.Minute, Baseline: 24 * time.Hour, Multiple: 10, MinLocks: 50}
	var err error
	if b.Window != "" {
		if out.Window, err = parseWindow(b.Window); err != nil {
			return out, fmt.Errorf("breaker.window: %w", err)
		}
	}
	if b.Baseline != "" {
		if out.Baseline, err = parseWindow(b.Baseline); err != nil {
			return out, fmt.Errorf("breaker.baseline: %w", err)
		}
	}
	if b.Multiple != 0 {
		out.Multiple = b.Multiple
	}
	if b.MinLocks != 0 {
		out.MinLocks = b.MinLocks
	}
	if out.Baseline <= out.Window || out.Multiple < 1 || out.MinLocks < 1 {
		return out, errors.New("breaker: baseline must exceed window, multiple be ≥ 1 and min_locks ≥ 1")
	}
	return out, nil
}

func compileRule(env *cel.Env, spec RuleSpec, version string) (*Rule, error) {
	if !ruleID.MatchString(spec.ID) {
		return nil, errors.New("id: lower-case letters, digits, '-', '_' and '.', up to 64")
	}
	r := &Rule{RuleSpec: spec, Version: version, on: map[string]bool{}}
	for _, t := range spec.On {
		r.on[t] = true
	}
	if err := r.compileAction(); err != nil {
		return nil, err
	}
	a, iss := env.Compile(spec.When)
	if iss.Err() != nil {
		return nil, fmt.Errorf("when: %w", iss.Err())
	}
	if a.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("when: must be true or false, is %s", a.OutputType())
	}
	calls, err := aggCalls(a)
	if err != nil {
		return nil, fmt.Errorf("when: %w", err)
	}
	r.ast, r.calls = a, calls
	return r, nil
}

func (r *Rule) compileAction() error {
	switch r.Action {
	case ActionAllow:
		return nil
	case ActionStepUp:
		r.Kind = monban.LockStepUp
		switch r.StepUp {
		case StepUpVerifyPhone:
			r.Ways = []monban.WayOut{monban.WayCode}
		case StepUpPassword:
			r.Ways = []monban.WayOut{monban.WayPassword}
		case StepUpSecondFactor:
			r.Ways = []monban.WayOut{monban.WaySecondFactor}
		default:
			return fmt.Errorf("step_up: %q is not verify_phone, password or second_factor", r.StepUp)
		}
	case ActionLock:
		r.Kind = monban.LockTemp
		r.Ways = []monban.WayOut{monban.WayCode, monban.WayPasswordReset}
	case ActionLockReview:
		r.Kind = monban.LockReview
	case ActionSuspend:
		r.Kind = monban.LockSuspend
	default:
		return fmt.Errorf("action: %q is not allow, step_up, lock, lock_review or suspend", r.Action)
	}
	if r.RuleSpec.Duration != "" {
		if r.Action != ActionLock {
			return errors.New("duration: only a lock lasts for a time")
		}
		d, err := parseWindow(r.RuleSpec.Duration)
		if err != nil {
			return fmt.Errorf("duration: %w", err)
		}
		r.Duration = d
	}
	if len(r.WaysOut) > 0 {
		if r.Kind != monban.LockTemp {
			return errors.New("ways_out: only a lock offers a choice (a step-up has its one, review and suspension only support)")
		}
		r.Ways = nil
		for _, w := range r.WaysOut {
			switch monban.WayOut(w) {
			case monban.WayCode, monban.WayPassword, monban.WayPasswordReset, monban.WaySecondFactor:
				r.Ways = append(r.Ways, monban.WayOut(w))
			case monban.WaySupport:
			default:
				return fmt.Errorf("ways_out: %q is not code, password, password_reset, second_factor or support", w)
			}
		}
	}
	r.Ways = append(r.Ways, monban.WaySupport) // support is always a way out
	if r.Category == "" {
		r.Category = monban.CategoryUnusualActivity
	}
	if !slices.Contains(monban.Categories, r.Category) {
		return fmt.Errorf("category: %q is not one of %s", r.Category, strings.Join(monban.Categories, ", "))
	}
	return nil
}

// newEnv declares what a condition may use: the current signal and the
// aggregate functions. Rules are checked against an environment without
// implementations (ev nil); each evaluator binds them over the buckets its
// evaluation reads.
func newEnv(ev *evaluator) (*cel.Env, error) {
	strMap := cel.MapType(cel.StringType, cel.StringType)
	bind := func(f func(args ...ref.Val) ref.Val) []cel.OverloadOpt {
		if ev == nil {
			return nil
		}
		return []cel.OverloadOpt{cel.FunctionBinding(f)}
	}
	return cel.NewEnv(
		cel.Variable("signal", cel.MapType(cel.StringType, cel.DynType)),
		cel.Function("count",
			cel.Overload("count_s_s", []*cel.Type{cel.StringType, cel.StringType}, cel.IntType, bind(ev.count)...),
			cel.Overload("count_s_s_m", []*cel.Type{cel.StringType, cel.StringType, strMap}, cel.IntType, bind(ev.count)...)),
		cel.Function("sum",
			cel.Overload("sum_s_s", []*cel.Type{cel.StringType, cel.StringType}, cel.IntType, bind(ev.sum)...),
			cel.Overload("sum_s_s_m", []*cel.Type{cel.StringType, cel.StringType, strMap}, cel.IntType, bind(ev.sum)...)),
		cel.Function("ratio",
			cel.Overload("ratio_s_s_s", []*cel.Type{cel.StringType, cel.StringType, cel.StringType}, cel.DoubleType, bind(ev.ratio)...),
			cel.Overload("ratio_s_s_s_m", []*cel.Type{cel.StringType, cel.StringType, cel.StringType, strMap}, cel.DoubleType, bind(ev.ratio)...)),
	)
}

// aggCalls finds every count/sum/ratio call and checks its arguments:
// literals, a known window, a filter of at most one of instrument and
// currency plus "by". Literal arguments let an evaluation read exactly the
// buckets it needs, in one query per batch.
func aggCalls(a *cel.Ast) ([]aggCall, error) {
	var calls []aggCall
	var errs []error
	ast.PreOrderVisit(a.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		c := e.AsCall()
		fn := c.FunctionName()
		if fn != "count" && fn != "sum" && fn != "ratio" {
			return
		}
		args := c.Args()
		lits := make([]string, 0, len(args))
		var filter map[string]string
		for i, arg := range args {
			switch {
			case arg.Kind() == ast.LiteralKind:
				s, ok := arg.AsLiteral().Value().(string)
				if !ok {
					errs = append(errs, fmt.Errorf("%s: argument %d must be a string", fn, i+1))
					return
				}
				lits = append(lits, s)
			case arg.Kind() == ast.MapKind && i == len(args)-1:
				var err error
				if filter, err = literalMap(arg); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", fn, err))
					return
				}
			default:
				errs = append(errs, fmt.Errorf("%s: arguments must be written out (literals)", fn))
				return
			}
		}
		call, err := newAggCall(fn, lits, filter)
		if err != nil {
			errs = append(errs, err)
			return
		}
		call.id = e.ID()
		calls = append(calls, call)
	}))
	return calls, errors.Join(errs...)
}

func literalMap(e ast.Expr) (map[string]string, error) {
	out := map[string]string{}
	for _, ent := range e.AsMap().Entries() {
		me := ent.AsMapEntry()
		k, v := me.Key(), me.Value()
		if k.Kind() != ast.LiteralKind || v.Kind() != ast.LiteralKind {
			return nil, errors.New("filter keys and values must be literals")
		}
		ks, ok1 := k.AsLiteral().Value().(string)
		vs, ok2 := v.AsLiteral().Value().(string)
		if !ok1 || !ok2 {
			return nil, errors.New("filter keys and values must be strings")
		}
		out[ks] = vs
	}
	if _, _, err := filterKey(out); err != nil {
		return nil, err
	}
	return out, nil
}

// filterKey turns a filter into its bucket filter and subject kind. Only
// account buckets are kept per instrument and currency.
func filterKey(f map[string]string) (filter, by string, err error) {
	by = byAccount
	for k, v := range f {
		switch k {
		case "by":
			if v != byAccount && v != byDevice && v != byIP && v != byPhone {
				return "", "", fmt.Errorf("filter by: %q is not account, device, ip or phone", v)
			}
			by = v
		case "instrument", "currency":
			if filter != "" {
				return "", "", errors.New("filter: at most one of instrument and currency")
			}
			filter = k + "=" + v
		default:
			return "", "", fmt.Errorf("filter: %q is not by, instrument or currency", k)
		}
	}
	if filter != "" && by != byAccount {
		return "", "", errors.New("filter: instrument and currency are counted per account only")
	}
	return filter, by, nil
}

func newAggCall(fn string, lits []string, filter map[string]string) (aggCall, error) {
	_, by, err := filterKey(filter)
	if err != nil {
		return aggCall{}, err
	}
	c := aggCall{by: by}
	var win string
	switch fn {
	case "count":
		c.types, win = []string{lits[0]}, lits[1]
	case "sum":
		typ, field, ok := strings.Cut(lits[0], ".")
		if !ok || field != "amount" {
			return c, fmt.Errorf("sum: %q: write TYPE.amount, e.g. \"purchase.amount\"", lits[0])
		}
		c.types, win = []string{typ}, lits[1]
	case "ratio":
		c.types, win = []string{lits[0], lits[1]}, lits[2]
	}
	if c.window, err = parseWindow(win); err != nil {
		return c, fmt.Errorf("%s: %w", fn, err)
	}
	return c, nil
}

// asStringMap reads a filter argument.
func asStringMap(v ref.Val) map[string]string {
	out := map[string]string{}
	if tm, ok := v.(traits.Mapper); ok {
		it := tm.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			out[fmt.Sprint(k.Value())] = fmt.Sprint(tm.Get(k).Value())
		}
	}
	return out
}
