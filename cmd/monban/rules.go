package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/risk"
)

const rulesUsage = `monban rules check FILE [--since T] [--until T] [--no-replay]
    validate a rules file and replay the signals recorded in [since, until)
    (default: the last 7 days) through it, printing what each rule would have
    done; nothing is written. Warnings (e.g. a lock a stranger can set off)
    are printed and do not make the file invalid`

func cmdRules(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) < 2 || args[0] != "check" {
		return errors.New("usage:\n" + rulesUsage)
	}
	file := args[1]
	fs := flag.NewFlagSet("rules check", flag.ContinueOnError)
	var cf commonFlags
	cf.register(fs, false)
	since := fs.String("since", "", "replay from (RFC 3339; default 7 days ago)")
	until := fs.String("until", "", "replay until (RFC 3339; default now)")
	offline := fs.Bool("no-replay", false, "only validate the file")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	rs, err := risk.LoadFile(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: valid, version %s, %d rules\n", file, rs.Version, len(rs.Rules))
	for _, w := range rs.Warnings() {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if *offline {
		return nil
	}
	now := time.Now()
	from, to := now.Add(-7*24*time.Hour), now
	if from, err = parseTimeFlag("since", *since, from); err != nil {
		return err
	}
	if to, err = parseTimeFlag("until", *until, to); err != nil {
		return err
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	db, err := node.OpenStore(ctx, cfg, monban.SystemClock{})
	if err != nil {
		return err
	}
	defer db.Close()
	reports, n, err := risk.Check(ctx, rs, db, from, to)
	if err != nil {
		return err
	}
	return risk.PrintReport(stdout, rs, reports, n)
}

func parseTimeFlag(name, v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, fmt.Errorf("--%s: want RFC 3339, e.g. 2021-07-08T09:00:00+09:00", name)
	}
	return t, nil
}
