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
	// WebAuthn needs a domain: an IP address (e.g. the default
	// http://127.0.0.1:8080) leaves passkeys off.
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) == nil {
		fc.RPID, fc.RPOrigins = u.Hostname(), []string{u.Scheme + "://" + u.Host}
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
