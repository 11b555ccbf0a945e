package desk

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/altcha-org/altcha-lib-go"

	"github.com/monban-dev/monban"
)

// powTTL is how long a proof-of-work challenge may be solved and sent.
const powTTL = 20 * time.Minute

// Challenge returns a fresh proof-of-work challenge (ALTCHA format) for
// the request form: the browser's script finds the number whose hash it
// names, which costs a person a second and a flood a lot.
func (s *Service) Challenge() (altcha.Challenge, error) {
	exp := s.d.Clock.Now().Add(powTTL)
	c, err := altcha.CreateChallenge(altcha.ChallengeOptions{Algorithm: altcha.SHA256, MaxNumber: s.cfg.PoWMax,
		HMACKey: hex.EncodeToString(s.key("pow")), Expires: &exp})
	if err != nil {
		return c, monban.Internalf("pow challenge: %w", err)
	}
	return c, nil
}

func errPoW() error { return monban.Errorf(monban.EInvalid, "support.pow").WithField("altcha") }

// checkPoW verifies a solved challenge (base64 JSON, as the widget sends
// it): signed by us, not expired by our clock, and never used before.
func (s *Service) checkPoW(ctx context.Context, payload string) error {
	if payload == "" || len(payload) > 2048 {
		return errPoW()
	}
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return errPoW()
	}
	var p altcha.Payload
	if json.Unmarshal(raw, &p) != nil || p.Algorithm != string(altcha.SHA256) {
		return errPoW()
	}
	ok, err := altcha.VerifySolutionSafe(p, hex.EncodeToString(s.key("pow")), false)
	if err != nil || !ok {
		return errPoW()
	}
	_, query, _ := strings.Cut(p.Salt, "?")
	params, _ := url.ParseQuery(strings.TrimSuffix(query, "&"))
	exp, err := strconv.ParseInt(params.Get("expires"), 10, 64)
	now := s.d.Clock.Now()
	if err != nil || now.Unix() > exp {
		return errPoW()
	}
	// One use per challenge: a limit of one on its signature.
	err = s.d.Store.HitLimits(ctx, now, []monban.Limit{{Key: "pow:" + p.Signature, Window: 2 * powTTL, Max: 1, Err: "support.pow_used"}})
	if _, limited := monban.AsError(err); limited && monban.ErrorCodeOf(err) == monban.ERateLimited {
		return errPoW()
	}
	return err
}
