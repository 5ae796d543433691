package wasmhost

import (
	"net/http/httptest"
	"testing"
)

// Setting a request header to the value it has, or removing one that is
// not there, changes nothing and so copies nothing; a real change goes to a
// copy, leaving the request the plugin was given as it was (a fail-open
// plugin that then fails passes that one on).
func TestRequestHeaderChangesCopyOnlyWhenNeeded(t *testing.T) {
	mem := &fakeMemory{b: make([]byte, 64)}
	put := func(off int, s string) (uint64, uint64) { copy(mem.b[off:], s); return uint64(off), uint64(len(s)) }
	aName, aLen := put(0, "X-A")
	absName, absLen := put(8, "X-Absent")
	one, oneLen := put(24, "1")
	two, twoLen := put(32, "2")

	orig := httptest.NewRequest("GET", "/", nil)
	orig.Header.Set("X-A", "1")
	orig.Trailer = map[string][]string{"X-T": {"t"}}
	ex := &exchange{orig: orig, r: orig}

	ex.removeHeader(mem, []uint64{kindRequest, absName, absLen})
	ex.setHeaderValue(mem, []uint64{kindRequest, aName, aLen, one, oneLen})
	if ex.r != orig {
		t.Fatal("a change that changes nothing copied the request")
	}
	ex.setHeaderValue(mem, []uint64{kindRequest, aName, aLen, two, twoLen})
	if ex.r == orig || ex.r.Header.Get("X-A") != "2" || orig.Header.Get("X-A") != "1" {
		t.Fatalf("set: copy %q, original %q; want 2 in a copy, 1 kept", ex.r.Header.Get("X-A"), orig.Header.Get("X-A"))
	}
	ex.r.Trailer.Set("X-T", "changed")
	if orig.Trailer.Get("X-T") != "t" {
		t.Fatal("the copy shares the original's trailers")
	}

	// Outside a request (_initialize) both are refused as ABI errors, not
	// a host crash.
	for _, call := range []func(){
		func() { (&exchange{}).removeHeader(mem, []uint64{kindRequest, absName, absLen}) },
		func() { (&exchange{}).setHeaderValue(mem, []uint64{kindRequest, aName, aLen, one, oneLen}) },
	} {
		func() {
			defer func() {
				if _, ok := recover().(*abiError); !ok {
					t.Error("a header change during _initialize did not abort with an ABI error")
				}
			}()
			call()
		}()
	}
}
