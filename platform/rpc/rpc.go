// Package rpc describes RPC methods as their .proto options declare them:
// deadline, who may call, idempotency, rate class. protoc-gen-go-fx writes a
// []Method per service from tremolo.options.v1.MethodRules; the server reads
// it to apply deadlines, the clients to decide what may be retried, the edge
// to decide what needs a token.
package rpc

import (
	"fmt"
	"strings"
	"time"
)

// Auth says who may call a method.
type Auth int

const (
	// AuthUser requires a valid user token. It is the default.
	AuthUser Auth = iota
	// AuthPublic accepts anyone; a token, when present, is still verified.
	AuthPublic
	// AuthInternal is for other services only; the edge never routes to it.
	AuthInternal
)

// String returns "user", "public" or "internal".
func (a Auth) String() string {
	switch a {
	case AuthUser:
		return "user"
	case AuthPublic:
		return "public"
	case AuthInternal:
		return "internal"
	}
	return fmt.Sprintf("Auth(%d)", int(a))
}

// Type is the streaming shape of a method, named as go-grpc-middleware's
// grpc_type label names it.
type Type string

const (
	Unary        Type = "unary"
	ClientStream Type = "client_stream"
	ServerStream Type = "server_stream"
	BidiStream   Type = "bidi_stream"
)

// DefaultTimeout is the deadline of methods whose options set none.
const DefaultTimeout = 5 * time.Second

// DefaultMaxAttempts is how many times clients try an idempotent method
// whose options do not say.
const DefaultMaxAttempts = 3

// Attempts returns how many times a client may try m in all: 1 for a
// method that is not idempotent.
func (m Method) Attempts() int {
	switch {
	case !m.Idempotent:
		return 1
	case m.MaxAttempts <= 0:
		return DefaultMaxAttempts
	}
	return m.MaxAttempts
}

// Method is what the platform knows about one RPC.
type Method struct {
	// FullMethod is the gRPC method name, "/douyin.user.v1.UserService/GetUser".
	FullMethod string
	// Type is the method's streaming shape.
	Type Type
	// Timeout is the server-side deadline (never zero in generated tables).
	Timeout time.Duration
	// Auth says who may call.
	Auth Auth
	// Idempotent methods may be retried.
	Idempotent bool
	// MaxAttempts is how many times a client tries an idempotent method
	// in all, the first call included: 0 means DefaultMaxAttempts, 1 no
	// retries. Ignored for methods that are not idempotent.
	MaxAttempts int
	// Degradable methods answer their callers with an empty response
	// instead of an error when the callee is unavailable or its circuit
	// breaker is open: reads whose absence a caller can show, such as the
	// viewer's favorite flags on a feed page.
	Degradable bool
	// RateClass names the edge's rate-limit class ("" means default).
	RateClass string
	// Buckets are the latency histogram's upper bounds in seconds.
	Buckets []float64
}

// Service returns the fully-qualified service name ("douyin.user.v1.UserService").
func (m Method) Service() string {
	s, _, _ := strings.Cut(strings.TrimPrefix(m.FullMethod, "/"), "/")
	return s
}

// Name returns the method's short name ("GetUser").
func (m Method) Name() string {
	_, n, _ := strings.Cut(strings.TrimPrefix(m.FullMethod, "/"), "/")
	return n
}

// Table indexes methods by full method name.
type Table map[string]Method

// NewTable builds a table; a method listed twice is an error.
func NewTable(methods ...[]Method) (Table, error) {
	t := Table{}
	for _, ms := range methods {
		for _, m := range ms {
			if _, dup := t[m.FullMethod]; dup {
				return nil, fmt.Errorf("rpc: method %s is described twice", m.FullMethod)
			}
			t[m.FullMethod] = m
		}
	}
	return t, nil
}
