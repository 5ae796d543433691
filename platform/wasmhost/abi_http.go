package wasmhost

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// featureSet is the set of http_handler feature bits a guest enables with
// enable_features: what the host must do beyond streaming.
type featureSet uint32

const (
	// featureBufferRequest keeps the request body the guest reads, so the
	// next handler still receives all of it.
	featureBufferRequest featureSet = 1 << 0
	// featureBufferResponse captures the next handler's response so that
	// handle_response can read and change its status, headers and body.
	featureBufferResponse featureSet = 1 << 1
	// featureTrailers lets the guest read and write trailers (kinds 2, 3).
	featureTrailers featureSet = 1 << 2
	// featureSkipResponse is Tremolo's: the guest does not need
	// handle_response, so the host frees its instance before next instead of
	// holding it until next has answered. Other hosts ignore the bit.
	featureSkipResponse featureSet = 1 << 16

	allFeatures = featureBufferRequest | featureBufferResponse | featureTrailers | featureSkipResponse
)

// Header kinds and body kinds of the ABI.
const (
	kindRequest          = 0
	kindResponse         = 1
	kindRequestTrailers  = 2
	kindResponseTrailers = 3
)

// Bounds on what a guest may hand the host in one call. They keep a
// confused or hostile guest from making the host copy gigabytes; the
// request and response bodies are bounded by PluginOptions.MaxBodyBytes.
const (
	maxMethodLen      = 64
	maxURILen         = 16 << 10
	maxHeaderNameLen  = 1 << 10
	maxHeaderValueLen = 64 << 10
	maxLogLen         = 64 << 10
	maxLoggedLen      = 4 << 10 // of a log message, the part that is logged
	maxLogsPerCall    = 100
	maxHeaderBytes    = 1 << 20 // of all header names and values a guest sets in one request
)

// exchange is the state of one request as the guest sees it, reachable
// from the context of every host call the guest makes. A plugin that fails
// leaves nothing behind: a fail-open plugin is skipped cleanly, and a
// fail-closed one denies with the response untouched. Response changes are
// staged here and reach the writer only when the guest call succeeds.
// Request headers are changed in place, the values they had first kept in
// a journal that undo replays (see requestHeader): copying every header of
// every request for each plugin that sets one was most of what a plugin
// chain cost the host.
//
// During _initialize, orig is nil: only log, log_enabled, get_config and
// enable_features may be called then.
type exchange struct {
	p    *Plugin
	inst *instance

	orig *http.Request // as the plugin received it
	r    *http.Request // what the guest sees; orig until it changes something
	w    http.ResponseWriter

	features  featureSet
	afterNext bool
	deadline  time.Time      // of the current guest call
	resp      *responseState // after next: what next wrote

	// The request body: the bytes the guest has read from orig.Body (kept
	// to give them back to next) and what the guest wrote instead.
	bodyRead []byte
	bodyEOF  bool
	newBody  *bytes.Buffer

	// The staged response: headers (a copy of the writer's, made on first
	// use, trailers under http.TrailerPrefix), status (0: not set), body
	// the guest wrote (nil: none) and how far the guest has read a body.
	header    http.Header
	status    int
	body      *bytes.Buffer
	respRead  int
	headerSet bool // header was changed, not only read

	logs, logsDropped int
	headerBytes       int // set or added by the guest, bounded by maxHeaderBytes
	abiErr            *abiError

	// The journal of request header changes: what each header changed in
	// place held before (undoBuf spares an allocation for the few headers
	// a plugin sets). ownHeader means r.Header is this exchange's own map,
	// not orig's, and needs no journal; ownTrailer the same for trailers.
	undo       []headerUndo
	undoBuf    [4]headerUndo
	ownHeader  bool
	ownTrailer bool
}

// headerUndo is what one request header held before the guest first
// changed it.
type headerUndo struct {
	key    string // canonical
	values []string
	had    bool
}

// exchangeKey is the context key of the *exchange of a guest call.
type exchangeKey struct{}

// abiError is a guest's misuse of the ABI. A host function panics with it
// (wazero turns the panic into the guest call's error) after recording it
// in the exchange, where the host finds it whatever wazero wraps it in.
type abiError struct {
	kind FailureKind
	msg  string
}

func (e *abiError) Error() string { return e.msg }

