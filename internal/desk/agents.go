package desk

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/throttle"
)

// Session levels: after the password only the authenticator step is
// reachable; the console needs both (2-step is mandatory for agents).
const (
	LevelPassword = 1
	LevelFull     = 2
)

// pendingTTL is how long a password-only session waits for its code.
const pendingTTL = 10 * time.Minute

func errSignIn() error { return monban.Errorf(monban.EUnauthorized, "desk.signin_wrong") }

// errSession is the answer to a missing, expired or revoked console
// session.
func errSession() error { return monban.Errorf(monban.EUnauthorized, "desk.session") }

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// Agent is a signed-in agent and the session that proves it.
type Agent struct {
	*monban.Agent
	Session  *sqlstore.AgentSession
	Enrolled bool // has an authenticator app
}

// SignIn checks an agent's password and opens a password-level session;
// the console then asks for the authenticator code (or, the first time,
// enrols one). It returns the session token for the cookie. The password
// is a counted secret as a person's is (throttle.DeskPassword: per agent,
// or per typed name when it names none, alike): claimed before the hash,
// five wrong ones free, then 30 s doubling to an hour, refused with the
// time of the next try ("desk.signin_limit"). Tries from one IP are also
// bounded in a window, whatever name they type.
func (s *Service) SignIn(ctx context.Context, username, password, ip, ua string) (string, error) {
	now := s.d.Clock.Now()
	username = strings.ToLower(strings.TrimSpace(username))
	if err := s.d.Store.HitLimits(ctx, now, []monban.Limit{
		{Key: "desk:signin:ip:" + monban.IPScope(ip), Window: 15 * time.Minute, Max: 30, Err: "desk.signin_limit"},
	}); err != nil {
		return "", err
	}
	a, err := s.d.Store.AgentByUsername(ctx, username)
	if err != nil && !monban.IsNotFound(err) {
		return "", err
	}
	at := throttle.Attempt{Authenticator: throttle.DeskPassword, Identifier: "username:" + username, IP: ip}
	if a != nil {
		at.AccountIDs = []string{a.ID}
	}
	err = s.d.Throttle.Check(ctx, at, func() error {
		if a == nil {
			s.d.Password.VerifyDummy(ctx, password)
			return errSignIn()
		}
		ok, _, err := s.d.Password.Verify(ctx, a.PasswordHash, password)
		if err != nil {
			return err
		}
		if !ok || !a.DisabledAt.IsZero() {
			_ = s.d.Store.AppendAudit(ctx, monban.AuditEvent{At: now, AgentID: a.ID, Action: monban.AuditAgentSignInFail, IP: ip, UserAgent: ua})
			return errSignIn()
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := "dsk_" + base64.RawURLEncoding.EncodeToString(b[:])
	sess := &sqlstore.AgentSession{ID: monban.NewID("dss"), TokenHash: hashToken(tok), AgentID: a.ID, Level: LevelPassword,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(pendingTTL)}
	if err := s.d.Store.CreateAgentSession(ctx, sess, monban.AuditEvent{At: now, AgentID: a.ID, Action: monban.AuditAgentSignedIn,
		IP: ip, UserAgent: ua, Detail: map[string]string{"level": "password"}}); err != nil {
		return "", err
	}
	return tok, nil
}

// Authenticate returns the agent of a console session token at any level;
// callers check Session.Level. Each use pushes the idle expiry on, never
// past SessionMax after sign-in.
func (s *Service) Authenticate(ctx context.Context, token string) (*Agent, error) {
	if token == "" || len(token) > 100 {
		return nil, errSession()
	}
	sess, err := s.d.Store.AgentSessionByTokenHash(ctx, hashToken(token))
	if monban.IsNotFound(err) {
		return nil, errSession()
	}
	if err != nil {
		return nil, err
	}
	now := s.d.Clock.Now()
	if !sess.RevokedAt.IsZero() || !now.Before(sess.ExpiresAt) {
		return nil, errSession()
	}
	a, err := s.d.Store.AgentByID(ctx, sess.AgentID)
	if err != nil {
		return nil, err
	}
	if !a.DisabledAt.IsZero() {
		return nil, errSession()
	}
	secret, _, err := s.d.Store.AgentTOTP(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if sess.Level == LevelFull && now.Sub(sess.LastSeenAt) > time.Minute {
		sess.ExpiresAt = minTime(now.Add(s.cfg.SessionIdle), sess.CreatedAt.Add(s.cfg.SessionMax))
		sess.LastSeenAt = now
		if err := s.d.Store.TouchAgentSession(ctx, sess.ID, sess.Level, now, sess.ExpiresAt, monban.AuditEvent{}); err != nil {
			return nil, err
		}
	}
	return &Agent{Agent: a, Session: sess, Enrolled: secret != nil}, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// SignOut ends a console session.
func (s *Service) SignOut(ctx context.Context, a *Agent) error {
	return s.d.Store.RevokeAgentSession(ctx, a.Session.ID, s.d.Clock.Now())
}

// Enrolment is a new authenticator for an agent: the page shows the QR
// code and the key, and carries Sealed back with the first code.
type Enrolment struct {
	Secret string // base32
	URL    string // otpauth://
	QR     string // data:image/png;base64,… of URL
	Sealed string // the secret sealed for the form
}

var totpOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// StartEnrol makes an authenticator key for an agent who has none yet.
func (s *Service) StartEnrol(ctx context.Context, a *Agent) (*Enrolment, error) {
	if a.Enrolled {
		return nil, monban.Errorf(monban.EConflict, "agent.totp_set")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.cfg.Issuer, AccountName: a.Username, Period: 30,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, SecretSize: 20})
	if err != nil {
		return nil, monban.Internalf("agent totp: %w", err)
	}
	sealed := s.d.Box.Seal([]byte(a.ID + "|" + key.Secret()))
	return enrolment(key, base64.RawURLEncoding.EncodeToString(sealed))
}

// enrolment renders the key's QR code as the people's enrolment does
// (internal/factors EnrolTOTP): the otpauth URI as a PNG.
func enrolment(key *otp.Key, sealed string) (*Enrolment, error) {
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, monban.Internalf("agent totp qr: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, monban.Internalf("agent totp qr png: %w", err)
	}
	return &Enrolment{Secret: key.Secret(), URL: key.URL(), Sealed: sealed,
		QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// ResumeEnrol shows the same key again after a wrong first code (the app
// already has it), from the sealed form value alone; nil if it is not
// this agent's.
func (s *Service) ResumeEnrol(a *Agent, sealed string) *Enrolment {
	secret, ok := s.openEnrol(a, sealed)
	if !ok {
		return nil
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return nil
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.cfg.Issuer, AccountName: a.Username, Period: 30,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Secret: raw})
	if err != nil {
		return nil
	}
	e, err := enrolment(key, sealed)
	if err != nil {
		return nil
	}
	return e
}

// openEnrol opens a sealed enrolment key, if it is a's.
func (s *Service) openEnrol(a *Agent, sealed string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", false
	}
	plain, err := s.d.Box.Open(raw)
	if err != nil {
		return "", false
	}
	id, secret, ok := strings.Cut(string(plain), "|")
	return secret, ok && id == a.ID
}

func errCode() error { return monban.Errorf(monban.EUnauthorized, "totp.wrong").WithField("code") }

// matchStep returns the time step (one either side of now) whose code is code.
func (s *Service) matchStep(secret, code string) (int64, error) {
	code = strings.Map(func(r rune) rune {
		if r >= '０' && r <= '９' {
			return r - '０' + '0'
		}
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
	if len(code) != 6 {
		return 0, errCode()
	}
	cur := s.d.Clock.Now().Unix() / 30
	for d := int64(-1); d <= 1; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((cur+d)*30, 0), totpOpts)
		if err != nil {
			return 0, monban.Internalf("agent totp: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return cur + d, nil
		}
	}
	return 0, errCode()
}

// codeLimit claims one authenticator try of the agent, right or wrong,
// before the compare (HitLimits counts atomically across nodes): five per
// 15 minutes per agent. Agents are few and known, so the count is per
// agent; it is not the consecutive-failure throttle, whose disabling at 100
// would let whoever has an agent's password switch the desk off for them.
func (s *Service) codeLimit(ctx context.Context, agentID string) error {
	return s.d.Store.HitLimits(ctx, s.d.Clock.Now(), []monban.Limit{{Key: "desk:totp:" + agentID, Window: 15 * time.Minute,
		Max: 5, Err: "desk.code_limit"}})
}

// ConfirmEnrol stores the agent's authenticator once its first code is
// right, and raises the session to full.
func (s *Service) ConfirmEnrol(ctx context.Context, a *Agent, sealed, code string) error {
	if err := s.codeLimit(ctx, a.ID); err != nil {
		return err
	}
	secret, ok := s.openEnrol(a, sealed)
	if !ok {
		return errCode()
	}
	step, err := s.matchStep(secret, code)
	if err != nil {
		return err
	}
	now := s.d.Clock.Now()
	if err := s.d.Store.SetAgentTOTP(ctx, a.ID, s.d.Box.Seal([]byte(secret)), step,
		monban.AuditEvent{At: now, AgentID: a.ID, Action: monban.AuditAgentTOTP}); err != nil {
		return err
	}
	return s.raise(ctx, a, now)
}

// VerifyCode checks the agent's authenticator code and raises the session
// to full.
func (s *Service) VerifyCode(ctx context.Context, a *Agent, code string) error {
	if err := s.codeLimit(ctx, a.ID); err != nil {
		return err
	}
	sealed, _, err := s.d.Store.AgentTOTP(ctx, a.ID)
	if err != nil {
		return err
	}
	if sealed == nil {
		return monban.Errorf(monban.EConflict, "desk.enrol_first")
	}
	secret, err := s.d.Box.Open(sealed)
	if err != nil {
		return monban.Internalf("agent totp: %w", err)
	}
	step, err := s.matchStep(string(secret), code)
	if err != nil {
		return err
	}
	if err := s.d.Store.UseAgentTOTPStep(ctx, a.ID, step); err != nil {
		return err
	}
	return s.raise(ctx, a, s.d.Clock.Now())
}

func (s *Service) raise(ctx context.Context, a *Agent, now time.Time) error {
	exp := minTime(now.Add(s.cfg.SessionIdle), a.Session.CreatedAt.Add(s.cfg.SessionMax))
	if err := s.d.Store.TouchAgentSession(ctx, a.Session.ID, LevelFull, now, exp,
		monban.AuditEvent{At: now, AgentID: a.ID, Action: monban.AuditAgentSignedIn, Detail: map[string]string{"level": "2-step"}}); err != nil {
		return err
	}
	a.Session.Level, a.Session.ExpiresAt, a.Session.LastSeenAt = LevelFull, exp, now
	return nil
}
