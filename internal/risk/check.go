package risk

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/monban-dev/monban"
)

// SignalSource reads recorded signals in id order (sqlstore.DB).
type SignalSource interface {
	Signals(ctx context.Context, since, until time.Time, afterID int64, limit int) ([]monban.Signal, error)
}

// RuleReport is what one rule would have done over the recorded signals.
type RuleReport struct {
	Rule     *Rule
	Matches  int      // signals on which its condition held
	Enforced int      // of them, those it would have acted on (first enforced match)
	Accounts []string // accounts it would have acted on, in order
	Errors   int
}

// Check replays the signals recorded in [since, until) through rs, as if
// it had been in force: each signal is evaluated against the buckets of
// the signals before it (read from MaxWindow before since, to warm the
// windows up). Nothing is written.
func Check(ctx context.Context, rs *Ruleset, src SignalSource, since, until time.Time) ([]RuleReport, int, error) {
	ev, err := rs.newEvaluator()
	if err != nil {
		return nil, 0, err
	}
	reports := make([]RuleReport, len(rs.Rules))
	index := map[*Rule]int{}
	for i, r := range rs.Rules {
		reports[i].Rule = r
		index[r] = i
	}
	acted := map[int]map[string]bool{}
	v := newView()
	var after int64
	evaluated := 0
	for {
		sigs, err := src.Signals(ctx, since.Add(-MaxWindow), until, after, 5000)
		if err != nil {
			return nil, 0, err
		}
		if len(sigs) == 0 {
			break
		}
		after = sigs[len(sigs)-1].ID
		for i := range sigs {
			s := &sigs[i]
			v.addDeltas(deltas(sigs[i : i+1]))
			if s.At.Before(since) {
				continue
			}
			evaluated++
			vd, errs := ev.evaluate(s, v, s.At, nil)
			for range errs {
				for j := range reports {
					if reports[j].Rule.Triggers(s.Type) {
						reports[j].Errors++
					}
				}
			}
			for _, m := range vd.Matches {
				reports[index[m.Rule]].Matches++
			}
			if vd.Enforce != nil {
				k := index[vd.Enforce.Rule]
				reports[k].Enforced++
				if acted[k] == nil {
					acted[k] = map[string]bool{}
				}
				if !acted[k][s.AccountID] {
					acted[k][s.AccountID] = true
					reports[k].Accounts = append(reports[k].Accounts, s.AccountID)
				}
			}
		}
	}
	return reports, evaluated, nil
}

// PrintReport writes a Check result for an operator.
func PrintReport(w io.Writer, rs *Ruleset, reports []RuleReport, evaluated int) error {
	fmt.Fprintf(w, "rules version %s: %d rules, %d signals replayed\n\n", rs.Version, len(rs.Rules), evaluated)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tACTION\tMODE\tMATCHES\tWOULD ACT\tACCOUNTS\tERRORS\tSAMPLE")
	for _, r := range reports {
		action := r.Rule.Action
		if r.Rule.Action == ActionStepUp {
			action += ":" + r.Rule.StepUp
		}
		if r.Rule.Duration > 0 {
			action += " " + r.Rule.Duration.String()
		}
		mode := "enforce"
		if r.Rule.Shadow {
			mode = "shadow"
		}
		sample := slices.Clone(r.Accounts[:min(3, len(r.Accounts))])
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%v\n", r.Rule.ID, action, mode, r.Matches, r.Enforced, len(r.Accounts), r.Errors, sample)
	}
	return tw.Flush()
}
