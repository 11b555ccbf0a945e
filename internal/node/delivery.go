package node

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/delivery"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/web"
)

func monbanChannel(s string) monban.Channel {
	if strings.EqualFold(s, "voice") {
		return monban.ChannelVoice
	}
	return monban.ChannelSMS
}

// channels builds the senders and the receipt parsers the configuration
// names. In dev mode every channel without a configured provider goes to the
// dev outbox.
func channels(cfg Config, db *sqlstore.DB, secret []byte, clock monban.Clock) (map[monban.Channel]delivery.Sender, map[string]web.ReceiptParser, error) {
	senders := map[monban.Channel]delivery.Sender{}
	parsers := map[string]web.ReceiptParser{}
	if cfg.SMTPHost != "" {
		sign, err := dkimSigner(cfg)
		if err != nil {
			return nil, nil, err
		}
		smtp, err := delivery.NewSMTP(delivery.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername,
			Password: cfg.SMTPPassword, From: cfg.MailFrom, FromName: cfg.MailFromName, TLS: cfg.SMTPTLS, Clock: clock, Sign: sign})
		if err != nil {
			return nil, nil, fmt.Errorf("smtp: %w", err)
		}
		senders[monban.ChannelEmail] = smtp
	}
	if cfg.KannelURL != "" {
		parsers["kannel"] = func(r *http.Request) (delivery.Receipt, error) { return delivery.ParseKannelDLR(r, secret) }
	}
	for _, p := range cfg.HTTPProviders {
		pc, err := p.config(cfg.PublicURL)
		if err != nil {
			return nil, nil, err
		}
		pc.Clock = clock
		if _, err := delivery.NewHTTPProvider(pc); err != nil {
			return nil, nil, fmt.Errorf("http provider %s: %w", p.Name, err)
		}
		parsers[p.Name] = func(r *http.Request) (delivery.Receipt, error) { return delivery.ParseHTTPProviderCallback(r, pc) }
	}
	for ch, name := range map[monban.Channel]string{monban.ChannelSMS: cfg.SMSProvider, monban.ChannelVoice: cfg.VoiceProvider} {
		s, err := provider(cfg, name, ch, secret, clock)
		if err != nil {
			return nil, nil, err
		}
		if s != nil {
			senders[ch] = s
		}
	}
	if cfg.Dev {
		dev := delivery.NewDev(db, clock)
		for _, ch := range []monban.Channel{monban.ChannelEmail, monban.ChannelSMS, monban.ChannelVoice} {
			if senders[ch] == nil {
				senders[ch] = dev
			}
		}
	}
	return senders, parsers, nil
}

// dkimSigner returns the DKIM signer the configuration names, or nil.
func dkimSigner(cfg Config) (func([]byte) ([]byte, error), error) {
	if cfg.DKIMPrivateKeyFile == "" {
		return nil, nil
	}
	key, err := os.ReadFile(cfg.DKIMPrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("dkim_private_key_file: %w", err)
	}
	domain := cfg.DKIMDomain
	if domain == "" {
		domain = domainOf(cfg.MailFrom)
	}
	return delivery.NewDKIMSigner(domain, cfg.DKIMSelector, key)
}

// provider returns the sender named for a channel, or nil for none.
func provider(cfg Config, name string, ch monban.Channel, secret []byte, clock monban.Clock) (delivery.Sender, error) {
	switch name {
	case "":
		return nil, nil
	case "kannel":
		if ch != monban.ChannelSMS || cfg.KannelURL == "" {
			return nil, fmt.Errorf("kannel sends SMS only, and needs kannel_sendsms_url")
		}
		return delivery.NewKannel(delivery.KannelConfig{SendSMSURL: cfg.KannelURL, Username: cfg.KannelUsername,
			Password: cfg.KannelPassword, From: cfg.KannelFrom, DLRBaseURL: cfg.PublicURL, Clock: clock}, secret), nil
	}
	for _, p := range cfg.HTTPProviders {
		if p.Name != name {
			continue
		}
		if monbanChannel(p.Channel) != ch {
			return nil, fmt.Errorf("provider %s is for %s, not %s", name, p.Channel, ch)
		}
		pc, err := p.config(cfg.PublicURL)
		if err != nil {
			return nil, err
		}
		pc.Clock = clock
		return delivery.NewHTTPProvider(pc)
	}
	return nil, fmt.Errorf("no provider named %q (sms_provider / voice_provider)", name)
}

// devOutbox shows the dev sender's records to the web layer.
type devOutbox struct{ db *sqlstore.DB }

func (d devOutbox) DevOutbox(ctx context.Context, limit int) ([]web.DevMessage, error) {
	ms, err := d.db.DevMessages(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]web.DevMessage, 0, len(ms))
	for _, m := range ms {
		out = append(out, web.DevMessage{ID: m.MessageID, Channel: m.Channel, Destination: m.Destination,
			Purpose: strings.TrimPrefix(m.Template, "code."), Template: m.Template, Subject: m.Subject, Body: m.Body,
			Code: m.Code, Status: m.Status, Reason: m.Reason, CreatedAt: m.CreatedAt})
	}
	return out, nil
}
