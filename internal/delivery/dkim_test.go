package delivery_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/delivery"
	"github.com/monban-dev/monban/internal/storetest"
)

func pemKey(t *testing.T, key any, pkcs1 bool) []byte {
	t.Helper()
	if pkcs1 {
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))})
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TestDKIMSignedMail sends a code email through the worker and the SMTP
// sender with a DKIM signer, and verifies what the server received as a
// receiving system would: the TXT record the README tells operators to
// publish, looked up for selector._domainkey.domain.
func TestDKIMSignedMail(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		pem  []byte
	}{
		{"rsa pkcs1", pemKey(t, rsaKey, true)},
		{"rsa pkcs8", pemKey(t, rsaKey, false)},
		{"ed25519", pemKey(t, edKey, false)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sign, err := delivery.NewDKIMSigner("example.jp", "mb2026", tt.pem)
			if err != nil {
				t.Fatal(err)
			}
			record, err := delivery.DKIMRecord(tt.pem)
			if err != nil {
				t.Fatal(err)
			}
			s := startSink(t, nil, nil)
			sender := newSMTP(t, s, func(c *delivery.SMTPConfig) { c.Sign = sign })
			db, box, clock := storetest.Open(t), testBox(t), clocktest.New(storetest.Epoch)
			r, err := delivery.NewRenderer("モンバン", "no-reply@example.jp")
			if err != nil {
				t.Fatal(err)
			}
			w := delivery.New(db, map[monban.Channel]delivery.Sender{monban.ChannelEmail: sender}, box, r, clock, quietLog, delivery.Config{})
			queueCode(t, db, box, monban.ChannelEmail, "taro@example.jp", "482910", clock.Now())
			runOnce(t, w, 1)
			mails := s.received()
			if len(mails) != 1 {
				t.Fatalf("%d mails", len(mails))
			}
			data := mails[0].data
			if !bytes.HasPrefix(data, []byte("DKIM-Signature: ")) {
				t.Fatalf("no DKIM-Signature first:\n%.300s", data)
			}
			lookup := func(domain string) ([]string, error) {
				if domain != "mb2026._domainkey.example.jp" {
					return nil, errors.New("no such record: " + domain)
				}
				return []string{record}, nil
			}
			verify := func(msg []byte) error {
				vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
				if err != nil {
					return err
				}
				if len(vs) != 1 {
					return errors.New("want one signature")
				}
				if vs[0].Err == nil && vs[0].Domain != "example.jp" {
					return errors.New("signed for " + vs[0].Domain)
				}
				return vs[0].Err
			}
			if err := verify(data); err != nil {
				t.Fatalf("verify: %v\n%.600s", err, data)
			}
			// A changed subject or a second From breaks it.
			for name, forged := range map[string][]byte{
				"subject": bytes.Replace(data, []byte("\r\nSubject: "), []byte("\r\nSubject: Re: "), 1),
				"from":    bytes.Replace(data, []byte("\r\nTo: "), []byte("\r\nFrom: <evil@example.com>\r\nTo: "), 1),
			} {
				if err := verify(forged); err == nil {
					t.Errorf("forged %s still verifies", name)
				}
			}
		})
	}
	if _, err := delivery.NewDKIMSigner("example.jp", "s", []byte("not a key")); err == nil || !strings.Contains(err.Error(), "PEM") {
		t.Errorf("garbage key: %v", err)
	}
	if _, err := delivery.NewDKIMSigner("", "s", pemKey(t, edKey, false)); err == nil {
		t.Error("no domain accepted")
	}
}
