package delivery

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// dkimHeaders are the header fields a DKIM signature covers (RFC 6376
// §5.4.1). From is listed twice so that a second From added on the way
// breaks the signature instead of riding on it.
var dkimHeaders = []string{"From", "From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
	"Content-Type", "Content-Language", "Auto-Submitted"}

// NewDKIMSigner returns a function for SMTPConfig.Sign that prepends a
// DKIM-Signature (relaxed/relaxed, SHA-256) made with the PEM private key
// (RSA or Ed25519, PKCS#8 or PKCS#1) for selector._domainkey.domain.
func NewDKIMSigner(domain, selector string, keyPEM []byte) (func([]byte) ([]byte, error), error) {
	if domain == "" || selector == "" {
		return nil, errors.New("dkim: a domain and a selector are needed")
	}
	key, err := parseDKIMKey(keyPEM)
	if err != nil {
		return nil, err
	}
	opts := &dkim.SignOptions{Domain: domain, Selector: selector, Signer: key, Hash: crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: dkimHeaders}
	return func(msg []byte) ([]byte, error) {
		var out bytes.Buffer
		if err := dkim.Sign(&out, bytes.NewReader(msg), opts); err != nil {
			return nil, fmt.Errorf("dkim: %w", err)
		}
		return out.Bytes(), nil
	}, nil
}

func parseDKIMKey(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("dkim: the private key file holds no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dkim: private key: %w", err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("dkim: %T keys are not supported (RSA or Ed25519)", k)
}

// DKIMRecord returns the DNS TXT record that publishes the public half of
// the PEM private key, for selector._domainkey.<domain>.
func DKIMRecord(keyPEM []byte) (string, error) {
	key, err := parseDKIMKey(keyPEM)
	if err != nil {
		return "", err
	}
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	default:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("dkim: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + strings.TrimSpace(base64.StdEncoding.EncodeToString(der)), nil
	}
}
