package node

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/throttle"
	"github.com/monban-dev/monban/internal/twostep"
)

// guessingAlert tells the owner, by message center and email, that second
// factors keep failing after their password was right (throttle.Config.Alert).
// The notice names no link to sign in.
func guessingAlert(noticeSvc *notices.Service, log *slog.Logger) func(ctx context.Context, accountID, auth string, disabled bool) {
	return func(ctx context.Context, accountID, auth string, disabled bool) {
		params := map[string]string{"factor": auth}
		if disabled {
			params["disabled"] = "yes"
		}
		if _, err := noticeSvc.Send(ctx, accountID, monban.TopicSignInGuessing, params, notices.Options{}); err != nil {
			log.WarnContext(ctx, "guessing notice", "account", accountID, "err", err)
		}
	}
}

// wireTwoStep builds the second factors and the second step of signing in,
// and installs the latter as the accounts' sign-in gate. Passkeys use the
// public URL's host as the WebAuthn relying party and its origin as the
// only allowed origin.
func wireTwoStep(cfg Config, db *sqlstore.DB, box *seal.Box, secret []byte, accounts *account.Service,
	codeSvc *codes.Service, noticeSvc *notices.Service, guard *throttle.Service, clock monban.Clock, log *slog.Logger) (*factors.Service, *twostep.Service, error) {
	fc := factors.Config{Issuer: "monban"}
	rpID, origin, err := passkeyParty(cfg)
	if err != nil {
		return nil, nil, err
	}
	if rpID == "" && cfg.Passkeys != "off" {
		log.Warn("passkeys are off in dev mode: public_url is an IP address and passkeys (WebAuthn) need a domain name; "+
			"open the service as http://localhost:<port> (public_url) to try them", "public_url", cfg.PublicURL)
	}
	fc.RPID = rpID
	if origin != "" {
		fc.RPOrigins = []string{origin}
	}
	factorSvc, err := factors.New(db, box, clock, rand.Reader, secret, fc, guard)
	if err != nil {
		return nil, nil, fmt.Errorf("factors: %w", err)
	}
	ts := twostep.New(db, accounts, factorSvc, codeSvc, guard, clock, rand.Reader, twostep.Config{PublicURL: cfg.PublicURL}, log)
	if noticeSvc != nil {
		ts.SendLinks(noticeSvc)
		ts.OnNotice(func(ctx context.Context, accountID, topic string, params map[string]string) {
			if _, err := noticeSvc.Send(ctx, accountID, topic, params, notices.Options{}); err != nil {
				log.WarnContext(ctx, "sign-in notice", "topic", topic, "err", err)
			}
		})
	}
	return factorSvc, ts, nil
}

// passkeyParty is the WebAuthn relying party (the public URL's host) and
// its one origin, or "" when passkeys are off. Passkeys are bound to a
// domain name: with passkeys on, an IP address in public_url is refused,
// saying why (in dev mode passkeys are turned off instead, so that
// monban serve --dev on 127.0.0.1 still starts).
func passkeyParty(cfg Config) (rpID, origin string, err error) {
	switch cfg.Passkeys {
	case "off":
		return "", "", nil
	case "", "on":
	default:
		return "", "", fmt.Errorf("config: passkeys must be on or off, not %q", cfg.Passkeys)
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Hostname() == "" {
		return "", "", fmt.Errorf("config: public_url %q is not an absolute URL", cfg.PublicURL)
	}
	if net.ParseIP(u.Hostname()) != nil {
		if cfg.Dev {
			return "", "", nil
		}
		return "", "", fmt.Errorf("config: public_url %q is an IP address, and passkeys need a domain name "+
			"(a passkey is bound to the site's domain; browsers refuse an IP address). "+
			"Set public_url to the address people open, e.g. https://id.example.jp, or set passkeys: off", cfg.PublicURL)
	}
	return u.Hostname(), u.Scheme + "://" + u.Host, nil
}
