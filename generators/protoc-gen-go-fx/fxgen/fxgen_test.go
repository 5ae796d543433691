package fxgen_test

import (
	"sort"
	"testing"

	"github.com/tremolo-dev/tremolo/generators/internal/plugintest"
	"github.com/tremolo-dev/tremolo/generators/protoc-gen-go-errors/errorsgen"
	"github.com/tremolo-dev/tremolo/generators/protoc-gen-go-fx/fxgen"
	"github.com/tremolo-dev/tremolo/generators/protoc-gen-go-metrics/metricsgen"
)

var testdata = plugintest.Sources{Dir: "testdata"}

var goldenFiles = []string{"shop.proto", "ping.proto", "plain.proto"}

func TestGolden(t *testing.T) {
	req := plugintest.Request(t, testdata, "paths=source_relative", goldenFiles...)
	files := plugintest.Generate(t, req, fxgen.Plugin)
	if _, ok := files["plain_fx.pb.go"]; ok {
		t.Error("plain_fx.pb.go was generated for a file without services")
	}
	plugintest.Golden(t, "testdata/golden", files)
}

// TestGoldenTypeChecks compiles what all three plugins generate together,
// as buf generate writes it into one package, against the real platform.
func TestGoldenTypeChecks(t *testing.T) {
	req := plugintest.Request(t, testdata, "paths=source_relative", goldenFiles...)
	plugintest.TypeCheck(t, req, fxgen.Plugin, metricsgen.Plugin, errorsgen.Plugin)
}

