// Package token signs and verifies the user tokens the Douyin app sends with
// every request: JWTs (HS256) whose subject is the user id, with an expiry.
//
// The user service signs them at register and login; the edge verifies them
// and forwards the verified user id to the services, which never see tokens.
package token

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is the JWT "iss" of Tremolo's tokens.
const Issuer = "tremolo"

// MinKeyLen is the shortest accepted HMAC key: 256 bits, as RFC 7518 asks
// of HS256 keys.
const MinKeyLen = 32

// Config chooses the signing key and token lifetime.
type Config struct {
	// Key is the HMAC key. Empty means KeyFile.
	Key string
	// KeyFile holds the key; it is created with a random key when missing,
	// so tokens survive restarts of a single-machine setup.
	KeyFile string
	// TTL is how long a token is valid.
	TTL time.Duration
	// Leeway tolerates clock differences between signer and verifier.
	Leeway time.Duration
}

// RegisterFlags adds the token flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Key, "jwt-key", "", "HMAC key (at least 32 bytes) that signs user tokens; every replica needs the same one. Empty: -jwt-key-file")
	fs.StringVar(&c.KeyFile, "jwt-key-file", "", "file holding the token key, created with a random key if missing (default <data-dir>/jwt.key)")
	fs.DurationVar(&c.TTL, "jwt-ttl", 7*24*time.Hour, "how long a user token stays valid")
	fs.DurationVar(&c.Leeway, "jwt-leeway", 30*time.Second, "clock skew tolerated when checking a token's times")
}

// LoadKey returns the configured key: Key, or KeyFile's contents, creating the
// file with a random key when it does not exist.
func (c Config) LoadKey() ([]byte, error) {
	if c.Key != "" {
		if len(c.Key) < MinKeyLen {
			return nil, fmt.Errorf("token: -jwt-key is %d bytes; at least %d are needed", len(c.Key), MinKeyLen)
		}
		return []byte(c.Key), nil
	}
	if c.KeyFile == "" {
		return nil, errors.New("token: neither -jwt-key nor -jwt-key-file is set")
	}
	if _, err := os.Stat(c.KeyFile); errors.Is(err, os.ErrNotExist) {
		return createKeyFile(c.KeyFile)
	}
	return readKeyFile(c.KeyFile)
}

// createKeyFile writes a random key to path atomically: a temporary file
// is written and synced, then hard-linked into place, which fails if another
// process got there first; the loser then reads the winner's key. A crash
// never leaves an empty or partial key file behind.
func createKeyFile(path string) ([]byte, error) {
	raw := make([]byte, 48)
	_, _ = rand.Read(raw)
	key := []byte(fmt.Sprintf("%x", raw))
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("token: creating key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".jwt-key-*")
	if err != nil {
		return nil, fmt.Errorf("token: creating key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("token: creating key file: %w", err)
	}
	if _, err := tmp.Write(key); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("token: writing key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("token: writing key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("token: writing key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return readKeyFile(path)
		}
		return nil, fmt.Errorf("token: placing key file: %w", err)
	}
	return key, nil
}

func readKeyFile(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token: reading key: %w", err)
	}
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("token: key file %s holds %d bytes; at least %d are needed", path, len(key), MinKeyLen)
	}
	return key, nil
}

// Signer makes and checks tokens with one key. It is safe for concurrent use.
type Signer struct {
	key      []byte
	ttl      time.Duration
	leeway   time.Duration
	parser   *jwt.Parser
	now      func() time.Time
	verified *verifiedCache
}

// NewSigner returns a Signer; key must be at least MinKeyLen bytes.
func NewSigner(key []byte, ttl, leeway time.Duration) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("token: key is %d bytes; at least %d are needed", len(key), MinKeyLen)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("token: ttl %v must be positive", ttl)
	}
	s := &Signer{key: key, ttl: ttl, leeway: leeway, now: time.Now, verified: newVerifiedCache()}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return s.now() }),
	)
	return s, nil
}

// Sign returns a token for userID, valid for the signer's TTL.
func (s *Signer) Sign(userID int64) (string, error) {
	now := s.now()
	claims := jwt.RegisteredClaims{
		Issuer:    Issuer,
		Subject:   strconv.FormatInt(userID, 10),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("token: signing: %w", err)
	}
	return tok, nil
}

// Errors of Verify.
var (
	// ErrExpired is returned for a well-signed token past its expiry.
	ErrExpired = errors.New("token: expired")
	// ErrInvalid is returned for anything else that is not a valid token.
	ErrInvalid = errors.New("token: invalid")
)

// Verify checks a token and returns its user id. It never accepts alg=none
// or another algorithm than HS256.
func (s *Signer) Verify(tok string) (int64, error) {
	now := s.now()
	if id, ok := s.verified.get(tok, now); ok {
		return id, nil
	}
	var claims jwt.RegisteredClaims
	_, err := s.parser.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return s.key, nil })
	if errors.Is(err, jwt.ErrTokenExpired) {
		return 0, ErrExpired
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: subject %q is not a user id", ErrInvalid, claims.Subject)
	}
	s.verified.put(tok, id, claims.ExpiresAt.Add(s.leeway)) // exp is required: set
	return id, nil
}

// NewSignerFromConfig loads cfg's key (by default dataDir/jwt.key, created
// on first start) and returns the signer: what the user service signs with
// and the edge verifies with.
func NewSignerFromConfig(cfg Config, dataDir string) (*Signer, error) {
	key, err := KeyFor(cfg, dataDir)
	if err != nil {
		return nil, err
	}
	return NewSigner(key, cfg.TTL, cfg.Leeway)
}

// KeyFor returns the key NewSignerFromConfig signs with: cfg's key, or its
// key file, by default dataDir/jwt.key (created on first start). The edge
// gives it to its token-checking plugin.
func KeyFor(cfg Config, dataDir string) ([]byte, error) {
	if cfg.Key == "" && cfg.KeyFile == "" {
		cfg.KeyFile = filepath.Join(dataDir, "jwt.key")
	}
	return cfg.LoadKey()
}