// abort ends the guest call with an ABI error.
func (ex *exchange) abort(kind FailureKind, format string, args ...any) {
	err := &abiError{kind: kind, msg: fmt.Sprintf(format, args...)}
	if ex.abiErr == nil {
		ex.abiErr = err
	}
	panic(err)
}

// request returns the request, aborting during _initialize.
func (ex *exchange) request(fn string) *http.Request {
	if ex.orig == nil {
		ex.abort(KindABI, "%s called outside a request (during _initialize)", fn)
	}
	return ex.r
}

// mutable returns the request for changing its method, URI or host,
// copying it on the first change. The copy shares orig's header map, which
// requestHeader changes in place.
func (ex *exchange) mutable(fn string) *http.Request {
	if ex.request(fn); ex.afterNext {
		ex.abort(KindABI, "%s: the request cannot change after next", fn)
	}
	if ex.r == ex.orig {
		// A copy of what the ABI can change (method, URI, host), sharing
		// the rest: http.Request.Clone would copy it all.
		r := new(http.Request)
		*r = *ex.orig
		u := *ex.orig.URL
		r.URL = &u
		ex.r = r
	}
	return ex.r
}

// requestHeader returns the request's header map for changing key
// (canonical), after recording in the journal what key held, so that undo
// can put it back. Changing orig's map in place rather than a copy is what
// makes a header change cheap; the price is that every way out of the
// plugin's handler must call undo.
func (ex *exchange) requestHeader(fn, key string) http.Header {
	r := ex.mutableHeaders(fn)
	if ex.ownHeader {
		return r.Header
	}
	for _, u := range ex.undo {
		if u.key == key {
			return r.Header
		}
	}
	if ex.undo == nil {
		ex.undo = ex.undoBuf[:0]
	}
	vs, had := r.Header[key]
	ex.undo = append(ex.undo, headerUndo{key: key, values: vs, had: had})
	return r.Header
}

// mutableHeaders checks that the request can still change and gives a
// request without headers a map of its own.
func (ex *exchange) mutableHeaders(fn string) *http.Request {
	if ex.request(fn); ex.afterNext {
		ex.abort(KindABI, "%s: the request cannot change after next", fn)
	}
	if ex.r.Header == nil {
		ex.mutable(fn).Header = http.Header{}
		ex.ownHeader = true
	}
	return ex.r
}

// undoHeaders puts back the request headers the guest changed, newest
// change last undone first, and empties the journal.
func (ex *exchange) undoHeaders() {
	h := ex.orig.Header
	for i := len(ex.undo) - 1; i >= 0; i-- {
		u := ex.undo[i]
		if u.had {
			h[u.key] = u.values
		} else {
			delete(h, u.key)
		}
	}
	ex.undo = ex.undo[:0]
}

// read copies [ptr, ptr+n) out of guest memory, at most limit bytes.
func (ex *exchange) read(mem api.Memory, what string, ptr, n uint32, limit int) []byte {
	if int64(n) > int64(limit) {
		ex.abort(KindABI, "%s of %d bytes, more than the %d allowed", what, n, limit)
	}
	b, ok := mem.Read(ptr, n)
	if !ok {
		ex.abort(KindABI, "%s at [%d, %d) is outside the guest's memory of %d bytes", what, ptr, uint64(ptr)+uint64(n), mem.Size())
	}
	return bytes.Clone(b)
}

// readString is read for values kept as strings.
func (ex *exchange) readString(mem api.Memory, what string, ptr, n uint32, limit int) string {
	if int64(n) > int64(limit) {
		ex.abort(KindABI, "%s of %d bytes, more than the %d allowed", what, n, limit)
	}
	b, ok := mem.Read(ptr, n)
	if !ok {
		ex.abort(KindABI, "%s at [%d, %d) is outside the guest's memory of %d bytes", what, ptr, uint64(ptr)+uint64(n), mem.Size())
	}
	return string(b)
}

// write implements the ABI's "write if it fits": v is written at ptr if it
// fits limit, and its length is returned either way, so a guest can retry
// with a larger buffer.
func (ex *exchange) write(mem api.Memory, what string, ptr, limit uint32, v []byte) uint32 {
	if uint64(len(v)) > uint64(limit) || len(v) == 0 {
		return uint32(len(v))
	}
	if !mem.Write(ptr, v) {
		ex.abort(KindABI, "%s buffer at [%d, %d) is outside the guest's memory of %d bytes", what, ptr, uint64(ptr)+uint64(len(v)), mem.Size())
	}
	return uint32(len(v))
}

