package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/webhooks"
)

const webhooksUsage = `monban admin webhooks add --key KEY_ID --url URL --events account.registered,account.locked
                                          subscribe a host app's key (signing secret shown once)
monban admin webhooks list [--key KEY_ID] subscriptions (every key's without --key)
monban admin webhooks remove ID [--key KEY_ID]
monban admin webhooks failed [--key KEY_ID]
                                          deliveries whose retries ran out
monban admin webhooks redeliver ID [--key KEY_ID]
                                          queue a failed delivery again (same event id)`

// cmdAdminWebhooks manages webhook subscriptions as the operator: the same
// operations a host app has with its API key, for any key.
func cmdAdminWebhooks(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return errors.New("usage:\n" + webhooksUsage)
	}
	fs := flag.NewFlagSet("admin webhooks", flag.ContinueOnError)
	var cf commonFlags
	cf.register(fs, false)
	key := fs.String("key", "", "API key id (see monban admin apikeys list)")
	rawURL := fs.String("url", "", "the receiver's http(s) URL")
	events := fs.String("events", "", "comma-separated event types: "+strings.Join(monban.EventTypes, ", "))
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	svc, closeDB, err := openWebhooks(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeDB()
	id := func() (string, error) {
		if len(pos) != 1 {
			return "", fmt.Errorf("webhooks %s: give the ID", args[0])
		}
		return pos[0], nil
	}
	switch args[0] {
	case "add":
		if *key == "" {
			return errors.New("webhooks add: --key is required")
		}
		var types []string
		for _, t := range strings.Split(*events, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
		sub, secret, err := svc.Subscribe(ctx, *key, *rawURL, types)
		if err != nil {
			return fmt.Errorf("webhooks add: %w", err)
		}
		fmt.Fprintf(stdout, "id:     %s\nurl:    %s\nevents: %s\nsecret: %s\n\nThe secret is shown once; the host app verifies each request with it.\n",
			sub.ID, sub.URL, strings.Join(sub.Types, ","), secret)
		return nil
	case "list":
		subs, err := svc.Subscriptions(ctx, *key)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKEY\tURL\tEVENTS\tCREATED\tREMOVED")
		for _, s := range subs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.APIKeyID, s.URL, strings.Join(s.Types, ","), stamp(s.CreatedAt), stamp(s.DisabledAt))
		}
		return tw.Flush()
	case "remove":
		id, err := id()
		if err != nil {
			return err
		}
		if err := svc.Unsubscribe(ctx, *key, id); err != nil {
			return fmt.Errorf("webhooks remove %s: %w", id, err)
		}
		fmt.Fprintf(stdout, "removed %s (deliveries already queued are still attempted)\n", id)
		return nil
	case "failed":
		ds, err := svc.Deliveries(ctx, *key, monban.DeliveryFailed, 500)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEVENT\tTYPE\tATTEMPTS\tFAILED\tLAST ERROR")
		for _, d := range ds {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.EventID, d.EventType, d.Attempts, stamp(d.FailedAt), d.LastError)
		}
		return tw.Flush()
	case "redeliver":
		id, err := id()
		if err != nil {
			return err
		}
		if err := svc.Redeliver(ctx, *key, id); err != nil {
			return fmt.Errorf("webhooks redeliver %s: %w", id, err)
		}
		fmt.Fprintf(stdout, "queued %s again\n", id)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", "webhooks "+args[0], webhooksUsage)
}

// openWebhooks opens the store and the webhook service (which seals
// secrets with the server secret).
func openWebhooks(ctx context.Context, cfg node.Config) (*webhooks.Service, func(), error) {
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
	return webhooks.New(db, box, clock), func() { db.Close() }, nil
}

// parseInterspersed parses flags before and after positional arguments
// ("remove ID --key K" as well as "remove --key K ID").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
