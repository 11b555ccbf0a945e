package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/apikey"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/password"
)

const adminUsage = `monban admin apikeys create --name NAME [--admin]
                                          create a host-app API key (secret shown once); --admin: also the admin API
monban admin apikeys list                 list API keys
monban admin apikeys revoke ID            revoke an API key
monban admin agents create --username NAME [--role agent|lead|admin] [--password-stdin]
                                          create a support agent (2-step is enrolled at first sign-in)
monban admin agents reset-2step --username NAME
                                          remove an agent's authenticator (lost phone) and end its console
                                          sessions; the next sign-in enrols a new one. Audited
` + webhooksUsage + "\n" + auditUsage

func cmdAdmin(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, getenv func(string) string) error {
	if len(args) > 0 && args[0] == "locks" {
		return cmdAdminLocks(ctx, args[1:], stdout, getenv)
	}
	if len(args) > 0 && args[0] == "clients" {
		return cmdAdminClients(ctx, args[1:], stdout, getenv) // admin_clients.go
	}
	if len(args) > 0 {
		switch args[0] {
		case "webhooks":
			return cmdAdminWebhooks(ctx, args[1:], stdout, getenv)
		case "audit":
			return cmdAdminAudit(ctx, args[1:], stdout, getenv)
		}
	}
	if len(args) < 2 {
		return errors.New("usage:\n" + adminUsage)
	}
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	var cf commonFlags
	cf.register(fs, false)
	name := fs.String("name", "", "API key name")
	adminKey := fs.Bool("admin", false, "the new API key may also use the admin API (audit export)")
	username := fs.String("username", "", "agent username")
	role := fs.String("role", string(monban.RoleAgent), "agent role: agent, lead or admin")
	pwStdin := fs.Bool("password-stdin", false, "read the agent's password from standard input")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	clock := monban.SystemClock{}
	db, err := node.OpenStore(ctx, cfg, clock)
	if err != nil {
		return err
	}
	defer db.Close()
	keys := apikey.New(db, clock)
	switch args[0] + " " + args[1] {
	case "apikeys create":
		if strings.TrimSpace(*name) == "" {
			return errors.New("apikeys create: --name is required")
		}
		create := keys.Create
		if *adminKey {
			create = keys.CreateAdmin
		}
		secret, k, err := create(ctx, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "id:     %s\nname:   %s\nsecret: %s\n\nThe secret is shown once; store it in the host app's configuration.\n", k.ID, k.Name, secret)
		return nil
	case "apikeys list":
		list, err := keys.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED\tREVOKED")
		for _, k := range list {
			revoked := ""
			if !k.RevokedAt.IsZero() {
				revoked = k.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.UTC().Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "apikeys revoke":
		if fs.NArg() != 1 {
			return errors.New("apikeys revoke: give the key ID")
		}
		if err := keys.Revoke(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s (other nodes stop accepting it within %s)\n", fs.Arg(0), apikey.CacheTTL)
		return nil
	case "agents create":
		return createAgent(ctx, db, stdin, stdout, *username, monban.AgentRole(*role), *pwStdin)
	case "agents reset-2step":
		return resetAgentTwoStep(ctx, db, stdout, *username, clock.Now())
	}
	return fmt.Errorf("unknown admin command %q\n%s", strings.Join(args[:2], " "), adminUsage)
}

type agentStore interface {
	CreateAgent(ctx context.Context, a *monban.Agent, ev monban.AuditEvent) error
}

func createAgent(ctx context.Context, db agentStore, stdin io.Reader, stdout io.Writer, username string, role monban.AgentRole, pwStdin bool) error {
	username = strings.ToLower(strings.TrimSpace(username))
	if username == "" {
		return errors.New("agents create: --username is required")
	}
	switch role {
	case monban.RoleAgent, monban.RoleLead, monban.RoleAdmin:
	default:
		return fmt.Errorf("agents create: unknown role %q (agent, lead or admin)", role)
	}
	pw, generated := "", false
	if pwStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		pw = strings.TrimRight(line, "\r\n")
		if err := password.NewPolicy("monban").Check(pw, true, username); err != nil {
			return fmt.Errorf("agents create: password refused: %w", err)
		}
	} else {
		var b [20]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		pw, generated = strings.ToLower(base32.StdEncoding.EncodeToString(b[:])), true
	}
	hash, err := password.NewHasher(password.DefaultParams, 1).Hash(ctx, pw)
	if err != nil {
		return err
	}
	now := time.Now()
	a := &monban.Agent{ID: monban.NewID("agt"), Username: username, PasswordHash: hash, Role: role, CreatedAt: now}
	ev := monban.AuditEvent{At: now, AgentID: a.ID, Action: monban.AuditAgentCreated, Detail: map[string]string{"username": username, "role": string(role)}}
	if err := db.CreateAgent(ctx, a, ev); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "agent %s created (id %s, role %s)\n", username, a.ID, role)
	if generated {
		fmt.Fprintf(stdout, "initial password (shown once): %s\n", pw)
	}
	return nil
}

type agentTwoStepStore interface {
	AgentByUsername(ctx context.Context, username string) (*monban.Agent, error)
	ResetAgentTOTP(ctx context.Context, agentID string, at time.Time, ev monban.AuditEvent) error
}

// resetAgentTwoStep is for an agent who lost the authenticator: an
// operator removes it (audited, with the agent's id) and the agent enrols
// a new one at the next sign-in, after the password.
func resetAgentTwoStep(ctx context.Context, db agentTwoStepStore, stdout io.Writer, username string, now time.Time) error {
	username = strings.ToLower(strings.TrimSpace(username))
	if username == "" {
		return errors.New("agents reset-2step: --username is required")
	}
	a, err := db.AgentByUsername(ctx, username)
	if monban.IsNotFound(err) {
		return fmt.Errorf("agents reset-2step: no agent %q", username)
	}
	if err != nil {
		return err
	}
	ev := monban.AuditEvent{At: now, AgentID: a.ID, Action: monban.AuditAgentTOTPReset,
		Detail: map[string]string{"username": username, "by": "cli"}}
	if err := db.ResetAgentTOTP(ctx, a.ID, now, ev); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "agent %s (id %s): authenticator removed and console sessions ended; the next sign-in enrols a new one\n", username, a.ID)
	return nil
}