func (ex *exchange) writeString(mem api.Memory, what string, ptr, limit uint32, v string) uint32 {
	if uint64(len(v)) > uint64(limit) || len(v) == 0 {
		return uint32(len(v))
	}
	if !mem.WriteString(ptr, v) {
		ex.abort(KindABI, "%s buffer at [%d, %d) is outside the guest's memory of %d bytes", what, ptr, uint64(ptr)+uint64(len(v)), mem.Size())
	}
	return uint32(len(v))
}

// writeList writes strings the ABI's way, each NUL-terminated, straight
// into guest memory if they fit, and returns count<<32|len either way.
func (ex *exchange) writeList(mem api.Memory, what string, ptr, limit uint32, vs []string) uint64 {
	n := 0
	for _, v := range vs {
		n += len(v) + 1
	}
	countLen := uint64(len(vs))<<32 | uint64(uint32(n))
	if uint64(n) > uint64(limit) || n == 0 {
		return countLen
	}
	b, ok := mem.Read(ptr, uint32(n))
	if !ok {
		ex.abort(KindABI, "%s buffer at [%d, %d) is outside the guest's memory of %d bytes", what, ptr, uint64(ptr)+uint64(n), mem.Size())
	}
	for _, v := range vs {
		b[copy(b, v)] = 0
		b = b[len(v)+1:]
	}
	return countLen
}

// hostFunc is one import the host provides: its signature and its body,
// which reads its parameters from stack and leaves its result there.
type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      func(ex *exchange, mem api.Memory, stack []uint64)
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// httpHandlerFuncs are the http_handler imports of ABI.md.
var httpHandlerFuncs = []hostFunc{
	{"log", []api.ValueType{i32, i32, i32}, nil, (*exchange).log},
	{"log_enabled", []api.ValueType{i32}, []api.ValueType{i32}, (*exchange).logEnabled},
	{"get_config", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).getConfig},
	{"enable_features", []api.ValueType{i32}, []api.ValueType{i32}, (*exchange).enableFeatures},
	{"get_method", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).getMethod},
	{"set_method", []api.ValueType{i32, i32}, nil, (*exchange).setMethod},
	{"get_uri", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).getURI},
	{"set_uri", []api.ValueType{i32, i32}, nil, (*exchange).setURI},
	{"get_protocol_version", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).getProtocolVersion},
	{"get_header_names", []api.ValueType{i32, i32, i32}, []api.ValueType{i64}, (*exchange).getHeaderNames},
	{"get_header_values", []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i64}, (*exchange).getHeaderValues},
	{"set_header_value", []api.ValueType{i32, i32, i32, i32, i32}, nil, (*exchange).setHeaderValue},
	{"add_header_value", []api.ValueType{i32, i32, i32, i32, i32}, nil, (*exchange).addHeaderValue},
	{"remove_header", []api.ValueType{i32, i32, i32}, nil, (*exchange).removeHeader},
	{"read_body", []api.ValueType{i32, i32, i32}, []api.ValueType{i64}, (*exchange).readBody},
	{"write_body", []api.ValueType{i32, i32, i32}, nil, (*exchange).writeBody},
	{"get_status_code", nil, []api.ValueType{i32}, (*exchange).getStatusCode},
	{"set_status_code", []api.ValueType{i32}, nil, (*exchange).setStatusCode},
	{"get_source_addr", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).getSourceAddr},
}

// instantiateHostModule defines module name with funcs in r. Every host
// function finds its exchange in the call's context.
func instantiateHostModule(ctx context.Context, r wazero.Runtime, name string, funcs []hostFunc) error {
	b := r.NewHostModuleBuilder(name)
	for _, f := range funcs {
		fn := f.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				ex, ok := ctx.Value(exchangeKey{}).(*exchange)
				if !ok {
					panic(&abiError{kind: KindABI, msg: "host function called without an exchange"})
				}
				fn(ex, mod.Memory(), stack)
			}), f.params, f.results).
			Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate host module %s: %w", name, err)
	}
	return nil
}