func TestBadInput(t *testing.T) {
	const header = `syntax = "proto3";
		package bad.v1;
		import "tremolo/options/v1/options.proto";
		option go_package = "example.com/bad/v1;badv1";
		message M {}
		`
	method := func(rules string) map[string]string {
		return map[string]string{"bad.proto": header + `service S {
			rpc Get(M) returns (M) { option (tremolo.options.v1.method) = {` + rules + `}; }
		}`}
	}
	service := func(rules string) map[string]string {
		return map[string]string{"bad.proto": header + `service S {
			option (tremolo.options.v1.service) = {` + rules + `};
			rpc Get(M) returns (M);
		}`}
	}
	inPackage := func(pkg string) map[string]string {
		return map[string]string{"bad.proto": `syntax = "proto3";
			package ` + pkg + `;
			option go_package = "example.com/bad/v1;badv1";
			message M {}
			service S { rpc Get(M) returns (M); }`}
	}
	tests := []struct {
		name  string
		files map[string]string
		param string
		want  string
	}{
		{
			name:  "timeout negative",
			files: method(`timeout: {seconds: -1}`),
			want:  "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).timeout: must be positive, got -1s",
		},
		{
			name:  "max_attempts without idempotent",
			files: method(`max_attempts: 2`),
			want:  "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).max_attempts: only idempotent methods are retried: set idempotent: true, or drop max_attempts",
		},
		{
			name:  "max_attempts too many",
			files: method(`idempotent: true max_attempts: 11`),
			want:  "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).max_attempts: 11 is more than 10: a retry storm, not resilience",
		},
		{
			name: "degradable stream",
			files: map[string]string{"bad.proto": header + `service S {
			rpc Get(M) returns (stream M) { option (tremolo.options.v1.method) = {degradable: true}; }
		}`},
			want: "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).degradable: only unary methods can degrade to an empty response; this one is ServerStream",
		},
		{
			name:  "timeout zero",
			files: method(`timeout: {}`),
			want:  "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).timeout: must be positive, got 0s",
		},
		{
			name:  "timeout nanos out of range",
			files: method(`timeout: {nanos: 1000000000}`),
			want:  "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).timeout: nanos 1000000000 is outside -999999999..999999999",
		},
		{
			name:  "timeout signs differ",
			files: method(`timeout: {seconds: 1 nanos: -1}`),
			want:  "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).timeout: seconds 1 and nanos -1 have different signs",
		},
		{
			name:  "timeout too long",
			files: method(`timeout: {seconds: 315576000000}`),
			want:  "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).timeout: 315576000000s is too long for a time.Duration",
		},
		{
			name:  "service timeout negative",
			files: service(`default_timeout: {seconds: -2}`),
			want:  "bad.proto: service bad.v1.S: option (tremolo.options.v1.service).default_timeout: must not be negative, got -2s",
		},
		{
			name:  "auth unknown",
			files: method(`auth: 7`),
			want:  "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).auth: 7 is not a tremolo.options.v1.Auth",
		},
		{
			name:  "service auth unknown",
			files: service(`default_auth: -1`),
			want:  "bad.proto: service bad.v1.S: option (tremolo.options.v1.service).default_auth: -1 is not a tremolo.options.v1.Auth",
		},
		{
			name:  "rate class with upper case",
			files: method(`rate_class: "Read"`),
			want:  `bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).rate_class: "Read" does not match [a-z][a-z0-9_]* (empty means the default class)`,
		},
		{
			name:  "rate class with a dash",
			files: method(`rate_class: "read-write"`),
			want:  `bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).rate_class: "read-write" does not match [a-z][a-z0-9_]* (empty means the default class)`,
		},
		{
			name:  "buckets",
			files: method(`latency_buckets: [1, 1]`),
			want:  "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).latency_buckets: bucket 1 (1) is not greater than bucket 0 (1): buckets must be strictly increasing",
		},
		{
			name:  "name invalid",
			files: service(`name: "User"`),
			want:  `bad.proto: service bad.v1.S: option (tremolo.options.v1.service).name: "User" does not match [a-z][a-z0-9-]*`,
		},
		{
			name:  "name starting with a digit",
			files: service(`name: "2fa"`),
			want:  `bad.proto: service bad.v1.S: option (tremolo.options.v1.service).name: "2fa" does not match [a-z][a-z0-9-]*`,
		},
		{
			name:  "derived name invalid",
			files: inPackage("bad.user_profile.v1"),
			want:  `bad.proto: service bad.user_profile.v1.S: option (tremolo.options.v1.service).name: not set, and "user_profile", derived from package "bad.user_profile.v1", does not match [a-z][a-z0-9-]*; set it`,
		},
		{
			name:  "no name to derive",
			files: inPackage("bad"),
			want:  `bad.proto: service bad.S: option (tremolo.options.v1.service).name: not set, and package "bad" has no second-to-last element to derive it from; set it`,
		},
		{
			name: "several problems are all reported",
			files: map[string]string{"bad.proto": header + `service S {
				option (tremolo.options.v1.service) = {name: "S"};
				rpc Get(M) returns (M) { option (tremolo.options.v1.method) = {timeout: {seconds: -1} rate_class: "X"}; }
				rpc Put(M) returns (M) { option (tremolo.options.v1.method) = {auth: 9}; }
			}`},
			want: `bad.proto: service bad.v1.S: option (tremolo.options.v1.service).name: "S" does not match [a-z][a-z0-9-]*` + "\n" +
				"bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).timeout: must be positive, got -1s\n" +
				`bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).rate_class: "X" does not match [a-z][a-z0-9_]* (empty means the default class)` + "\n" +
				"bad.proto: method bad.v1.S.Put: option (tremolo.options.v1.method).auth: 9 is not a tremolo.options.v1.Auth",
		},
		{
			name: "internal method with a REST binding",
			files: map[string]string{"bad.proto": `syntax = "proto3";
				package bad.v1;
				import "google/api/annotations.proto";
				import "tremolo/options/v1/options.proto";
				option go_package = "example.com/bad/v1;badv1";
				message M {}
				service S {
					rpc Get(M) returns (M) {
						option (google.api.http) = {get: "/v1/m"};
						option (tremolo.options.v1.method) = {auth: AUTH_INTERNAL};
					}
				}`},
			want: "bad.proto: method bad.v1.S.Get: option (google.api.http): an AUTH_INTERNAL method must not have an HTTP binding (only other services may call it)",
		},
		{
			name:  "unknown parameter",
			files: map[string]string{"bad.proto": header},
			param: "standalone=true",
			want:  `protoc-gen-go-fx: unknown parameter "standalone" (it takes none)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var names []string
			for name := range tt.files {
				names = append(names, name)
			}
			sort.Strings(names)
			req := plugintest.Request(t, plugintest.Sources{Files: tt.files}, tt.param, names...)
			if got := plugintest.GenerateError(t, req, fxgen.Plugin); got != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
