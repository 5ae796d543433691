// Command tremolo is a test guest of the tremolo host module. Its config is
// an HS256 secret. It checks the request's X-Sig (hex HMAC-SHA256 of X-Msg)
// with key_register and signature_verify, answering 401 when it is wrong;
// takes a token from a per-client bucket (1/s, burst 3), answering 429 with
// Retry-After when empty; counts requests with counter_add; and passes the
// request on with X-Remaining. X-Key-Alg: N registers the config with
// algorithm N instead and answers with the result.
package main

import (
	"wasmhost.test/guests/abi"

	"encoding/hex"
	"runtime"
	"strconv"
	"strings"
)

func main() {}

//go:wasmimport tremolo key_register
func keyRegister(alg, key, keyLen uint32) int32

//go:wasmimport tremolo signature_verify
func signatureVerify(handle int32, msg, msgLen, sig, sigLen uint32) int32

//go:wasmimport tremolo bucket_take
func bucketTake(key, keyLen uint32, rateMilli int64, burst, cost uint32) int64

//go:wasmimport tremolo counter_add
func counterAdd(name, nameLen uint32, delta int64)

var handle int32

func answer(status uint32, msg string) uint64 {
	abi.SetStatusCode(status)
	abi.Write(1, msg)
	return 0
}

//go:wasmexport handle_request
func handleRequest() uint64 {
	key := []byte(abi.Config())
	if alg := abi.Header(0, "X-Key-Alg"); alg != "" {
		n, _ := strconv.Atoi(alg)
		h := keyRegister(uint32(n), abi.Ptr(key), uint32(len(key)))
		runtime.KeepAlive(key)
		return answer(200, strconv.Itoa(int(h)))
	}
	if handle == 0 {
		handle = keyRegister(1, abi.Ptr(key), uint32(len(key)))
		runtime.KeepAlive(key)
	}
	msg := []byte(abi.Header(0, "X-Msg"))
	sig, err := hex.DecodeString(abi.Header(0, "X-Sig"))
	if err != nil || len(sig) == 0 {
		sig = []byte{0}
	}
	ok := signatureVerify(handle, abi.Ptr(msg), uint32(len(msg)), abi.Ptr(sig), uint32(len(sig)))
	runtime.KeepAlive(msg)
	runtime.KeepAlive(sig)
	if ok != 1 {
		return answer(401, "bad signature "+strconv.Itoa(int(ok)))
	}
	addr := abi.GetString(abi.GetSourceAddr)
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		addr = addr[:i]
	}
	bkey := []byte("ip:" + addr)
	left := bucketTake(abi.Ptr(bkey), uint32(len(bkey)), 1000, 3, 1)
	runtime.KeepAlive(bkey)
	if left < 0 {
		abi.SetHeader(1, "Retry-After", strconv.FormatInt((-left+999)/1000, 10))
		return answer(429, "too many requests")
	}
	name := []byte("Requests Seen!")
	counterAdd(abi.Ptr(name), uint32(len(name)), 1)
	runtime.KeepAlive(name)
	abi.SetHeader(0, "X-Remaining", strconv.FormatInt(left, 10))
	return 1
}
