package throttle

import (
	"context"
	"time"

	"github.com/monban-dev/monban"
)

// Token is a kind of long random token (a one-time approval link, a "this
// wasn't me" link, a support status link): it names no account before it
// is found, so the only thing a guesser cannot vary for free is the
// network, and wrong tokens are counted per IP scope (one /64 for IPv6) in
// a window of their own kind.
type Token struct {
	Name   string        // the counter's name, e.g. "approval"
	Err    string        // the RateLimited key of a refusal
	PerIP  int           // wrong tokens per IP scope per Window; 0 takes Config.TokenFailuresPerIPHour
	Window time.Duration // 0 is an hour
}

// Kinds of token checked through CheckToken.
var (
	ApprovalToken = Token{Name: "approval", Err: "approval.link_limit"}
	UndoToken     = Token{Name: "undo", Err: "undo.limit"}
)

// DefaultTokenFailuresPerIPHour: a person follows one or two links an
// hour; a truncated link in a mail client costs a few wrong ones.
const DefaultTokenFailuresPerIPHour = 10

// TokenLimit is the window a kind of token's wrong tries count in for ip,
// with perIP taken when the kind names no number of its own.
func TokenLimit(k Token, ip string, perIP int) monban.Limit {
	if k.PerIP != 0 {
		perIP = k.PerIP
	}
	w := k.Window
	if w == 0 {
		w = time.Hour
	}
	return monban.Limit{Key: "token:" + k.Name + ":ip:" + monban.IPScope(ip), Window: w, Max: perIP, Err: k.Err}
}

// CheckToken is the counted path for a long random token: it claims one
// try on ip's window for k (refused, RateLimited k.Err with the time of
// the next allowed try, once the window is used up), only then runs
// compare, and gives the try back when compare finds the token (nil) or
// fails for a reason that is not an answer about the token (an outage, not
// EInternal). So concurrent guesses on any number of nodes cannot get
// past the window, and a person following their own links spends nothing.
// compare's error is returned as it is.
func (s *Service) CheckToken(ctx context.Context, k Token, ip string, compare func() error) error {
	now := s.clock.Now()
	limits := []monban.Limit{TokenLimit(k, ip, s.cfg.TokenFailuresPerIPHour)}
	if err := s.store.HitLimits(ctx, now, limits); err != nil {
		return err
	}
	err := compare()
	if e, ok := monban.AsError(err); err == nil || !ok || e.Code == monban.EInternal {
		if rerr := s.store.ReleaseLimits(ctx, now, limits); rerr != nil {
			s.log.WarnContext(ctx, "give back a token try", "token", k.Name, "err", rerr)
		}
	}
	return err
}