// slogLevel maps an ABI log level to slog's; ok is false for "none".
func (ex *exchange) slogLevel(level uint64) (slog.Level, bool) {
	switch int32(uint32(level)) {
	case -1:
		return slog.LevelDebug, true
	case 0:
		return slog.LevelInfo, true
	case 1:
		return slog.LevelWarn, true
	case 2:
		return slog.LevelError, true
	case 3:
		return 0, false
	}
	ex.abort(KindABI, "log level %d (want -1 to 3)", int32(uint32(level)))
	return 0, false
}

func (ex *exchange) context() context.Context {
	if ex.orig != nil {
		return ex.orig.Context()
	}
	return context.Background()
}

// log: (level, buf, len). At most maxLogsPerCall messages per guest call
// are logged; the rest are counted, so a guest logging in a loop cannot
// flood the edge's log.
func (ex *exchange) log(mem api.Memory, stack []uint64) {
	level, ok := ex.slogLevel(stack[0])
	msg := ex.readString(mem, "log message", uint32(stack[1]), uint32(stack[2]), maxLogLen)
	if !ok || !ex.p.logger.Enabled(ex.context(), level) {
		return
	}
	if ex.logs++; ex.logs > maxLogsPerCall {
		ex.logsDropped++
		return
	}
	if len(msg) > maxLoggedLen {
		msg = msg[:maxLoggedLen] + "…"
	}
	ex.p.logger.Log(ex.context(), level, "wasm plugin: "+msg)
}

// log_enabled: (level) -> 1 if a message at level would be logged.
func (ex *exchange) logEnabled(_ api.Memory, stack []uint64) {
	level, ok := ex.slogLevel(stack[0])
	stack[0] = 0
	if ok && ex.p.logger.Enabled(ex.context(), level) {
		stack[0] = 1
	}
}

// get_config: (buf, limit) -> len.
func (ex *exchange) getConfig(mem api.Memory, stack []uint64) {
	stack[0] = uint64(ex.write(mem, "config", uint32(stack[0]), uint32(stack[1]), ex.p.opts.Config))
}

// enable_features: (features) -> the features now enabled. Unknown bits
// are ignored; buffering the response cannot start after next. Features
// enabled during _initialize apply to every request of the instance.
func (ex *exchange) enableFeatures(_ api.Memory, stack []uint64) {
	f := featureSet(uint32(stack[0])) & allFeatures
	if ex.orig == nil {
		ex.inst.features |= f
		stack[0] = uint64(ex.inst.features)
		return
	}
	if ex.afterNext {
		f &^= featureBufferResponse &^ ex.features
	}
	ex.features |= f
	stack[0] = uint64(ex.features)
}

// get_method: (buf, limit) -> len.
func (ex *exchange) getMethod(mem api.Memory, stack []uint64) {
	r := ex.request("get_method")
	stack[0] = uint64(ex.writeString(mem, "method", uint32(stack[0]), uint32(stack[1]), r.Method))
}

// set_method: (buf, len).
func (ex *exchange) setMethod(mem api.Memory, stack []uint64) {
	m := ex.readString(mem, "method", uint32(stack[0]), uint32(stack[1]), maxMethodLen)
	if !validToken(m) {
		ex.abort(KindABI, "set_method: %q is not an HTTP method", m)
	}
	ex.mutable("set_method").Method = m
}

// get_uri: (buf, limit) -> len; the path and query as the client sent
// them (escaped).
//
// The path and the query are written one after the other, not joined into
// a string first: every plugin that routes reads the URI on every request.
func (ex *exchange) getURI(mem api.Memory, stack []uint64) {
	r := ex.request("get_uri")
	path, query, hasQuery := requestURI(r.URL)
	n := len(path)
	if hasQuery {
		n += 1 + len(query)
	}
	ptr, limit := uint32(stack[0]), uint32(stack[1])
	stack[0] = uint64(n)
	if uint64(n) > uint64(limit) {
		return // the guest retries with a buffer of n bytes
	}
	b, ok := mem.Read(ptr, uint32(n)) // a view: writing to it writes the guest's memory
	if !ok {
		ex.abort(KindABI, "uri buffer at [%d, %d) is outside the guest's memory of %d bytes", ptr, uint64(ptr)+uint64(n), mem.Size())
	}
	if copy(b, path); hasQuery {
		b[len(path)] = '?'
		copy(b[len(path)+1:], query)
	}
}

