package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/risk"
	"github.com/monban-dev/monban/internal/seal"
)

const locksUsage = `monban admin locks rollback --rule R [--version V] [--since T] [--until T] [--dry-run] [--batch N] [--by NAME]
    lift every lock in force that rule R (version V, made in [since, until))
    made: a notice to each person and one audit entry per account, in batches
    of one transaction each, with progress and an ETA. Safe to interrupt and
    run again; --dry-run counts and shows a sample without lifting`

func cmdAdminLocks(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) < 1 || args[0] != "rollback" {
		return errors.New("usage:\n" + locksUsage)
	}
	fs := flag.NewFlagSet("admin locks rollback", flag.ContinueOnError)
	var cf commonFlags
	cf.register(fs, false)
	rule := fs.String("rule", "", "rule id (required)")
	version := fs.String("version", "", "rule version (default: every version)")
	since := fs.String("since", "", "locks made at or after (RFC 3339)")
	until := fs.String("until", "", "locks made before (RFC 3339)")
	dry := fs.Bool("dry-run", false, "count and sample, lift nothing")
	batch := fs.Int("batch", 5000, "locks per transaction")
	by := fs.String("by", os.Getenv("USER"), "who is rolling back (recorded in each audit entry)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *rule == "" {
		return errors.New("locks rollback: --rule is required\n" + locksUsage)
	}
	f := monban.LockFilter{RuleID: *rule, Version: *version}
	var err error
	if f.Since, err = parseTimeFlag("since", *since, time.Time{}); err != nil {
		return err
	}
	if f.Until, err = parseTimeFlag("until", *until, time.Time{}); err != nil {
		return err
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	svc, closeDB, err := rollbackService(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeDB()
	return rollback(ctx, svc, f, *dry, *batch, "operator:"+*by, stdout)
}

// rollbackService opens the store and builds only what a rollback needs:
// risk and the notices it sends (the serving nodes' outbox workers deliver
// them).
func rollbackService(ctx context.Context, cfg node.Config) (*risk.Service, func(), error) {
	secret, err := cfg.SecretBytes()
	if err != nil {
		return nil, nil, err
	}
	box, err := seal.New(secret)
	if err != nil {
		return nil, nil, err
	}
	clock := monban.SystemClock{}
	db, err := node.OpenStore(ctx, cfg, clock)
	if err != nil {
		return nil, nil, err
	}
	log := node.NewLogger(io.Discard, "error")
	ns := notices.New(db, box, clock, notices.Config{PublicURL: cfg.PublicURL}, nil, log)
	return risk.New(risk.Deps{Store: db, Notices: ns, Clock: clock, Log: log}), func() { db.Close() }, nil
}

func rollback(ctx context.Context, svc *risk.Service, f monban.LockFilter, dry bool, batch int, by string, stdout io.Writer) error {
	o := riskRollbackOptions(f, dry, batch, by, stdout)
	p, err := svc.Rollback(ctx, o)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stdout, "\ninterrupted after %d lifted; run the same command again to lift the rest\n", p.Lifted)
		}
		return err
	}
	if dry {
		fmt.Fprintf(stdout, "dry run: %d locks in force match rule %s", p.Total, f.RuleID)
		if f.Version != "" {
			fmt.Fprintf(stdout, " version %s", f.Version)
		}
		fmt.Fprintf(stdout, "; sample accounts: %v\n", p.Sample)
		return nil
	}
	fmt.Fprintf(stdout, "done: %d locks lifted (%d already lifted by others) in %s, %.0f/s; each person notified\n",
		p.Lifted, p.Skipped, p.Elapsed.Round(time.Millisecond), p.Rate)
	return nil
}
