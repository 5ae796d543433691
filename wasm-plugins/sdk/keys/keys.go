// Package keys verifies signatures for edge plugins: with the host's
// tremolo.signature_verify in the default (-tags tremolo) WebAssembly build,
// with Go's crypto packages otherwise.
//
// It is apart from package sdk because Go's key parsing (crypto/x509) adds
// about 1.4 MB to a module: plugins that verify nothing do not pay for it.
package keys

import "fmt"

// Alg is a signature algorithm, numbered as tremolo.key_register numbers
// them.
type Alg uint32

// The algorithms a Key verifies.
const (
	// HS256 is HMAC-SHA256; the key is the raw secret, at least
	// MinHMACKeyLen bytes.
	HS256 Alg = 1
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256; the key is a PEM public key
	// (PKIX or PKCS #1) or an RSA JWK, of at least 2048 bits.
	RS256 Alg = 2
	// EdDSA is Ed25519; the key is a PEM public key, an OKP JWK, or the 32
	// raw bytes.
	EdDSA Alg = 3
)

// MinHMACKeyLen is the shortest HS256 key accepted: 256 bits, as RFC 7518
// asks (and platform/token enforces).
const MinHMACKeyLen = 32

// String returns the algorithm's JWS name ("HS256", "RS256", "EdDSA").
func (a Alg) String() string {
	switch a {
	case HS256:
		return "HS256"
	case RS256:
		return "RS256"
	case EdDSA:
		return "EdDSA"
	}
	return fmt.Sprintf("Alg(%d)", uint32(a))
}

// ParseAlg returns the Alg of a JWS algorithm name.
func ParseAlg(name string) (Alg, bool) {
	switch name {
	case "HS256":
		return HS256, true
	case "RS256":
		return RS256, true
	case "EdDSA":
		return EdDSA, true
	}
	return 0, false
}

// Key verifies signatures with one key of one algorithm. In the default
// (-tags tremolo) WebAssembly build the host holds the key and verifies
// (tremolo.key_register, tremolo.signature_verify): native speed, and the
// key is parsed once per host rather than once per instance. Otherwise the
// guest verifies with Go's crypto packages.
//
// A Key is safe for concurrent use. Its algorithm is fixed when it is made:
// callers check a token's claimed algorithm against Alg, never the other way
// round (an RS256 public key must never be used as an HMAC secret).
type Key struct {
	alg  Alg
	impl keyImpl
}

// Alg returns the key's algorithm.
func (k *Key) Alg() Alg { return k.alg }

// New parses material as a key for alg. See the Alg constants for the
// forms accepted.
func New(alg Alg, material []byte) (*Key, error) {
	switch alg {
	case HS256:
		if len(material) < MinHMACKeyLen {
			return nil, fmt.Errorf("HS256 key is %d bytes; at least %d are needed", len(material), MinHMACKeyLen)
		}
	case RS256, EdDSA:
		if len(material) == 0 {
			return nil, fmt.Errorf("%v key is empty", alg)
		}
	default:
		return nil, fmt.Errorf("unknown algorithm %v", alg)
	}
	impl, err := newKeyImpl(alg, material)
	if err != nil {
		return nil, err
	}
	return &Key{alg: alg, impl: impl}, nil
}

// Verify reports whether sig is the key's signature of msg.
func (k *Key) Verify(msg, sig []byte) bool {
	if len(sig) == 0 {
		return false
	}
	return k.impl.verify(k.alg, msg, sig)
}
