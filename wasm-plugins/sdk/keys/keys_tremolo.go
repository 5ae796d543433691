//go:build wasip1 && tremolo

package keys

import (
	"fmt"
	"unsafe"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

// The key functions of the tremolo host module (ABI.md). A module importing
// them loads only in Tremolo's host, hence the build tag.

//go:wasmimport tremolo key_register
//go:noescape
func tremoloKeyRegister(alg uint32, key *byte, keyLen uint32) int32

//go:wasmimport tremolo signature_verify
//go:noescape
func tremoloSignatureVerify(handle int32, msg *byte, msgLen uint32, sig *byte, sigLen uint32) int32

// keyImpl is a handle to a key the host parsed and holds.
type keyImpl struct{ handle int32 }

func newKeyImpl(alg Alg, material []byte) (keyImpl, error) {
	h := tremoloKeyRegister(uint32(alg), unsafe.SliceData(material), uint32(len(material)))
	if h <= 0 {
		return keyImpl{}, fmt.Errorf("%v key: the host refused it (tremolo.key_register returned %d)", alg, h)
	}
	return keyImpl{handle: h}, nil
}

func (k keyImpl) verify(_ Alg, msg, sig []byte) bool {
	r := tremoloSignatureVerify(k.handle, unsafe.SliceData(msg), uint32(len(msg)), unsafe.SliceData(sig), uint32(len(sig)))
	if r < 0 {
		sdk.Logf(sdk.LevelError, "keys: tremolo.signature_verify returned %d for key handle %d", r, k.handle)
	}
	return r == 1
}
