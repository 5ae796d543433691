// Package password hashes and checks user passwords with argon2id, stored in
// the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash) so the
// parameters can be raised later without invalidating stored hashes.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// Default follows OWASP's minimum recommendation for argon2id (19 MiB,
// 2 iterations, 1 lane): about 20-30 ms per hash on one core here.
var Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// ErrMalformed is returned by Check for a stored hash it cannot parse.
var ErrMalformed = errors.New("password: malformed hash")

var b64 = base64.RawStdEncoding

// Bounds on stored parameters: a corrupted or hostile row must not make a
// login allocate gigabytes or spin for minutes.
const (
	maxMemory  = 256 * 1024 // KiB
	maxTime    = 16
	maxThreads = 16
	maxKeyLen  = 64
)

func (p Params) sane() bool {
	return p.Memory > 0 && p.Memory <= maxMemory && p.Time > 0 && p.Time <= maxTime && p.Threads > 0 && p.Threads <= maxThreads
}

// Hash returns the PHC string of pw with a fresh random salt.
func Hash(pw string, p Params) string {
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Check reports whether pw matches the stored PHC hash, in constant time.
func Check(pw, stored string) (bool, error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformed
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || !p.sane() {
		return false, ErrMalformed
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, ErrMalformed
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > maxKeyLen {
		return false, ErrMalformed
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