// requestURI returns the parts of u's origin-form request target: the path
// (escaped) and, if there is a '?', the query after it.
func requestURI(u *url.URL) (path, query string, hasQuery bool) {
	path = u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return path, u.RawQuery, u.ForceQuery || u.RawQuery != ""
}

// set_uri: (buf, len); an origin-form URI: a path starting with "/" and an
// optional query.
func (ex *exchange) setURI(mem api.Memory, stack []uint64) {
	s := ex.readString(mem, "uri", uint32(stack[0]), uint32(stack[1]), maxURILen)
	if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, " \x00\r\n#") {
		ex.abort(KindABI, "set_uri: %q is not a path and query", s)
	}
	u, err := url.ParseRequestURI(s)
	if err != nil {
		ex.abort(KindABI, "set_uri: %v", err)
	}
	r := ex.mutable("set_uri")
	r.RequestURI = s
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.URL.ForceQuery = u.Path, u.RawPath, u.RawQuery, u.ForceQuery
}

// get_protocol_version: (buf, limit) -> len.
func (ex *exchange) getProtocolVersion(mem api.Memory, stack []uint64) {
	p := ex.request("get_protocol_version").Proto
	if p == "" {
		p = "HTTP/1.1"
	}
	stack[0] = uint64(ex.writeString(mem, "protocol version", uint32(stack[0]), uint32(stack[1]), p))
}

// get_source_addr: (buf, limit) -> len; r.RemoteAddr, ip:port.
func (ex *exchange) getSourceAddr(mem api.Memory, stack []uint64) {
	a := ex.request("get_source_addr").RemoteAddr
	stack[0] = uint64(ex.writeString(mem, "source address", uint32(stack[0]), uint32(stack[1]), a))
}

// headerKind checks a header kind, and that trailers were enabled.
func (ex *exchange) headerKind(fn string, arg uint64) int {
	ex.request(fn)
	kind := uint32(arg) // an i32: the upper half of the stack slot is not defined
	switch kind {
	case kindRequest, kindResponse:
	case kindRequestTrailers, kindResponseTrailers:
		if ex.features&featureTrailers == 0 {
			ex.abort(KindABI, "%s: trailers (kind %d) need feature %d enabled", fn, kind, featureTrailers)
		}
	default:
		ex.abort(KindABI, "%s: header kind %d (want 0 to 3)", fn, int32(kind))
	}
	return int(kind)
}

// responseHeader returns the response headers the guest sees: the staged
// copy, made on first use from what the writer (or next) holds.
func (ex *exchange) responseHeader() http.Header {
	if ex.header == nil {
		ex.header = ex.w.Header().Clone()
		if ex.header == nil {
			ex.header = http.Header{}
		}
	}
	return ex.header
}

// responseWritable aborts when a change to the response comes too late:
// after next sent it, unless the guest buffers the response. Trailers may
// be set until the end.
func (ex *exchange) responseWritable(fn string, trailer bool) {
	if ex.afterNext && !trailer && ex.resp.sent() {
		ex.abort(KindABI, "%s: the response was already sent (enable feature %d, buffer response, to change it in handle_response)", fn, featureBufferResponse)
	}
}

