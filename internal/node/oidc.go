package node

import (
	"crypto/rand"
	"log/slog"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/oidc"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// wireOIDC builds the OpenID Connect provider. Its issuer is the public
// URL; in development it is whatever address the browser used, so a dev
// node on any loopback port is its own issuer.
func wireOIDC(cfg Config, db *sqlstore.DB, box *seal.Box, secret []byte, clock monban.Clock, log *slog.Logger) *oidc.Service {
	c := oidc.DefaultConfig
	if !cfg.Dev {
		c.Issuer = cfg.PublicURL
	}
	return oidc.New(db, box, secret, clock, rand.Reader, c, log)
}
