package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/delivery"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/risk"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/web"
)

// defaultRiskRetention keeps signals as long as the longest window.
const defaultRiskRetention = risk.MaxWindow

// wireRisk builds the risk service and loads the rules file; sign-ins and
// session checks are hooked to it by account.New.
func wireRisk(cfg Config, db *sqlstore.DB, box *seal.Box, codeSvc *codes.Service,
	noticeSvc *notices.Service, worker *delivery.Worker, metrics *web.Metrics,
	clock monban.Clock, log *slog.Logger) (*risk.Service, error) {
	svc := risk.New(risk.Deps{Store: db, Notices: noticeSvc, Codes: codeSvc, Notify: worker,
		Clock: clock, Log: log})
	if cfg.RulesFile != "" {
		rs, err := risk.LoadFile(cfg.RulesFile)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		warnRules(log, rs)
		svc.SetRules(rs)
	}
	if err := svc.Refresh(context.Background()); err != nil {
		return nil, fmt.Errorf("risk: %w", err)
	}
	metrics.GaugeFunc("monban_risk_signals_total", "Signals recorded by this node.", func() float64 { return float64(svc.Signals.Load()) })
	metrics.GaugeFunc("monban_risk_locks_total", "Locks made by this node's rules.", func() float64 { return float64(svc.Locks.Load()) })
	metrics.GaugeFunc("monban_risk_lifts_total", "Locks lifted through this node.", func() float64 { return float64(svc.Lifts.Load()) })
	metrics.GaugeFunc("monban_risk_shadow_matches_total", "Rule matches in shadow mode.", func() float64 { return float64(svc.ShadowMatches.Load()) })
	metrics.GaugeFunc("monban_risk_breakers_tripped", "Rule versions in shadow mode because their circuit breaker tripped (alert on > 0).",
		func() float64 { return float64(len(svc.Tripped())) })
	metrics.GaugeFunc("monban_risk_evaluation_p99_seconds", "99th percentile of recent rule evaluations.",
		func() float64 { return svc.EvalP99().Seconds() })
	return svc, nil
}

// warnRules logs, once per loaded version, what "monban rules check" warns
// about: the rules are in force all the same.
func warnRules(log *slog.Logger, rs *risk.Ruleset) {
	for _, w := range rs.Warnings() {
		log.Warn("risk: rule warning", "version", rs.Version, "rule", w.RuleID, "code", w.Code, "warning", w.Message)
	}
}

// riskLoop, every 15 seconds, learns of breakers other nodes tripped and
// reloads the rules file when it changed; hourly it drops signals past
// their retention.
func (n *Node) riskLoop(ctx context.Context) {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	var lastMod time.Time
	if fi, err := os.Stat(n.Config.RulesFile); err == nil {
		lastMod = fi.ModTime()
	}
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := n.Risk.Refresh(ctx); err != nil {
			n.log.Warn("risk: refresh breakers", "err", err)
		}
		if n.Config.RulesFile != "" {
			if fi, err := os.Stat(n.Config.RulesFile); err == nil && fi.ModTime() != lastMod {
				lastMod = fi.ModTime()
				if rs, err := risk.LoadFile(n.Config.RulesFile); err != nil {
					n.log.Error("risk: rules file changed but does not compile; the previous version stays in force", "err", err)
				} else {
					warnRules(n.log, rs)
					n.Risk.SetRules(rs)
				}
			}
		}
		if now := n.clock.Now(); now.Sub(lastPrune) >= time.Hour {
			lastPrune = now
			ret := n.Config.RiskRetention
			if ret <= 0 {
				ret = defaultRiskRetention
			}
			if _, err := n.DB.PruneRisk(ctx, now, ret); err != nil {
				n.log.Warn("risk: prune", "err", err)
			}
		}
	}
}
