package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/oidc"
)

const clientsUsage = `monban admin clients add --name NAME --redirect-uri URI [--redirect-uri URI ...]
        [--post-logout-uri URI ...] [--scopes "profile email phone offline_access"]
        [--public] [--first-party]
    register an OpenID Connect client (docs/oidc.md); a confidential client's
    secret is shown once. Redirect URIs are matched exactly.
monban admin clients list
monban admin clients remove CLIENT_ID     remove a client and revoke its tokens`

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func cmdAdminClients(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) < 1 {
		return errors.New("usage:\n" + clientsUsage)
	}
	fs := flag.NewFlagSet("admin clients "+args[0], flag.ContinueOnError)
	var cf commonFlags
	cf.register(fs, false)
	name := fs.String("name", "", "client name, shown on the consent page")
	var redirects, logouts listFlag
	fs.Var(&redirects, "redirect-uri", "a redirect URI (repeat for more)")
	fs.Var(&logouts, "post-logout-uri", "a post-logout redirect URI (repeat for more)")
	scopes := fs.String("scopes", strings.Join(oidc.DefaultScopes, " "), "scopes the client may ask for besides openid")
	public := fs.Bool("public", false, "a public client (native app, SPA): no secret, PKCE required")
	first := fs.Bool("first-party", false, "the operator's own app: no consent page")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	n, err := node.New(ctx, cfg, node.NewLogger(io.Discard, "error"), monban.SystemClock{})
	if err != nil {
		return err
	}
	defer n.Close()
	by := monban.AuditEvent{Detail: map[string]string{"by": "operator:" + os.Getenv("USER")}}
	switch args[0] {
	case "add":
		c, secret, err := n.OIDC.AddClient(ctx, oidc.ClientInput{Name: *name, RedirectURIs: redirects, PostLogoutURIs: logouts,
			Scopes: strings.Fields(*scopes), Public: *public, FirstParty: *first}, by)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "client_id:     %s\nname:          %s\nredirect_uris: %s\n", c.ID, c.Name, strings.Join(c.RedirectURIs, " "))
		if secret != "" {
			fmt.Fprintf(stdout, "client_secret: %s\n\nThe secret is shown once; store it in the app's configuration.\n", secret)
		} else {
			fmt.Fprintln(stdout, "\nA public client: no secret; it must send a PKCE code_challenge (S256).")
		}
		fmt.Fprintf(stdout, "issuer:        %s (discovery at /.well-known/openid-configuration)\n", cfg.PublicURL)
		return nil
	case "list":
		cs, err := n.OIDC.Clients(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTYPE\tFIRST-PARTY\tREDIRECT URIS\tSCOPES\tCREATED")
		for _, c := range cs {
			typ := "confidential"
			if c.Public {
				typ = "public"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\t%s\n", c.ID, c.Name, typ, c.FirstParty, strings.Join(c.RedirectURIs, " "),
				strings.Join(c.Scopes, " "), c.CreatedAt.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	case "remove":
		if fs.NArg() != 1 {
			return errors.New("clients remove: give the client ID")
		}
		if err := n.OIDC.RemoveClient(ctx, fs.Arg(0), by); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s; its tokens are revoked\n", fs.Arg(0))
		return nil
	}
	return fmt.Errorf("unknown clients command %q\n%s", args[0], clientsUsage)
}
