//go:build !(wasip1 && tremolo)

package keys

import "github.com/tremolo-dev/tremolo/platform/sigkey"

// keyImpl verifies in Go: the portable WebAssembly build and native code.
// The key forms and checks are platform/sigkey's, which the host's
// tremolo.key_register uses too, so a configured key means the same in
// either build.
type keyImpl struct{ k *sigkey.Key }

func newKeyImpl(alg Alg, material []byte) (keyImpl, error) {
	k, err := sigkey.Parse(sigkey.Alg(alg), material)
	if err != nil {
		return keyImpl{}, err
	}
	return keyImpl{k}, nil
}

func (k keyImpl) verify(_ Alg, msg, sig []byte) bool { return k.k.Verify(msg, sig) }
