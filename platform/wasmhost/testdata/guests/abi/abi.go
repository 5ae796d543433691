// Package abi holds the http_handler imports the test guests use, and
// helpers over them. The guests are one module, stdlib only, so the host is
// tested against nothing but the ABI.
package abi

import (
	"runtime"
	"strings"
	"unsafe"
)

//go:wasmimport http_handler get_config
func GetConfig(buf, limit uint32) uint32

//go:wasmimport http_handler enable_features
func EnableFeatures(features uint32) uint32

//go:wasmimport http_handler log
func LogMessage(level int32, buf, bufLen uint32)

//go:wasmimport http_handler get_method
func GetMethod(buf, limit uint32) uint32

//go:wasmimport http_handler get_uri
func GetURI(buf, limit uint32) uint32

//go:wasmimport http_handler set_uri
func SetURI(buf, bufLen uint32)

//go:wasmimport http_handler get_protocol_version
func GetProtocolVersion(buf, limit uint32) uint32

//go:wasmimport http_handler get_source_addr
func GetSourceAddr(buf, limit uint32) uint32

//go:wasmimport http_handler get_header_names
func GetHeaderNames(kind, buf, limit uint32) uint64

//go:wasmimport http_handler get_header_values
func GetHeaderValues(kind, name, nameLen, buf, limit uint32) uint64

//go:wasmimport http_handler set_header_value
func SetHeaderValue(kind, name, nameLen, value, valueLen uint32)

//go:wasmimport http_handler remove_header
func RemoveHeader(kind, name, nameLen uint32)

//go:wasmimport http_handler read_body
func ReadBody(kind, buf, limit uint32) uint64

//go:wasmimport http_handler write_body
func WriteBody(kind, buf, bufLen uint32)

//go:wasmimport http_handler get_status_code
func GetStatusCode() uint32

//go:wasmimport http_handler set_status_code
func SetStatusCode(code uint32)

// Ptr is the address of b's first byte in linear memory (0 for an empty
// slice). Callers keep b alive across the import call.
func Ptr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

// GetString calls a (buf, limit) -> len import, growing the buffer once
// if the result does not fit.
func GetString(f func(buf, limit uint32) uint32) string {
	buf := make([]byte, 256)
	n := f(Ptr(buf), uint32(len(buf)))
	if n > uint32(len(buf)) {
		buf = make([]byte, n)
		n = f(Ptr(buf), n)
	}
	return string(buf[:n])
}

func Config() string { return GetString(GetConfig) }

// List decodes a NUL-terminated List result.
func List(f func(buf, limit uint32) uint64) []string {
	buf := make([]byte, 1024)
	countLen := f(Ptr(buf), uint32(len(buf)))
	if n := uint32(countLen); n > uint32(len(buf)) {
		buf = make([]byte, n)
		countLen = f(Ptr(buf), n)
	}
	s := string(buf[:uint32(countLen)])
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\x00"), "\x00")
}

func HeaderNames(kind uint32) []string {
	return List(func(buf, limit uint32) uint64 { return GetHeaderNames(kind, buf, limit) })
}

// Header returns the first value of a Header, "" if none.
func Header(kind uint32, name string) string {
	n := []byte(name)
	vs := List(func(buf, limit uint32) uint64 { return GetHeaderValues(kind, Ptr(n), uint32(len(n)), buf, limit) })
	runtime.KeepAlive(n)
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func SetHeader(kind uint32, name, value string) {
	n, v := []byte(name), []byte(value)
	SetHeaderValue(kind, Ptr(n), uint32(len(n)), Ptr(v), uint32(len(v)))
	runtime.KeepAlive(n)
	runtime.KeepAlive(v)
}

// DelHeader removes a header.
func DelHeader(kind uint32, name string) {
	n := []byte(name)
	RemoveHeader(kind, Ptr(n), uint32(len(n)))
	runtime.KeepAlive(n)
}

func Logf(level int32, msg string) {
	b := []byte(msg)
	LogMessage(level, Ptr(b), uint32(len(b)))
	runtime.KeepAlive(b)
}

// Body reads a whole Body.
func Body(kind uint32) string {
	var out []byte
	buf := make([]byte, 512)
	for {
		eofLen := ReadBody(kind, Ptr(buf), uint32(len(buf)))
		out = append(out, buf[:uint32(eofLen)]...)
		if eofLen>>32 == 1 {
			return string(out)
		}
	}
}

func Write(kind uint32, s string) {
	b := []byte(s)
	WriteBody(kind, Ptr(b), uint32(len(b)))
	runtime.KeepAlive(b)
}
