package options

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// DefaultTimeout mirrors platform/rpc.DefaultTimeout; Method.Timeout is zero
// when it applies, and generated code then writes rpc.DefaultTimeout.
const DefaultTimeout = 5 * time.Second

// Auth is who may call a method, resolved (never unspecified).
type Auth int

// The values of Auth, named as platform/rpc names them.
const (
	AuthUser Auth = iota
	AuthPublic
	AuthInternal
)

// GoName returns the platform/rpc constant of a: "AuthUser", ...
func (a Auth) GoName() string {
	switch a {
	case AuthPublic:
		return "AuthPublic"
	case AuthInternal:
		return "AuthInternal"
	}
	return "AuthUser"
}

// Type is a method's streaming shape.
type Type int

// The values of Type.
const (
	Unary Type = iota
	ClientStream
	ServerStream
	BidiStream
)

// GoName returns the platform/rpc constant of t: "Unary", ...
func (t Type) GoName() string {
	return [...]string{"Unary", "ClientStream", "ServerStream", "BidiStream"}[t]
}

// Service is a service with its options read, validated and resolved.
type Service struct {
	Proto *protogen.Service
	File  *protogen.File
	// Name is the short name: ServiceRules.name, or the proto package's
	// second-to-last element.
	Name    string
	Methods []*Method
}

// FullName returns the service's full proto name.
func (s *Service) FullName() string { return string(s.Proto.Desc.FullName()) }

// HasHTTP reports whether any method has a google.api.http binding, that is
// whether protoc-gen-grpc-gateway generates Register<Service>Handler.
func (s *Service) HasHTTP() bool {
	for _, m := range s.Methods {
		if m.HTTP {
			return true
		}
	}
	return false
}

// Method is a method with its options resolved against its service's.
type Method struct {
	Proto *protogen.Method
	// FullMethod is the gRPC method name, "/pkg.Service/Method".
	FullMethod string
	Type       Type
	// Timeout is the method's deadline; zero means rpc.DefaultTimeout.
	Timeout    time.Duration
	Auth       Auth
	Idempotent bool
	// MaxAttempts is max_attempts: 0 means the platform default.
	MaxAttempts int
	// Degradable is degradable.
	Degradable bool
	RateClass  string
	// Buckets are the latency buckets; nil means the platform's default.
	Buckets []float64
	// HTTP is true when the method has a google.api.http binding.
	HTTP bool
}

// maxAttempts bounds max_attempts.
const maxAttempts = 10

