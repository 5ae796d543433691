package colour

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// MaxRequestIDLen bounds request ids accepted from clients: they end up in
// every log line (platform/requestid uses the same bound).
const MaxRequestIDLen = 128

// ValidRequestID accepts a client's request id of printable ASCII without
// spaces, quotes or backslashes, so it cannot break log lines; the rules
// of platform/requestid.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' || c == '\'' {
			return false
		}
	}
	return true
}

// MaxTagLen bounds traffic tags.
const MaxTagLen = 64

// ValidTag accepts traffic tags (and the names of their sources): 1 to
// MaxTagLen letters, digits, '.', '_' or '-'.
func ValidTag(t string) bool {
	if t == "" || len(t) > MaxTagLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// idSource makes request ids as platform/requestid does: 16 hex digits
// random per source (per instance in WebAssembly), '-', and a sequence
// number in hex, unique without a random read per request.
type idSource struct {
	prefix  string
	counter atomic.Uint64
}

func newIDSource() *idSource {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms; in wasm it is WASI random_get
	return &idSource{prefix: hex.EncodeToString(b[:]) + "-"}
}

// appendNext appends the next id to b.
func (s *idSource) appendNext(b []byte) []byte {
	b = append(b, s.prefix...)
	return strconv.AppendUint(b, s.counter.Add(1), 16)
}

func itoa(i int) string { return strconv.Itoa(i) }
