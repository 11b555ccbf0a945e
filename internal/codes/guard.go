package codes

import (
	"slices"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/identifier"
	"github.com/monban-dev/monban/internal/throttle"
)

// destination checks where a code is to go and returns its normalised form.
// For SMS and voice it is the SMS-pumping guard: the number must exist, be
// in an allowed region and reach a mobile (a voice call may also ring a
// fixed line); premium-rate, toll-free, VoIP and other numbers are refused
// before anything is written or counted.
func (s *Service) destination(ch monban.Channel, raw string) (string, error) {
	switch ch {
	case monban.ChannelEmail:
		v, err := identifier.Normalize(monban.KindEmail, raw)
		if err != nil {
			return "", destinationInvalid()
		}
		return v, nil
	case monban.ChannelSMS, monban.ChannelVoice:
		p, err := identifier.NormalizePhone(raw, "JP")
		if err != nil {
			return "", destinationInvalid()
		}
		if !slices.Contains(s.cfg.AllowedRegions, p.Region) {
			return "", monban.Errorf(monban.EInvalid, "phone.region_not_allowed").WithField("destination").
				WithParams(map[string]any{"region": p.Region})
		}
		if !p.Type.CanReceiveSMS() && !(ch == monban.ChannelVoice && p.Type == identifier.FixedLine) {
			return "", monban.Errorf(monban.EInvalid, "phone.not_mobile").WithField("destination")
		}
		return p.E164, nil
	}
	return "", monban.Errorf(monban.EInvalid, "destination.invalid").WithField("channel")
}

// Destination runs the checks a send to raw over ch would meet — for SMS
// and voice the SMS-pumping guard — without sending or counting anything,
// so that a page can show a refused number's reason before the person asks
// for a code. It returns the normalised destination.
func (s *Service) Destination(ch monban.Channel, raw string) (string, error) {
	return s.destination(ch, raw)
}

func destinationInvalid() error {
	return monban.Errorf(monban.EInvalid, "destination.invalid").WithField("destination")
}

// phonePrefix is an E.164 number without its last four digits: pumping
// fraud walks the numbers of one range.
func phonePrefix(e164 string) string {
	return e164[:max(len(e164)-4, 0)]
}

// sendLimits are the limits every code sent to dest counts against.
func (s *Service) sendLimits(accountID string, ch monban.Channel, dest, ip string) []monban.Limit {
	c := s.cfg
	ls := []monban.Limit{
		{Key: "code:dest:h:" + dest, Window: time.Hour, Max: c.PerDestinationHour, Err: "limit.destination"},
		{Key: "code:dest:d:" + dest, Window: 24 * time.Hour, Step: time.Minute, Max: c.PerDestinationDay, Err: "limit.destination"},
		{Key: "code:acct:h:" + accountID, Window: time.Hour, Max: c.PerAccountHour, Err: "limit.account"},
	}
	if ip != "" {
		ls = append(ls, monban.Limit{Key: "code:ip:h:" + monban.IPScope(ip), Window: time.Hour, Max: c.PerIPHour, Err: "limit.ip"})
	}
	if ch == monban.ChannelSMS || ch == monban.ChannelVoice {
		prefix := phonePrefix(dest)
		ls = append(ls,
			monban.Limit{Key: "code:prefix:h:" + prefix, Window: time.Hour, Max: c.PerPrefixHour, Err: "limit.prefix"},
			monban.Limit{Key: "sms:prefix:" + prefix, Window: time.Hour, Max: c.SMSPrefixPerHour, Err: budgetKey},
			monban.Limit{Key: "sms:global", Window: time.Hour, Max: c.SMSGlobalPerHour, Err: budgetKey},
		)
	}
	return ls
}

const budgetKey = "sms.budget"

// FailureAttempt is the counted try of a code for accountID and purpose p:
// one counter per account and purpose, across flows, so that asking for a
// new code never resets it.
func (s *Service) FailureAttempt(accountID string, p monban.Purpose) throttle.Attempt {
	pol := throttle.CodePolicy
	pol.Free = s.cfg.FreeFailures
	if pol.Free < 0 {
		pol.Free = 1 << 30
	}
	return throttle.Attempt{Authenticator: throttle.CodeOf(p), AccountIDs: []string{accountID}, Policy: pol}
}
