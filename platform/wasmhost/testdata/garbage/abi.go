package main

// The http_handler imports the test guests use, and helpers over them.
// Every guest directory has a copy of this file: each guest is its own
// module, stdlib only, so the host is tested against nothing but the ABI.

import (
	"runtime"
	"strings"
	"unsafe"
)

//go:wasmimport http_handler get_config
func getConfig(buf, limit uint32) uint32

//go:wasmimport http_handler enable_features
func enableFeatures(features uint32) uint32

//go:wasmimport http_handler log
func logMessage(level int32, buf, bufLen uint32)

//go:wasmimport http_handler get_method
func getMethod(buf, limit uint32) uint32

//go:wasmimport http_handler get_uri
func getURI(buf, limit uint32) uint32

//go:wasmimport http_handler set_uri
func setURI(buf, bufLen uint32)

//go:wasmimport http_handler get_protocol_version
func getProtocolVersion(buf, limit uint32) uint32

//go:wasmimport http_handler get_source_addr
func getSourceAddr(buf, limit uint32) uint32

//go:wasmimport http_handler get_header_names
func getHeaderNames(kind, buf, limit uint32) uint64

//go:wasmimport http_handler get_header_values
func getHeaderValues(kind, name, nameLen, buf, limit uint32) uint64

//go:wasmimport http_handler set_header_value
func setHeaderValue(kind, name, nameLen, value, valueLen uint32)

//go:wasmimport http_handler remove_header
func removeHeader(kind, name, nameLen uint32)

//go:wasmimport http_handler read_body
func readBody(kind, buf, limit uint32) uint64

//go:wasmimport http_handler write_body
func writeBody(kind, buf, bufLen uint32)

//go:wasmimport http_handler get_status_code
func getStatusCode() uint32

//go:wasmimport http_handler set_status_code
func setStatusCode(code uint32)

// ptr is the address of b's first byte in linear memory (0 for an empty
// slice). Callers keep b alive across the import call.
func ptr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

// getString calls a (buf, limit) -> len import, growing the buffer once
// if the result does not fit.
func getString(f func(buf, limit uint32) uint32) string {
	buf := make([]byte, 256)
	n := f(ptr(buf), uint32(len(buf)))
	if n > uint32(len(buf)) {
		buf = make([]byte, n)
		n = f(ptr(buf), n)
	}
	return string(buf[:n])
}

func config() string { return getString(getConfig) }

// list decodes a NUL-terminated list result.
func list(f func(buf, limit uint32) uint64) []string {
	buf := make([]byte, 1024)
	countLen := f(ptr(buf), uint32(len(buf)))
	if n := uint32(countLen); n > uint32(len(buf)) {
		buf = make([]byte, n)
		countLen = f(ptr(buf), n)
	}
	s := string(buf[:uint32(countLen)])
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\x00"), "\x00")
}

func headerNames(kind uint32) []string {
	return list(func(buf, limit uint32) uint64 { return getHeaderNames(kind, buf, limit) })
}

// header returns the first value of a header, "" if none.
func header(kind uint32, name string) string {
	n := []byte(name)
	vs := list(func(buf, limit uint32) uint64 { return getHeaderValues(kind, ptr(n), uint32(len(n)), buf, limit) })
	runtime.KeepAlive(n)
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func setHeader(kind uint32, name, value string) {
	n, v := []byte(name), []byte(value)
	setHeaderValue(kind, ptr(n), uint32(len(n)), ptr(v), uint32(len(v)))
	runtime.KeepAlive(n)
	runtime.KeepAlive(v)
}

func logf(level int32, msg string) {
	b := []byte(msg)
	logMessage(level, ptr(b), uint32(len(b)))
	runtime.KeepAlive(b)
}

// body reads a whole body.
func body(kind uint32) string {
	var out []byte
	buf := make([]byte, 512)
	for {
		eofLen := readBody(kind, ptr(buf), uint32(len(buf)))
		out = append(out, buf[:uint32(eofLen)]...)
		if eofLen>>32 == 1 {
			return string(out)
		}
	}
}

func write(kind uint32, s string) {
	b := []byte(s)
	writeBody(kind, ptr(b), uint32(len(b)))
	runtime.KeepAlive(b)
}
