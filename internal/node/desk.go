package node

import (
	"log/slog"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/delivery"
	"github.com/monban-dev/monban/internal/desk"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/password"
	"github.com/monban-dev/monban/internal/risk"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// wireDesk builds the support desk: requests without sign-in, the agent
// console and bypass grants. Locks are lifted through the risk service so
// the person gets the unlock notice.
func wireDesk(cfg Config, db *sqlstore.DB, box *seal.Box, secret []byte, noticeSvc *notices.Service, riskSvc *risk.Service,
	hasher *password.Hasher, guard desk.Throttle, worker *delivery.Worker, clock monban.Clock, log *slog.Logger) *desk.Service {
	d := desk.Deps{Store: db, Clock: clock, Box: box, Secret: secret, Notices: noticeSvc, Password: hasher, Throttle: guard, Notify: worker, Log: log}
	if riskSvc != nil {
		d.Locks = riskSvc
	}
	return desk.New(d, desk.Config{PublicURL: cfg.PublicURL})
}
