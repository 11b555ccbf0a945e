// Package apikey owns host-app API keys: creating them (the secret is shown
// once), checking them on every host request, and revoking them.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/monban-dev/monban"
)

// Prefix marks monban API key secrets.
const Prefix = "mbk_"

// Store is the storage API keys need.
type Store interface {
	CreateAPIKey(ctx context.Context, k *monban.APIKey, ev monban.AuditEvent) error
	APIKeyByHash(ctx context.Context, hash []byte) (*monban.APIKey, error)
	APIKeys(ctx context.Context) ([]monban.APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time, ev monban.AuditEvent) error
}

// Keys creates and checks API keys. Checks are cached for CacheTTL so the
// session check (the hottest path) costs no extra query; a revocation
// therefore takes effect on every node within CacheTTL.
type Keys struct {
	store    Store
	clock    monban.Clock
	cacheTTL time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	key     *monban.APIKey
	expires time.Time
}

// CacheTTL is how long a checked key is trusted without asking the store.
const CacheTTL = 10 * time.Second

// New returns Keys backed by store.
func New(store Store, clock monban.Clock) *Keys {
	return &Keys{store: store, clock: clock, cacheTTL: CacheTTL, cache: map[[32]byte]cached{}}
}

// Create makes a key and returns its secret, shown once.
func (k *Keys) Create(ctx context.Context, name string) (string, *monban.APIKey, error) {
	return k.create(ctx, name, false)
}

// CreateAdmin makes a key that may also use the admin API (audit export).
func (k *Keys) CreateAdmin(ctx context.Context, name string) (string, *monban.APIKey, error) {
	return k.create(ctx, name, true)
}

func (k *Keys) create(ctx context.Context, name string, admin bool) (string, *monban.APIKey, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, monban.Internalf("api key: %w", err)
	}
	secret := Prefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(secret))
	now := k.clock.Now()
	key := &monban.APIKey{ID: monban.NewID("key"), Name: name, Hash: h[:], Admin: admin, CreatedAt: now}
	ev := monban.AuditEvent{At: now, Action: monban.AuditAPIKeyCreated, Detail: map[string]string{"key_id": key.ID, "name": name}}
	if admin {
		ev.Detail["admin"] = "true"
	}
	if err := k.store.CreateAPIKey(ctx, key, ev); err != nil {
		return "", nil, err
	}
	return secret, key, nil
}

func errKeyInvalid() error { return monban.Errorf(monban.EUnauthorized, "apikey.invalid") }

// Check returns the key a secret belongs to, or apikey.invalid.
func (k *Keys) Check(ctx context.Context, secret string) (*monban.APIKey, error) {
	if !strings.HasPrefix(secret, Prefix) || len(secret) > 128 {
		return nil, errKeyInvalid()
	}
	h := sha256.Sum256([]byte(secret))
	now := k.clock.Now()
	k.mu.Lock()
	c, ok := k.cache[h]
	k.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.key, nil
	}
	key, err := k.store.APIKeyByHash(ctx, h[:])
	if monban.IsNotFound(err) {
		return nil, errKeyInvalid()
	}
	if err != nil {
		return nil, err
	}
	if !key.RevokedAt.IsZero() {
		return nil, errKeyInvalid()
	}
	k.mu.Lock()
	if len(k.cache) > 10000 {
		clear(k.cache)
	}
	k.cache[h] = cached{key: key, expires: now.Add(k.cacheTTL)}
	k.mu.Unlock()
	return key, nil
}

// List returns every key (without secrets).
func (k *Keys) List(ctx context.Context) ([]monban.APIKey, error) { return k.store.APIKeys(ctx) }

// Revoke ends a key. Other nodes stop accepting it within CacheTTL.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	now := k.clock.Now()
	ev := monban.AuditEvent{At: now, Action: monban.AuditAPIKeyRevoked, Detail: map[string]string{"key_id": id}}
	if err := k.store.RevokeAPIKey(ctx, id, now, ev); err != nil {
		return err
	}
	k.mu.Lock()
	for h, c := range k.cache {
		if c.key.ID == id {
			delete(k.cache, h)
		}
	}
	k.mu.Unlock()
	return nil
}