var (
	serviceNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	rateClassRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// Auth values of tremolo.options.v1.Auth.
const (
	protoAuthUnspecified = 0
	protoAuthPublic      = 1
	protoAuthUser        = 2
	protoAuthInternal    = 3
)

// Services returns f's services with their options resolved: timeout
// method -> service -> rpc.DefaultTimeout, auth method -> service ->
// AUTH_USER, buckets method -> service -> platform default. Every problem
// found is returned, joined.
func (r *Reader) Services(f *protogen.File) ([]*Service, error) {
	var probs Problems
	var out []*Service
	for _, s := range f.Services {
		svc, err := r.service(f, s)
		if err != nil {
			probs.Add(err)
			continue
		}
		out = append(out, svc)
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Reader) service(f *protogen.File, s *protogen.Service) (*Service, error) {
	var probs Problems
	el := Element{File: f.Desc.Path(), Kind: KindService, Name: string(s.Desc.FullName())}
	opt, err := r.ext(s.Desc.Options(), ExtService)
	if err != nil {
		return nil, el.Errorf(ExtService, "", err.Error())
	}
	rules := &msg{m: opt}
	svc := &Service{Proto: s, File: f, Name: rules.str("name")}

	// Short name.
	if svc.Name != "" {
		if !serviceNameRE.MatchString(svc.Name) {
			probs.Add(el.Errorf(ExtService, "name", fmt.Sprintf("%q does not match [a-z][a-z0-9-]*", svc.Name)))
		}
	} else {
		pkg := string(f.Desc.Package())
		parts := strings.Split(pkg, ".")
		switch {
		case len(parts) < 2:
			probs.Add(el.Errorf(ExtService, "name", fmt.Sprintf("not set, and package %q has no second-to-last element to derive it from; set it", pkg)))
		case !serviceNameRE.MatchString(parts[len(parts)-2]):
			probs.Add(el.Errorf(ExtService, "name", fmt.Sprintf("not set, and %q, derived from package %q, does not match [a-z][a-z0-9-]*; set it", parts[len(parts)-2], pkg)))
		default:
			svc.Name = parts[len(parts)-2]
		}
	}

	// Service-wide defaults.
	defTimeout := time.Duration(0)
	if rules.has("default_timeout") {
		d, problem := duration(rules.message("default_timeout"))
		switch {
		case problem != "":
			probs.Add(el.Errorf(ExtService, "default_timeout", problem))
		case d < 0:
			probs.Add(el.Errorf(ExtService, "default_timeout", fmt.Sprintf("must not be negative, got %v", d)))
		default:
			defTimeout = d // zero means the platform default
		}
	}
	defAuth := AuthUser
	if a, ok := auth(rules.enum("default_auth")); ok {
		if a != nil {
			defAuth = *a
		}
	} else {
		probs.Add(el.Errorf(ExtService, "default_auth", fmt.Sprintf("%d is not a tremolo.options.v1.Auth", rules.enum("default_auth"))))
	}
	defBuckets := rules.doubles("default_latency_buckets")
	if problem := checkBuckets(defBuckets); problem != "" {
		probs.Add(el.Errorf(ExtService, "default_latency_buckets", problem))
	}
	if err := firstErr(rules); err != nil {
		return nil, el.Errorf(ExtService, "", err.Error())
	}

	for _, m := range s.Methods {
		meth, err := r.method(f, svc, m, defTimeout, defAuth, defBuckets)
		if err != nil {
			probs.Add(err)
			continue
		}
		svc.Methods = append(svc.Methods, meth)
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return svc, nil
}

func (r *Reader) method(f *protogen.File, svc *Service, m *protogen.Method, defTimeout time.Duration, defAuth Auth, defBuckets []float64) (*Method, error) {
	var probs Problems
	el := Element{File: f.Desc.Path(), Kind: KindMethod, Name: string(m.Desc.FullName())}
	opt, err := r.ext(m.Desc.Options(), ExtMethod)
	if err != nil {
		return nil, el.Errorf(ExtMethod, "", err.Error())
	}
	rules := &msg{m: opt}
	meth := &Method{
		Proto:       m,
		FullMethod:  fmt.Sprintf("/%s/%s", svc.Proto.Desc.FullName(), m.Desc.Name()),
		Timeout:     defTimeout,
		Auth:        defAuth,
		Idempotent:  rules.boolean("idempotent"),
		MaxAttempts: int(rules.uint32("max_attempts")),
		Degradable:  rules.boolean("degradable"),
		RateClass:   rules.str("rate_class"),
		Buckets:     defBuckets,
	}
	switch {
	case m.Desc.IsStreamingClient() && m.Desc.IsStreamingServer():
		meth.Type = BidiStream
	case m.Desc.IsStreamingClient():
		meth.Type = ClientStream
	case m.Desc.IsStreamingServer():
		meth.Type = ServerStream
	}
	if rules.has("timeout") {
		d, problem := duration(rules.message("timeout"))
		switch {
		case problem != "":
			probs.Add(el.Errorf(ExtMethod, "timeout", problem))
		case d <= 0:
			probs.Add(el.Errorf(ExtMethod, "timeout", fmt.Sprintf("must be positive, got %v", d)))
		default:
			meth.Timeout = d
		}
	}
	if a, ok := auth(rules.enum("auth")); ok {
		if a != nil {
			meth.Auth = *a
		}
	} else {
		probs.Add(el.Errorf(ExtMethod, "auth", fmt.Sprintf("%d is not a tremolo.options.v1.Auth", rules.enum("auth"))))
	}
	switch {
	case meth.MaxAttempts > maxAttempts:
		probs.Add(el.Errorf(ExtMethod, "max_attempts", fmt.Sprintf("%d is more than %d: a retry storm, not resilience", meth.MaxAttempts, maxAttempts)))
	case meth.MaxAttempts > 0 && !meth.Idempotent:
		probs.Add(el.Errorf(ExtMethod, "max_attempts", "only idempotent methods are retried: set idempotent: true, or drop max_attempts"))
	}
	if meth.Degradable && meth.Type != Unary {
		probs.Add(el.Errorf(ExtMethod, "degradable", fmt.Sprintf("only unary methods can degrade to an empty response; this one is %s", meth.Type.GoName())))
	}
	if meth.RateClass != "" && !rateClassRE.MatchString(meth.RateClass) {
		probs.Add(el.Errorf(ExtMethod, "rate_class", fmt.Sprintf("%q does not match [a-z][a-z0-9_]* (empty means the default class)", meth.RateClass)))
	}
	if b := rules.doubles("latency_buckets"); len(b) > 0 {
		if problem := checkBuckets(b); problem != "" {
			probs.Add(el.Errorf(ExtMethod, "latency_buckets", problem))
		}
		meth.Buckets = b
	}
	if err := firstErr(rules); err != nil {
		return nil, el.Errorf(ExtMethod, "", err.Error())
	}
	http, err := r.HasHTTP(m)
	if err != nil {
		probs.Add(&Error{File: el.File, Kind: el.Kind, Name: el.Name, Problem: "option (google.api.http): " + err.Error()})
	}
	meth.HTTP = http
	if http && meth.Auth == AuthInternal {
		// A REST binding would serve an internal method to anyone who can
		// reach the HTTP port, outside the edge's checks.
		probs.Add(&Error{File: el.File, Kind: el.Kind, Name: el.Name,
			Problem: "option (google.api.http): an AUTH_INTERNAL method must not have an HTTP binding (only other services may call it)"})
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return meth, nil
}

// auth maps a tremolo.options.v1.Auth number to Auth: nil for
// AUTH_UNSPECIFIED (inherit), ok false for a number the enum does not have.
func auth(n protoreflect.EnumNumber) (a *Auth, ok bool) {
	var v Auth
	switch n {
	case protoAuthUnspecified:
		return nil, true
	case protoAuthPublic:
		v = AuthPublic
	case protoAuthUser:
		v = AuthUser
	case protoAuthInternal:
		v = AuthInternal
	default:
		return nil, false
	}
	return &v, true
}

// maxDurationSeconds is the largest whole number of seconds a time.Duration
// holds.
const maxDurationSeconds = math.MaxInt64 / int64(time.Second)

// duration converts a google.protobuf.Duration, or describes why it is not
// valid (the rules of duration.proto, and time.Duration's range).
func duration(d *msg) (time.Duration, string) {
	if d.m == nil {
		return 0, ""
	}
	fs := d.m.Descriptor().Fields()
	sf, nf := fs.ByName("seconds"), fs.ByName("nanos")
	if sf == nil || nf == nil {
		return 0, "is not a google.protobuf.Duration"
	}
	secs, nanos := d.m.Get(sf).Int(), d.m.Get(nf).Int()
	switch {
	case nanos <= -1e9 || nanos >= 1e9:
		return 0, fmt.Sprintf("nanos %d is outside -999999999..999999999", nanos)
	case (secs > 0 && nanos < 0) || (secs < 0 && nanos > 0):
		return 0, fmt.Sprintf("seconds %d and nanos %d have different signs", secs, nanos)
	case secs > maxDurationSeconds || secs < -maxDurationSeconds:
		return 0, fmt.Sprintf("%ds is too long for a time.Duration", secs)
	}
	return time.Duration(secs)*time.Second + time.Duration(nanos), ""
}

// checkBuckets describes what is wrong with histogram buckets, or returns "".
func checkBuckets(b []float64) string {
	for i, v := range b {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return fmt.Sprintf("bucket %d (%v) is not finite", i, v)
		case v <= 0:
			return fmt.Sprintf("bucket %d (%v) is not positive", i, v)
		case i > 0 && v <= b[i-1]:
			return fmt.Sprintf("bucket %d (%v) is not greater than bucket %d (%v): buckets must be strictly increasing", i, v, i-1, b[i-1])
		}
	}
	return ""
}
