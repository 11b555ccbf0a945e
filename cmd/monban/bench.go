package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/monban-dev/monban/internal/loadtest"
	"github.com/monban-dev/monban/internal/node"
)

// benchOptions are monban bench's flags.
type benchOptions struct {
	json        bool
	duration    time.Duration
	postgres    string
	schema      string // an existing (seeded) schema to use and keep
	concurrency []int
	rounds      int
	cpuprofile  string
}

// benchScenario measures one operation of a running node next to a
// reference: the physical limit it should approach.
type benchScenario struct {
	name        string
	reference   string
	concurrency []int
	// targets are the pass conditions on a database ("sqlite",
	// "postgres"); zero fields are not checked there.
	targets func(database string) benchTargets
	prepare func(ctx context.Context, env *benchEnv) (*benchPair, error)
}

type benchTargets struct {
	OpsPerSec  float64 `json:"ops_per_sec,omitempty"` // an absolute rate
	Ratio      float64 `json:"ratio,omitempty"`
	HalfRateMS float64 `json:"half_rate_p99_ms,omitempty"` // p99 at half the closed-loop rate
}

// benchPair runs the scenario and its reference for one measurement.
type benchPair struct {
	run, ref func(ctx context.Context, o loadtest.Options) (loadtest.Result, error)
	halfRate bool // also measure latency open-loop at half the closed-loop rate
}

func benchScenarios() []benchScenario {
	return []benchScenario{loginScenario(), whoamiScenario(), codeVerifyScenario(), outboxScenario(), tokenScenario(), signalsScenario(), rollbackScenario()}
}

const benchUsage = `Usage: monban bench [--json] [--duration D] [--rounds N] [--concurrency LIST] [--postgres DSN [--schema NAME]] [--cpuprofile FILE] [SCENARIO...]
       monban bench seed …, monban bench sessions … (monban bench seed --help)

Starts a fresh node on 127.0.0.1, loads it from an in-process client and
prints each scenario next to its reference. Scenarios: login, whoami,
code-verify, outbox, token, signals, rollback (default: all). Each figure is the median of --rounds rounds; scenario and reference
alternate within a round so that machine drift hits both alike.
`

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "seed" {
		return cmdBenchSeed(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "sessions" {
		return cmdBenchSessions(ctx, args[1:], stdout, stderr)
	}
	o, names, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	scenarios, err := pickScenarios(names)
	if err != nil {
		return err
	}
	env, err := startBenchNode(ctx, o.postgres, func(c *node.Config) {
		if o.schema != "" {
			c.Database, _ = schemaDSN(o.postgres, o.schema)
		}
	})
	if err != nil {
		return fmt.Errorf("bench: start node: %w", err)
	}
	defer env.close()
	if o.cpuprofile != "" {
		stop, err := startCPUProfile(o.cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	out := benchOutput{w: stdout, json: o.json}
	for _, sc := range scenarios {
		if err := runScenario(ctx, env, sc, o, &out, stderr); err != nil {
			return fmt.Errorf("bench %s: %w", sc.name, err)
		}
	}
	return nil
}

func parseBenchFlags(args []string, stderr io.Writer) (benchOptions, []string, error) {
	o := benchOptions{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	fs.BoolVar(&o.json, "json", false, "one JSON object per scenario and concurrency per line")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "length of each measurement")
	fs.StringVar(&o.postgres, "postgres", "", "PostgreSQL DSN; the run uses a fresh schema and drops it")
	fs.StringVar(&o.schema, "schema", "", "with --postgres: run on this existing schema (monban bench seed) and keep it")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds per figure (the median is reported)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the measurements to FILE")
	conc := fs.String("concurrency", "", "comma-separated concurrency levels (default: per scenario)")
	if err := fs.Parse(args); err != nil {
		return o, nil, err
	}
	if o.duration <= 0 || o.duration > loadtest.MaxDuration {
		return o, nil, fmt.Errorf("bench: --duration must be in (0, %v]", loadtest.MaxDuration)
	}
	if o.schema != "" && (o.postgres == "" || !schemaName.MatchString(o.schema)) {
		return o, nil, fmt.Errorf("bench: --schema needs --postgres and a plain schema name")
	}
	if o.rounds < 1 || o.rounds > 21 {
		return o, nil, fmt.Errorf("bench: --rounds must be 1..21")
	}
	if *conc != "" {
		for f := range strings.SplitSeq(*conc, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > 1024 {
				return o, nil, fmt.Errorf("bench: --concurrency: %q is not in 1..1024", f)
			}
			o.concurrency = append(o.concurrency, n)
		}
	}
	return o, fs.Args(), nil
}

func pickScenarios(names []string) ([]benchScenario, error) {
	all := benchScenarios()
	if len(names) == 0 {
		return all, nil
	}
	var out []benchScenario
	for _, n := range names {
		i := slices.IndexFunc(all, func(s benchScenario) bool { return s.name == n })
		if i < 0 {
			return nil, fmt.Errorf("bench: unknown scenario %q (known: login, whoami, code-verify, outbox, token, signals, rollback)", n)
		}
		out = append(out, all[i])
	}
	return out, nil
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func runScenario(ctx context.Context, env *benchEnv, sc benchScenario, o benchOptions, out *benchOutput, stderr io.Writer) error {
	fmt.Fprintf(stderr, "monban bench: preparing %s on %s…\n", sc.name, env.database)
	if env.server != nil {
		fmt.Fprintf(stderr, "monban bench: PostgreSQL %s, shared_buffers %s, max_wal_size %s\n",
			env.server["server_version"], env.server["shared_buffers"], env.server["max_wal_size"])
	}
	pair, err := sc.prepare(ctx, env)
	if err != nil {
		return err
	}
	levels := sc.concurrency
	if o.concurrency != nil {
		levels = o.concurrency
	}
	for _, c := range levels {
		row, err := measure(ctx, env, sc, pair, c, o, stderr)
		if err != nil {
			return err
		}
		out.write(row)
	}
	return nil
}
