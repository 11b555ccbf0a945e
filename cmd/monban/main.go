// Command monban runs the monban account-security service and its operator
// tools: serve, migrate, admin and bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/monban-dev/monban/internal/node"
)

const usage = `monban — account security for consumer apps

Usage:
  monban serve   [--addr HOST:PORT] [--data DIR] [--database DSN] [--dev] [--config FILE]
  monban migrate [--data DIR] [--database DSN] [--config FILE]
  monban admin apikeys create --name NAME | list | revoke ID
  monban admin agents create --username NAME [--role agent|lead|admin]
  monban admin agents reset-2step --username NAME
  monban admin webhooks add --key ID --url URL --events E,E | list | remove ID | failed | redeliver ID
  monban admin audit export --since T [--until T] [--account ID] [--agent ID]
  monban admin locks rollback --rule R [--version V] [--since T --until T] [--dry-run]
  monban rules check FILE [--since T] [--until T]
  monban bench   [--json] [--duration D] [--postgres DSN] SCENARIO...

Configuration: a YAML file (--config, MONBAN_CONFIG), MONBAN_* variables, flags.
See the README for every setting.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "monban:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		return cmdMigrate(ctx, args[1:], stdout, getenv)
	case "admin":
		return cmdAdmin(ctx, args[1:], stdin, stdout, getenv)
	case "rules":
		return cmdRules(ctx, args[1:], stdout, getenv)
	case "bench":
		return cmdBench(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// commonFlags are the flags every command that opens the database takes.
type commonFlags struct {
	config, addr, data, database string
	dev                          bool
}

func (c *commonFlags) register(fs *flag.FlagSet, withServe bool) {
	fs.StringVar(&c.config, "config", "", "YAML configuration file")
	fs.StringVar(&c.data, "data", "", "data directory (SQLite file, secret)")
	fs.StringVar(&c.database, "database", "", "PostgreSQL DSN (default: SQLite in the data directory)")
	if withServe {
		fs.StringVar(&c.addr, "addr", "", "listen address HOST:PORT")
		fs.BoolVar(&c.dev, "dev", false, "development mode: local outbox page, cookies without Secure")
	}
}

// load merges file, environment and flags.
func (c *commonFlags) load(getenv func(string) string) (node.Config, error) {
	cfg, err := loadConfig(c.config, getenv)
	if err != nil {
		return cfg, err
	}
	if c.addr != "" {
		cfg.Addr = c.addr
	}
	if c.data != "" {
		cfg.Data = c.data
	}
	if c.database != "" {
		cfg.Database = c.database
	}
	if c.dev {
		cfg.Dev = true
	}
	return cfg, nil
}
