package oidc

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/monban-dev/monban"
)

// ID tokens are signed with RS256, the algorithm every OpenID Connect
// relying party must accept.
const (
	keyAlg  = jose.RS256
	keyBits = 2048
)

// keyCacheTTL bounds how long a node signs with a key it read before
// looking for a newer one (another node may have rotated).
const keyCacheTTL = time.Minute

type keyring struct {
	signing *signingKey
	public  []op.Key
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return keyAlg }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	key *rsa.PublicKey
}

func (k *publicKey) ID() string                         { return k.id }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return keyAlg }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.key }

var (
	_ op.SigningKey = (*signingKey)(nil)
	_ op.Key        = (*publicKey)(nil)
)

// keyring returns the current keys, creating the first key or a
// successor when the signing key is due to retire.
func (s *Service) keyring(ctx context.Context) (*keyring, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	now := s.clock.Now()
	if s.keys != nil && now.Before(s.keysUntil) {
		return s.keys, nil
	}
	stored, err := s.store.OIDCSigningKeys(ctx, now)
	if err != nil {
		return nil, err
	}
	if len(stored) == 0 || !now.Before(stored[0].RetireAt) {
		k, err := s.newKey(ctx, now)
		if err != nil {
			return nil, err
		}
		stored = append([]monban.SigningKey{*k}, stored...)
	}
	ring := &keyring{}
	for i, k := range stored {
		pub, err := x509.ParsePKIXPublicKey(k.Public)
		if err != nil {
			return nil, fmt.Errorf("oidc: signing key %s: %w", k.ID, err)
		}
		rpub, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("oidc: signing key %s is not RSA", k.ID)
		}
		ring.public = append(ring.public, &publicKey{id: k.ID, key: rpub})
		if i == 0 {
			der, err := s.box.Open(k.PrivateSealed)
			if err != nil {
				return nil, fmt.Errorf("oidc: signing key %s: %w", k.ID, err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return nil, fmt.Errorf("oidc: signing key %s: %w", k.ID, err)
			}
			rpriv, ok := priv.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("oidc: signing key %s is not RSA", k.ID)
			}
			ring.signing = &signingKey{id: k.ID, key: rpriv}
		}
	}
	s.keys, s.keysUntil = ring, now.Add(keyCacheTTL)
	return ring, nil
}

// newKey makes and stores a signing key. It signs for KeyRotateEvery and
// stays published until every ID and access token it could have signed
// has expired.
func (s *Service) newKey(ctx context.Context, now time.Time) (*monban.SigningKey, error) {
	priv, err := rsa.GenerateKey(s.random, keyBits)
	if err != nil {
		return nil, monban.Internalf("oidc: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, monban.Internalf("oidc: marshal key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, monban.Internalf("oidc: marshal key: %w", err)
	}
	retire := now.Add(s.cfg.KeyRotateEvery)
	k := &monban.SigningKey{ID: monban.NewID("key"), Alg: string(keyAlg), Public: pub, PrivateSealed: s.box.Seal(der),
		CreatedAt: now, RetireAt: retire, ExpiresAt: retire.Add(max(s.cfg.IDTokenTTL, s.cfg.AccessTTL) + time.Hour)}
	if err := s.store.AddOIDCSigningKey(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// RotateKey retires the current signing key now: a new key signs from
// here on, the old one stays published until its tokens expire.
func (s *Service) RotateKey(ctx context.Context) (string, error) {
	s.keyMu.Lock()
	k, err := s.newKey(ctx, s.clock.Now())
	s.keys = nil
	s.keyMu.Unlock()
	if err != nil {
		return "", err
	}
	return k.ID, nil
}

// Sign signs payload with the current ID-token key, as op does for each
// ID token: the benchmark's reference rate.
func (s *Service) Sign(ctx context.Context, payload []byte) (string, error) {
	ring, err := s.keyring(ctx)
	if err != nil {
		return "", err
	}
	signer, err := op.SignerFromKey(ring.signing)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
