//go:build !(wasip1 && tremolo)

package keys

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"sync"
)

// keyImpl verifies in Go: the portable WebAssembly build and native code.
type keyImpl struct {
	macs *sync.Pool // of hash.Hash: HMAC state is per use
	rsa  *rsa.PublicKey
	ed   ed25519.PublicKey
}

func newKeyImpl(alg Alg, material []byte) (keyImpl, error) {
	switch alg {
	case HS256:
		secret := append([]byte(nil), material...)
		return keyImpl{macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}}, nil
	case RS256:
		pub, err := parseRSAKey(material)
		if err != nil {
			return keyImpl{}, err
		}
		if pub.N.BitLen() < 2048 {
			return keyImpl{}, fmt.Errorf("RS256 key has %d bits; at least 2048 are needed", pub.N.BitLen())
		}
		return keyImpl{rsa: pub}, nil
	case EdDSA:
		pub, err := parseEd25519Key(material)
		if err != nil {
			return keyImpl{}, err
		}
		return keyImpl{ed: pub}, nil
	}
	return keyImpl{}, fmt.Errorf("unknown algorithm %v", alg)
}

func (k keyImpl) verify(alg Alg, msg, sig []byte) bool {
	switch alg {
	case HS256:
		if len(sig) != sha256.Size {
			return false
		}
		mac := k.macs.Get().(hash.Hash)
		mac.Reset()
		mac.Write(msg)
		var sum [sha256.Size]byte
		ok := hmac.Equal(mac.Sum(sum[:0]), sig)
		k.macs.Put(mac)
		return ok
	case RS256:
		digest := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest[:], sig) == nil
	case EdDSA:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, msg, sig)
	}
	return false
}

// parseRSAKey accepts a PEM "PUBLIC KEY" (PKIX), "RSA PUBLIC KEY"
// (PKCS #1) or a JWK with kty RSA.
func parseRSAKey(material []byte) (*rsa.PublicKey, error) {
	if block, _ := pem.Decode(material); block != nil {
		switch block.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("RS256 key: %v", err)
			}
			pub, ok := k.(*rsa.PublicKey)
			if !ok {
				return nil, fmt.Errorf("RS256 key: the PEM holds a %T, not an RSA public key", k)
			}
			return pub, nil
		case "RSA PUBLIC KEY":
			pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("RS256 key: %v", err)
			}
			return pub, nil
		}
		return nil, fmt.Errorf("RS256 key: PEM block %q is not a public key", block.Type)
	}
	var jwk struct{ Kty, N, E string }
	if err := json.Unmarshal(material, &jwk); err != nil {
		return nil, errors.New("RS256 key: neither a PEM public key nor a JWK")
	}
	if jwk.Kty != "RSA" {
		return nil, fmt.Errorf("RS256 key: JWK kty is %q, want \"RSA\"", jwk.Kty)
	}
	n, err1 := base64.RawURLEncoding.DecodeString(jwk.N)
	e, err2 := base64.RawURLEncoding.DecodeString(jwk.E)
	if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
		return nil, errors.New("RS256 key: JWK n or e is not valid base64url")
	}
	exp := int(new(big.Int).SetBytes(e).Int64())
	if exp < 3 || exp%2 == 0 {
		return nil, fmt.Errorf("RS256 key: JWK exponent %d is not valid", exp)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}, nil
}

// parseEd25519Key accepts a PEM "PUBLIC KEY", 32 raw bytes, or a JWK with
// kty OKP and crv Ed25519.
func parseEd25519Key(material []byte) (ed25519.PublicKey, error) {
	if block, _ := pem.Decode(material); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("EdDSA key: PEM block %q is not a public key", block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("EdDSA key: %v", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("EdDSA key: the PEM holds a %T, not an Ed25519 public key", k)
		}
		return pub, nil
	}
	if len(material) == ed25519.PublicKeySize {
		return ed25519.PublicKey(append([]byte(nil), material...)), nil
	}
	var jwk struct{ Kty, Crv, X string }
	if err := json.Unmarshal(material, &jwk); err != nil {
		return nil, fmt.Errorf("EdDSA key: neither a PEM public key, %d raw bytes nor a JWK", ed25519.PublicKeySize)
	}
	if jwk.Kty != "OKP" || jwk.Crv != "Ed25519" {
		return nil, fmt.Errorf("EdDSA key: JWK is kty %q crv %q, want OKP Ed25519", jwk.Kty, jwk.Crv)
	}
	x, err := base64.RawURLEncoding.DecodeString(jwk.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, errors.New("EdDSA key: JWK x is not 32 bytes of base64url")
	}
	return ed25519.PublicKey(x), nil
}
