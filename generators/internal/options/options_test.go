package options_test

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/tremolo-dev/tremolo/generators/internal/options"
	"github.com/tremolo-dev/tremolo/generators/internal/plugintest"
)

const src = `syntax = "proto3";
package example.user.v1;
import "google/api/annotations.proto";
import "tremolo/options/v1/options.proto";
option go_package = "example.com/user/v1;userv1";
message M {}
service UserService {
  option (tremolo.options.v1.service) = {default_timeout: {seconds: 2} default_auth: AUTH_PUBLIC default_latency_buckets: [0.1, 1]};
  rpc Get(M) returns (M) {
    option (google.api.http) = {get: "/v1/m"};
    option (tremolo.options.v1.method) = {timeout: {nanos: 250000000} auth: AUTH_USER idempotent: true rate_class: "read" latency_buckets: [1, 2]};
  }
  rpc Put(M) returns (stream M);
}
enum UserError {
  option (tremolo.options.v1.errors) = {domain: "user.example.com"};
  USER_ERROR_UNSPECIFIED = 0;
  USER_ERROR_GONE = 1 [(tremolo.options.v1.error) = {
    code: INTERNAL business_code: 10001 retryable: true message: "gone"
    localized: [{locale: "zh-CN" message: "没了"}]
  }];
}
`

// summary is what the reader resolved, without the protogen pointers.
type summary struct {
	Name    string
	Methods []methodSummary
	Errors  []errorSummary
}

type methodSummary struct {
	FullMethod string
	Type       options.Type
	Timeout    time.Duration
	Auth       options.Auth
	Idempotent bool
	RateClass  string
	Buckets    []float64
	HTTP       bool
}

type errorSummary struct {
	Domain, Reason string
	Code           string
	HTTPStatus     int
	BusinessCode   int32
	Retryable      bool
	LogLevel       string
	Message        string
	Localized      []options.Localized
}

func read(t *testing.T, req *pluginpb.CodeGeneratorRequest) summary {
	t.Helper()
	gen, err := protogen.Options{}.New(req)
	if err != nil {
		t.Fatal(err)
	}
	f := gen.FilesByPath["user.proto"]
	r := options.NewReader(gen)
	services, err := r.Services(f)
	if err != nil {
		t.Fatal(err)
	}
	enums, err := r.ErrorEnums(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(services) != 1 || len(enums) != 1 {
		t.Fatalf("read %d services and %d error enums, want 1 and 1", len(services), len(enums))
	}
	s := summary{Name: services[0].Name}
	for _, m := range services[0].Methods {
		s.Methods = append(s.Methods, methodSummary{m.FullMethod, m.Type, m.Timeout, m.Auth, m.Idempotent, m.RateClass, m.Buckets, m.HTTP})
	}
	for _, v := range enums[0].Values {
		s.Errors = append(s.Errors, errorSummary{enums[0].Domain, v.Reason, v.Code.String(), v.HTTPStatus, v.BusinessCode, v.Retryable, v.LogLevel.String(), v.Message, v.Localized})
	}
	return s
}

func TestReader(t *testing.T) {
	req := plugintest.Request(t, plugintest.Sources{Files: map[string]string{"user.proto": src}}, "", "user.proto")
	want := summary{
		Name: "user",
		Methods: []methodSummary{
			{"/example.user.v1.UserService/Get", options.Unary, 250 * time.Millisecond, options.AuthUser, true, "read", []float64{1, 2}, true},
			{"/example.user.v1.UserService/Put", options.ServerStream, 2 * time.Second, options.AuthPublic, false, "", []float64{0.1, 1}, false},
		},
		Errors: []errorSummary{
			{"user.example.com", "GONE", "Internal", 500, 10001, true, "ERROR", "gone", []options.Localized{{Locale: "zh-CN", Message: "没了"}}},
		},
	}
	if got := read(t, req); !reflect.DeepEqual(got, want) {
		t.Errorf("read\n%+v\nwant\n%+v", got, want)
	}

	// buf runs the plugins as separate binaries that do not link the
	// options' Go package: the extensions then arrive as unknown fields.
	// Reading them must not depend on that.
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	unknown := new(pluginpb.CodeGeneratorRequest)
	if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(b, unknown); err != nil {
		t.Fatal(err)
	}
	opts := unknown.GetProtoFile()[len(unknown.GetProtoFile())-1].GetService()[0].GetMethod()[0].GetOptions()
	if len(opts.ProtoReflect().GetUnknown()) == 0 {
		t.Fatal("the options' extensions were parsed, want unknown fields")
	}
	if got := read(t, unknown); !reflect.DeepEqual(got, want) {
		t.Errorf("read from unknown fields\n%+v\nwant\n%+v", got, want)
	}
}

func TestError(t *testing.T) {
	for _, tt := range []struct {
		err  *options.Error
		want string
	}{
		{
			&options.Error{File: "a/b.proto", Kind: options.KindEnumValue, Name: "a.E.E_X", Ext: options.ExtError, Field: "localized[1].locale", Problem: "required"},
			"a/b.proto: enum value a.E.E_X: option (tremolo.options.v1.error).localized[1].locale: required",
		},
		{
			&options.Error{File: "a/b.proto", Kind: options.KindEnumValue, Name: "a.E.E_X", Ext: options.ExtError, Problem: "missing"},
			"a/b.proto: enum value a.E.E_X: option (tremolo.options.v1.error): missing",
		},
		{
			&options.Error{File: "a/b.proto", Kind: options.KindEnum, Name: "a.E", Problem: "no zero value"},
			"a/b.proto: enum a.E: no zero value",
		},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestNoOptionsProto(t *testing.T) {
	// A request without options.proto: nothing is an error enum, every
	// service gets the defaults.
	req := plugintest.Request(t, plugintest.Sources{Files: map[string]string{"p.proto": `syntax = "proto3";
		package example.p.v1;
		option go_package = "example.com/p/v1;pv1";
		message M {}
		enum E { E_UNSPECIFIED = 0; E_X = 1; }
		service S { rpc Get(M) returns (M); }`}}, "", "p.proto")
	gen, err := protogen.Options{}.New(req)
	if err != nil {
		t.Fatal(err)
	}
	r := options.NewReader(gen)
	f := gen.FilesByPath["p.proto"]
	enums, err := r.ErrorEnums(f)
	if err != nil || len(enums) != 0 {
		t.Errorf("ErrorEnums = %v, %v; want none", enums, err)
	}
	services, err := r.Services(f)
	if err != nil {
		t.Fatal(err)
	}
	m := services[0].Methods[0]
	if services[0].Name != "p" || m.Timeout != 0 || m.Auth != options.AuthUser || m.Buckets != nil || m.HTTP {
		t.Errorf("defaults: name %q, method %+v", services[0].Name, m)
	}
}
