package node

import (
	"crypto/rand"
	"log/slog"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/transfer"
)

// wireTransfer builds moving an account to a new device: binding codes
// stored under the server secret, transfer codes through the code service,
// approvals through the second step's prompts, the notice and webhook with
// the move.
func wireTransfer(cfg Config, db *sqlstore.DB, secret []byte, accounts *account.Service, codeSvc *codes.Service,
	factorSvc *factors.Service, noticeSvc *notices.Service, guard transfer.Guard, clock monban.Clock, log *slog.Logger) (*transfer.Service, error) {
	var n transfer.Notices
	if noticeSvc != nil {
		n = noticeSvc
	}
	return transfer.New(db, accounts, codeSvc, factorSvc, n, guard, clock, rand.Reader, secret,
		transfer.Config{PublicURL: cfg.PublicURL}, log)
}
