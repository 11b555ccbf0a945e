package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Params are argon2id parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	KeyLen  uint32 // bytes of hash
	SaltLen uint32 // bytes of salt
}

// DefaultParams is the OWASP-recommended argon2id minimum (19 MiB, 2 passes,
// 1 lane).
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// Bounds on parameters read back from a stored hash, so a corrupt or hostile
// row cannot make Verify allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 20 // 1 GiB
	maxTime    = 64
	minKeyLen  = 16
	maxKeyLen  = 128
	minSaltLen = 8
	maxSaltLen = 64
)

// ErrMalformedHash is returned by Verify for an encoded hash it cannot read.
var ErrMalformedHash = errors.New("password: malformed argon2id hash")

var b64 = base64.RawStdEncoding

// Hasher hashes and verifies passwords with argon2id, at most maxConcurrent
// at a time.
type Hasher struct {
	params   Params
	slots    chan struct{}
	inFlight atomic.Int64
	dummy    *hash
	onRun    func() // test hook, called while holding a slot
}

// NewHasher returns a Hasher using p. maxConcurrent <= 0 means one hash per
// available CPU.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	// The dummy needs only a salt and a key of the right sizes: VerifyDummy
	// pays for one argon2id run and a compare, exactly as Verify does.
	d := &hash{params: p, salt: make([]byte, p.SaltLen), key: make([]byte, p.KeyLen)}
	rand.Read(d.salt)
	rand.Read(d.key)
	return &Hasher{params: p, slots: make(chan struct{}, maxConcurrent), dummy: d}
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// InFlight returns the number of hashes running now.
func (h *Hasher) InFlight() int { return int(h.inFlight.Load()) }

// Hash returns the PHC string of pw:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, both base64 without padding.
// It waits for a free slot; if ctx ends first it returns ctx.Err().
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt)
	key, err := h.run(ctx, pw, salt, h.params)
	if err != nil {
		return "", err
	}
	return (&hash{params: h.params, salt: salt, key: key}).String(), nil
}

// Verify reports whether pw matches encoded, comparing in constant time, and
// whether encoded was made with parameters other than h's and should be
// replaced by a fresh Hash once the password is known to be right.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) (ok, needsRehash bool, err error) {
	d, err := parseHash(encoded)
	if err != nil {
		return false, false, err
	}
	ok, err = h.verify(ctx, d, pw)
	if err != nil {
		return false, false, err
	}
	return ok, d.params != h.params, nil
}

// VerifyDummy costs what a Verify costs and discards the result. Call it
// when the account asked for does not exist, so that timing does not tell.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) {
	_, _ = h.verify(ctx, h.dummy, pw)
}

func (h *Hasher) verify(ctx context.Context, d *hash, pw string) (bool, error) {
	key, err := h.run(ctx, pw, d.salt, d.params)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, d.key) == 1, nil
}

// run computes argon2id holding one of the slots.
func (h *Hasher) run(ctx context.Context, pw string, salt []byte, p Params) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.slots }()
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	if h.onRun != nil {
		h.onRun()
	}
	return argon2.IDKey([]byte(norm.NFKC.String(pw)), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// hash is a decoded PHC string.
type hash struct {
	params Params
	salt   []byte
	key    []byte
}

func (d *hash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		d.params.Memory, d.params.Time, d.params.Threads, b64.EncodeToString(d.salt), b64.EncodeToString(d.key))
}

// parseHash reads $argon2id$v=19$m=M,t=T,p=P$salt$key, in that exact form.
func parseHash(s string) (*hash, error) {
	if strings.ContainsAny(s, "\r\n") { // base64 decoding would skip them
		return nil, ErrMalformedHash
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return nil, ErrMalformedHash
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return nil, ErrMalformedHash
	}
	m, err1 := param(kv[0], "m=", maxMemory)
	t, err2 := param(kv[1], "t=", maxTime)
	p, err3 := param(kv[2], "p=", 255)
	if err := errors.Join(err1, err2, err3); err != nil || t < 1 || p < 1 || m < 8*p {
		return nil, ErrMalformedHash
	}
	salt, err := b64.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return nil, ErrMalformedHash
	}
	key, err := b64.Strict().DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return nil, ErrMalformedHash
	}
	return &hash{
		params: Params{Memory: m, Time: t, Threads: uint8(p), KeyLen: uint32(len(key)), SaltLen: uint32(len(salt))},
		salt:   salt,
		key:    key,
	}, nil
}

// param reads "k=N" with 1 <= N <= limit, digits only.
func param(s, prefix string, limit uint32) (uint32, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok || v == "" || len(v) > 10 || strings.TrimLeft(v, "0123456789") != "" || (len(v) > 1 && v[0] == '0') {
		return 0, ErrMalformedHash
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n > uint64(limit) {
		return 0, ErrMalformedHash
	}
	return uint32(n), nil
}
