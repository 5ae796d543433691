package wasmhost

import (
	"encoding/binary"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"
)

// fakeMemory is a guest's linear memory for calling host functions without
// a guest: just the bounds-checked reads and writes they use.
type fakeMemory struct {
	api.Memory // nil: the methods host functions do not use panic
	b          []byte
}

func (m *fakeMemory) Size() uint32 { return uint32(len(m.b)) }

func (m *fakeMemory) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m.b)) {
		return nil, false
	}
	return m.b[off : off+n : off+n], true
}

func (m *fakeMemory) Write(off uint32, v []byte) bool {
	if uint64(off)+uint64(len(v)) > uint64(len(m.b)) {
		return false
	}
	copy(m.b[off:], v)
	return true
}

func (m *fakeMemory) WriteString(off uint32, v string) bool { return m.Write(off, []byte(v)) }

// FuzzHostFuncs calls every host function with arbitrary arguments over an
// arbitrary memory, in every phase of a request, as a hostile guest can:
// a call either returns or aborts with an *abiError, and never panics with
// anything else (which would be a host bug, or in a host without wazero's
// recovery, a crash).
func FuzzHostFuncs(f *testing.F) {
	f.Add(uint8(9), uint8(0), []byte("\x00\x00\x00\x00\x08\x00\x00\x00\x10\x00\x00\x00\x08\x00\x00\x00\x04\x00\x00\x00X-Plugin\x00\x00\x00\x00\x00\x00\x00\x00value"))
	f.Add(uint8(14), uint8(1), []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x20\x00\x00\x00"))
	f.Add(uint8(0), uint8(2), []byte("\x01\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Add(uint8(22), uint8(0), []byte("\x00\x00\x00\x00\x0c\x00\x00\x00\x00\x00\x00\x00\xe8\x03\x00\x00\x03\x00\x00\x00ip:1"))
	h := newHost(f, RuntimeOptions{})
	p := &Plugin{rt: h.rt, name: "fuzz", logger: h.rt.logger, keys: &pluginKeys{byID: map[[32]byte]int32{}}}
	p.opts, _ = PluginOptions{Name: "fuzz", Wasm: []byte{0}, Config: []byte(`{"a":1}`), MaxBodyBytes: 64}.withDefaults()
	p.metrics = h.rt.metrics.forPlugin("fuzz")
	funcs := append(append([]hostFunc(nil), httpHandlerFuncs...), tremoloFuncs...)
	f.Fuzz(func(t *testing.T, fn, phase uint8, data []byte) {
		hf := funcs[int(fn)%len(funcs)]
		// The first 8 words of data are the stack, the rest is memory.
		stack := make([]uint64, 8)
		for i := range stack {
			if len(data) >= 4 {
				// An i32 slot's upper half is undefined: fill it with junk.
				stack[i] = uint64(binary.LittleEndian.Uint32(data)) | 0xdead<<48
				if hf.params != nil && i < len(hf.params) && hf.params[i] == api.ValueTypeI64 {
					stack[i] = uint64(binary.LittleEndian.Uint32(data))
				}
				data = data[4:]
			}
		}
		mem := &fakeMemory{b: append([]byte(nil), data...)}
		r := httptest.NewRequest("POST", "/p?q", strings.NewReader("request body"))
		r.Header.Set("X-Plugin", "v")
		w := httptest.NewRecorder()
		ex := &exchange{p: p, inst: &instance{}, orig: r, r: r, w: w}
		switch phase % 4 {
		case 0: // _initialize
			ex.orig, ex.r = nil, nil
		case 2: // handle_response, streamed and already sent
			ex.afterNext = true
			w.WriteHeader(200)
			ex.resp = &responseState{trk: &tracker{ResponseWriter: w, code: 200, wrote: true}}
		case 3: // handle_response, buffered
			ex.afterNext = true
			ex.features = allFeatures
			rec := &recorder{w: w, limit: 64, code: 200}
			rec.body.WriteString("response body")
			ex.resp = &responseState{rec: rec}
		}
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(*abiError); !ok {
					t.Fatalf("%s panicked with %T: %v", hf.name, v, v)
				}
			}
		}()
		hf.fn(ex, mem, stack)
	})
}

// FuzzWriteList checks the NUL-terminated list encoding writeList puts in
// guest memory against a decoder written from ABI.md, and that a list that
// does not fit leaves memory untouched.
func FuzzWriteList(f *testing.F) {
	f.Add("a\x00bb\x00", uint8(16))
	f.Add("a\x00bb\x00", uint8(2))
	f.Fuzz(func(t *testing.T, s string, limit uint8) {
		var vs []string
		for v := range strings.SplitSeq(s, "\x00") {
			if v != "" {
				vs = append(vs, v)
			}
		}
		mem := &fakeMemory{b: make([]byte, 8+int(limit))}
		ex := &exchange{inst: &instance{}}
		countLen := ex.writeList(mem, "list", 8, uint32(limit), vs)
		n := int(uint32(countLen))
		want := 0
		for _, v := range vs {
			want += len(v) + 1
		}
		if int(countLen>>32) != len(vs) || n != want {
			t.Fatalf("count/len %x for %q, want %d values in %d bytes", countLen, vs, len(vs), want)
		}
		if n > int(limit) {
			if strings.Trim(string(mem.b), "\x00") != "" {
				t.Fatalf("a list of %d bytes that does not fit %d was written: %q", n, limit, mem.b)
			}
			return
		}
		var got []string
		if n > 0 {
			got = strings.Split(strings.TrimSuffix(string(mem.b[8:8+n]), "\x00"), "\x00")
		}
		if strings.Join(got, "|") != strings.Join(vs, "|") || len(got) != len(vs) {
			t.Fatalf("decoded %q, want %q", got, vs)
		}
	})
}

// TestGetURIBuffer: get_uri returns the URI's length whatever the buffer,
// writes the path, '?' and query only when all fit, and aborts, writing
// nothing, on a buffer outside the guest's memory.
func TestGetURIBuffer(t *testing.T) {
	for _, tc := range []struct {
		target string
		limit  uint32
		want   string // "" when nothing may be written
	}{
		{"/p?q=1", 64, "/p?q=1"},
		{"/p?q=1", 6, "/p?q=1"},
		{"/p?q=1", 5, ""},
		{"/p?", 3, "/p?"},
		{"/p?", 2, ""},
		{"/a/b", 4, "/a/b"},
	} {
		mem := &fakeMemory{b: make([]byte, 8+64)}
		r := httptest.NewRequest("GET", "http://example.test"+tc.target, nil)
		ex := &exchange{inst: &instance{}, orig: r, r: r}
		stack := []uint64{8, uint64(tc.limit)}
		ex.getURI(mem, stack)
		if stack[0] != uint64(len(tc.target)) {
			t.Errorf("get_uri(%q, limit %d) = %d, want the length %d", tc.target, tc.limit, stack[0], len(tc.target))
		}
		got := strings.TrimRight(string(mem.b[8:]), "\x00")
		if got != tc.want || strings.Trim(string(mem.b[:8]), "\x00") != "" {
			t.Errorf("get_uri(%q, limit %d) wrote %q, want %q", tc.target, tc.limit, got, tc.want)
		}
	}
	r := httptest.NewRequest("GET", "/p?q=1", nil)
	ex := &exchange{inst: &instance{}, orig: r, r: r}
	defer func() {
		if _, ok := recover().(*abiError); !ok {
			t.Fatal("get_uri into a buffer past the end of memory did not abort with an ABI error")
		}
	}()
	short := &fakeMemory{b: make([]byte, 8)}
	defer func() {
		if string(short.b) != "\x00\x00\x00\x00\x00\x00\x00\x00" {
			t.Errorf("get_uri wrote %q before aborting", short.b)
		}
	}()
	ex.getURI(short, []uint64{4, 64})
}