// headerNames lists the names of a kind, lower case and sorted; request
// headers include host.
func (ex *exchange) headerNames(kind int) []string {
	var names []string
	add := func(h http.Header, trailers bool) {
		for k := range h {
			t := strings.HasPrefix(k, http.TrailerPrefix)
			if t != trailers {
				continue
			}
			names = append(names, strings.ToLower(strings.TrimPrefix(k, http.TrailerPrefix)))
		}
	}
	switch kind {
	case kindRequest:
		if ex.r.Host != "" {
			names = append(names, "host")
		}
		add(ex.r.Header, false)
	case kindRequestTrailers:
		for k := range ex.r.Trailer {
			names = append(names, strings.ToLower(k))
		}
	case kindResponse:
		add(ex.responseHeader(), false)
	case kindResponseTrailers:
		add(ex.responseHeader(), true)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// headerValues returns the values of header key (canonical) of a kind.
func (ex *exchange) headerValues(kind int, key string) []string {
	switch kind {
	case kindRequest:
		if key == "Host" {
			if ex.r.Host == "" {
				return nil
			}
			return []string{ex.r.Host}
		}
		return ex.r.Header[key]
	case kindRequestTrailers:
		return ex.r.Trailer[key]
	case kindResponse:
		return ex.responseHeader()[key]
	default:
		return ex.responseHeader()[http.TrailerPrefix+key]
	}
}

// get_header_names: (kind, buf, limit) -> count<<32 | len.
func (ex *exchange) getHeaderNames(mem api.Memory, stack []uint64) {
	kind := ex.headerKind("get_header_names", stack[0])
	stack[0] = ex.writeList(mem, "header names", uint32(stack[1]), uint32(stack[2]), ex.headerNames(kind))
}

// headerName reads and checks a header name argument and returns its
// canonical form (canonicalKey checks it).
func (ex *exchange) headerName(mem api.Memory, fn string, ptr, n uint64) string {
	return ex.canonicalKey(fn, ex.view(mem, fn, "header name", ptr, n, maxHeaderNameLen))
}

// view returns [ptr, ptr+n) of guest memory as a string that aliases it,
// aborting when it is out of bounds or longer than limit. The guest cannot
// run, and so cannot change or grow its memory, until the host function
// returns: a view is valid until then and must not be kept past it. Views
// spare the host a copy of every name it only looks up.
func (ex *exchange) view(mem api.Memory, fn, what string, ptr, n uint64, limit int) string {
	if uint32(n) > uint32(limit) {
		ex.abort(KindABI, "%s: %s of %d bytes, more than the %d allowed", fn, what, uint32(n), limit)
	}
	b, ok := mem.Read(uint32(ptr), uint32(n))
	if !ok {
		ex.abort(KindABI, "%s: %s at [%d, %d) is outside the guest's memory of %d bytes", fn, what, uint32(ptr), uint64(uint32(ptr))+uint64(uint32(n)), mem.Size())
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// maxInstanceKeys bounds an instance's cache of header names, against a
// guest that makes up a new name on every call.
const maxInstanceKeys = 256

// canonicalKey returns the canonical form (textproto's) of a header name
// viewed in guest memory, as a string of the host's own, aborting if it is
// not a header name. A plugin uses the same few names on every request:
// the instance remembers them, so that neither the check, the copy nor the
// canonicalisation is paid again.
func (ex *exchange) canonicalKey(fn, view string) string {
	inst := ex.inst
	if k, ok := inst.keys[view]; ok {
		return k
	}
	if !validToken(view) {
		ex.abort(KindABI, "%s: %q is not a header name", fn, view)
	}
	k := textproto.CanonicalMIMEHeaderKey(view)
	if unsafe.StringData(k) == unsafe.StringData(view) {
		k = strings.Clone(k) // unchanged: still guest memory
	}
	if inst.keys == nil {
		inst.keys = make(map[string]string)
	}
	if len(inst.keys) < maxInstanceKeys {
		inst.keys[strings.Clone(view)] = k
	}
	return k
}

// get_header_values: (kind, name, name_len, buf, limit) -> count<<32 | len.
func (ex *exchange) getHeaderValues(mem api.Memory, stack []uint64) {
	kind := ex.headerKind("get_header_values", stack[0])
	key := ex.headerName(mem, "get_header_values", stack[1], stack[2])
	stack[0] = ex.writeList(mem, "header values", uint32(stack[3]), uint32(stack[4]), ex.headerValues(kind, key))
}

// set_header_value: (kind, name, name_len, value, value_len).
func (ex *exchange) setHeaderValue(mem api.Memory, stack []uint64) {
	ex.changeHeader(mem, "set_header_value", stack, false)
}

// add_header_value: (kind, name, name_len, value, value_len).
func (ex *exchange) addHeaderValue(mem api.Memory, stack []uint64) {
	ex.changeHeader(mem, "add_header_value", stack, true)
}

func (ex *exchange) changeHeader(mem api.Memory, fn string, stack []uint64, add bool) {
	kind := ex.headerKind(fn, stack[0])
	key := ex.headerName(mem, fn, stack[1], stack[2])
	value := ex.view(mem, fn, "header value", stack[3], stack[4], maxHeaderValueLen)
	if !validHeaderValue(value) {
		ex.abort(KindABI, "%s: the value of %s holds a control character", fn, key)
	}
	if ex.headerBytes += len(key) + len(value); ex.headerBytes > maxHeaderBytes {
		ex.abort(KindABI, "%s: the guest set more than %d bytes of headers in one request", fn, maxHeaderBytes)
	}
	if kind == kindRequest && !add && ex.orig != nil && !ex.afterNext {
		// Setting what is already there changes nothing (a colouring
		// plugin re-sets the request id): no copy of the value for it.
		if vs := ex.r.Header[key]; len(vs) == 1 && vs[0] == value {
			return
		}
	}
	value = strings.Clone(value) // kept: no longer a view
	if kind == kindRequest && key == "Host" {
		ex.mutable(fn).Host = value
		return
	}
	if kind == kindRequest {
		h := ex.requestHeader(fn, key)
		if add {
			// A copy, never an append into the array the journal holds.
			old := h[key]
			h[key] = append(old[:len(old):len(old)], value)
		} else {
			h[key] = []string{value}
		}
		return
	}
	h := ex.headerFor(fn, kind, &key)
	if add {
		h[key] = append(h[key], value)
	} else {
		h[key] = []string{value}
	}
}

// headerFor returns the header map a change of kind goes to, other than
// the request's headers (see requestHeader), making the key a trailer key
// for response trailers.
func (ex *exchange) headerFor(fn string, kind int, key *string) http.Header {
	if kind == kindRequestTrailers {
		r := ex.mutable(fn)
		if !ex.ownTrailer {
			r.Trailer = r.Trailer.Clone()
			ex.ownTrailer = true
		}
		if r.Trailer == nil {
			r.Trailer = http.Header{}
		}
		return r.Trailer
	}
	ex.responseWritable(fn, kind == kindResponseTrailers)
	if kind == kindResponseTrailers {
		*key = http.TrailerPrefix + *key
	}
	ex.headerSet = true
	return ex.responseHeader()
}

// remove_header: (kind, name, name_len).
func (ex *exchange) removeHeader(mem api.Memory, stack []uint64) {
	kind := ex.headerKind("remove_header", stack[0])
	key := ex.headerName(mem, "remove_header", stack[1], stack[2])
	if kind != kindRequest {
		delete(ex.headerFor("remove_header", kind, &key), key)
		return
	}
	if key == "Host" {
		ex.mutable("remove_header").Host = ""
		return
	}
	if ex.orig != nil && !ex.afterNext {
		// Removing what is not there changes nothing (plugins drop the
		// headers they set, which a client rarely sends).
		if _, ok := ex.r.Header[key]; !ok {
			return
		}
	}
	delete(ex.requestHeader("remove_header", key), key)
}

// read_body: (kind, buf, limit) -> eof<<32 | len.
//
// The request body is read from the client as the guest asks for it, and
// kept (up to MaxBodyBytes) so that next receives it whole when the guest
// buffers the request or when a fail-open plugin fails. The response body
// can be read after next only when the guest buffers the response; before
// next it is what the guest wrote.
func (ex *exchange) readBody(mem api.Memory, stack []uint64) {
	ex.request("read_body")
	kind, buf, limit := uint32(stack[0]), uint32(stack[1]), uint32(stack[2])
	if limit == 0 {
		ex.abort(KindABI, "read_body with a limit of 0")
	}
	switch kind {
	case kindRequest:
		stack[0] = ex.readRequestBody(mem, buf, limit)
	case kindResponse:
		var src []byte
		switch {
		case !ex.afterNext:
			if ex.body != nil {
				src = ex.body.Bytes()
			}
		case ex.resp.buffered():
			src = ex.resp.rec.body.Bytes()
		default:
			ex.abort(KindABI, "read_body: reading the response after next needs feature %d (buffer response)", featureBufferResponse)
		}
		src = src[min(ex.respRead, len(src)):]
		n := min(len(src), int(limit))
		if n > 0 && !mem.Write(buf, src[:n]) {
			ex.abort(KindABI, "read_body buffer at [%d, %d) is outside the guest's memory of %d bytes", buf, uint64(buf)+uint64(n), mem.Size())
		}
		ex.respRead += n
		var eof uint64
		if n == len(src) {
			eof = 1 << 32
		}
		stack[0] = eof | uint64(n)
	default:
		ex.abort(KindABI, "read_body: body kind %d (want 0 or 1)", int32(kind))
	}
}

func (ex *exchange) readRequestBody(mem api.Memory, buf, limit uint32) uint64 {
	if ex.afterNext {
		ex.abort(KindABI, "read_body: the request body was passed on to next")
	}
	if _, ok := mem.Read(buf, limit); !ok {
		ex.abort(KindABI, "read_body buffer at [%d, %d) is outside the guest's memory of %d bytes", buf, uint64(buf)+uint64(limit), mem.Size())
	}
	if ex.bodyEOF || ex.orig.Body == nil || ex.orig.Body == http.NoBody {
		ex.bodyEOF = true
		return 1 << 32
	}
	maxBody := ex.p.opts.MaxBodyBytes
	room := maxBody - len(ex.bodyRead)
	want := int(limit)
	if want > room+1 {
		want = room + 1 // one more byte tells "over the bound" from "exactly at it"
	}
	start := len(ex.bodyRead)
	ex.bodyRead = slices.Grow(ex.bodyRead, want)
	var err error
	n := 0
	for n < want && err == nil {
		var m int
		m, err = ex.orig.Body.Read(ex.bodyRead[start+n : start+want])
		n += m
	}
	ex.bodyRead = ex.bodyRead[:start+n]
	if len(ex.bodyRead) > maxBody {
		ex.abort(KindBody, "the request body is larger than MaxBodyBytes (%d)", maxBody)
	}
	if err != nil && err != io.EOF {
		ex.abort(KindBody, "reading the request body: %v", err)
	}
	mem.Write(buf, ex.bodyRead[start:]) // in range: checked above
	var eof uint64
	if err == io.EOF {
		ex.bodyEOF = true
		eof = 1 << 32
	}
	return eof | uint64(n)
}

// write_body: (kind, buf, len). The first write of a call replaces the
// body, the following ones append to it.
func (ex *exchange) writeBody(mem api.Memory, stack []uint64) {
	ex.request("write_body")
	kind := uint32(stack[0])
	var dst **bytes.Buffer
	switch kind {
	case kindRequest:
		ex.mutable("write_body")
		dst = &ex.newBody
	case kindResponse:
		ex.responseWritable("write_body", false)
		dst = &ex.body
	default:
		ex.abort(KindABI, "write_body: body kind %d (want 0 or 1)", int32(kind))
	}
	if *dst == nil {
		*dst = new(bytes.Buffer)
	}
	n := uint32(stack[2])
	if int64((*dst).Len())+int64(n) > int64(ex.p.opts.MaxBodyBytes) {
		ex.abort(KindBody, "write_body: the body would be larger than MaxBodyBytes (%d)", ex.p.opts.MaxBodyBytes)
	}
	b, ok := mem.Read(uint32(stack[1]), n)
	if !ok {
		ex.abort(KindABI, "write_body buffer at [%d, %d) is outside the guest's memory of %d bytes", uint32(stack[1]), uint64(uint32(stack[1]))+uint64(n), mem.Size())
	}
	(*dst).Write(b)
}

// get_status_code: () -> the response status: what the guest set, else
// what next wrote, else 200.
func (ex *exchange) getStatusCode(_ api.Memory, stack []uint64) {
	ex.request("get_status_code")
	s := ex.status
	if s == 0 && ex.afterNext {
		s = ex.resp.status()
	}
	if s == 0 {
		s = http.StatusOK
	}
	stack[0] = uint64(s)
}

// set_status_code: (code); 100 to 999.
func (ex *exchange) setStatusCode(_ api.Memory, stack []uint64) {
	ex.request("set_status_code")
	code := int32(uint32(stack[0]))
	if code < 100 || code > 999 {
		ex.abort(KindABI, "set_status_code: %d is not an HTTP status", code)
	}
	ex.responseWritable("set_status_code", false)
	ex.status = int(code)
}

// validToken reports whether s is an RFC 9110 token: a method or a header
// name.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v has no control characters but tab,
// so a guest cannot split a header or smuggle a line.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
