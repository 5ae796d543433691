package wasmhost

import (
	"net/http/httptest"
	"testing"
)

// Request headers change in place, and undoHeaders puts back what they
// held, whatever the order of changes: a fail-open plugin that fails passes
// on the request it was given, and handlers around a plugin never see its
// changes. Setting a header to the value it has, or removing one that is
// not there, records nothing.
func TestRequestHeaderChangesAreUndone(t *testing.T) {
	mem := &fakeMemory{b: make([]byte, 64)}
	put := func(off int, s string) (uint64, uint64) { copy(mem.b[off:], s); return uint64(off), uint64(len(s)) }
	aName, aLen := put(0, "X-A")
	absName, absLen := put(8, "x-absent")
	one, oneLen := put(24, "1")
	two, twoLen := put(32, "2")

	orig := httptest.NewRequest("GET", "/", nil)
	orig.Header["X-A"] = []string{"1"}
	orig.Header["X-Multi"] = []string{"m1", "m2"}
	orig.Trailer = map[string][]string{"X-T": {"t"}}
	ex := &exchange{inst: &instance{}, orig: orig, r: orig}

	ex.removeHeader(mem, []uint64{kindRequest, absName, absLen})
	ex.setHeaderValue(mem, []uint64{kindRequest, aName, aLen, one, oneLen})
	if len(ex.undo) != 0 || ex.r != orig {
		t.Fatalf("changes that change nothing were recorded (%v) or copied the request", ex.undo)
	}
	ex.setHeaderValue(mem, []uint64{kindRequest, aName, aLen, two, twoLen})
	ex.addHeaderValue(mem, []uint64{kindRequest, aName, aLen, one, oneLen})
	ex.addHeaderValue(mem, []uint64{kindRequest, absName, absLen, one, oneLen})
	multi, multiLen := put(40, "X-Multi")
	ex.addHeaderValue(mem, []uint64{kindRequest, multi, multiLen, two, twoLen})
	if got := ex.r.Header["X-A"]; len(got) != 2 || got[0] != "2" || got[1] != "1" {
		t.Fatalf("X-A is %q after set 2, add 1", got)
	}
	if got := ex.r.Header.Get("X-Absent"); got != "1" {
		t.Fatalf("X-Absent is %q after add 1", got)
	}
	ex.removeHeader(mem, []uint64{kindRequest, aName, aLen})
	ex.undoHeaders()
	if got := orig.Header; len(got) != 2 || got.Get("X-A") != "1" || len(got["X-Multi"]) != 2 || got["X-Multi"][1] != "m2" {
		t.Fatalf("after undo the headers are %v; want X-A: 1 and X-Multi: m1, m2 only", got)
	}

	// Trailers are copied before they change.
	ex = &exchange{inst: &instance{}, orig: orig, r: orig, features: featureTrailers}
	ex.headerFor("set_header_value", kindRequestTrailers, new(string)).Set("X-T", "changed")
	if orig.Trailer.Get("X-T") != "t" {
		t.Fatal("a trailer change reached the original's trailers")
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
