package metricsgen_test

import (
	"sort"
	"testing"

	"github.com/tremolo-dev/tremolo/generators/internal/plugintest"
	"github.com/tremolo-dev/tremolo/generators/protoc-gen-go-metrics/metricsgen"
)

var testdata = plugintest.Sources{Dir: "testdata"}

var goldenFiles = []string{"shop.proto", "shop_errors_more.proto", "other.proto", "plain.proto"}

func TestGolden(t *testing.T) {
	req := plugintest.Request(t, testdata, "paths=source_relative", goldenFiles...)
	files := plugintest.Generate(t, req, metricsgen.Plugin)
	for _, none := range []string{"plain_metrics.pb.go", "shop_errors_more_metrics.pb.go"} {
		if _, ok := files[none]; ok {
			t.Errorf("%s was generated for a file without services", none)
		}
	}
	plugintest.Golden(t, "testdata/golden", files)
}

func TestGoldenTypeChecks(t *testing.T) {
	req := plugintest.Request(t, testdata, "paths=source_relative", goldenFiles...)
	plugintest.TypeCheck(t, req, metricsgen.Plugin)
}

const header = `syntax = "proto3";
package bad.v1;
import "tremolo/options/v1/options.proto";
option go_package = "example.com/bad/v1;badv1";
message M {}
`

func TestBadInput(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		param string
		want  string
	}{
		{
			name: "method bucket zero",
			files: map[string]string{"bad.proto": header + `service S {
				rpc Get(M) returns (M) { option (tremolo.options.v1.method) = {latency_buckets: [0, 1]}; }
			}`},
			want: "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).latency_buckets: bucket 0 (0) is not positive",
		},
		{
			name: "method bucket negative",
			files: map[string]string{"bad.proto": header + `service S {
				rpc Get(M) returns (M) { option (tremolo.options.v1.method) = {latency_buckets: [0.1, -1]}; }
			}`},
			want: "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).latency_buckets: bucket 1 (-1) is not positive",
		},
		{
			name: "method bucket infinite",
			files: map[string]string{"bad.proto": header + `service S {
				rpc Get(M) returns (M) { option (tremolo.options.v1.method) = {latency_buckets: [0.1, inf]}; }
			}`},
			want: "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).latency_buckets: bucket 1 (+Inf) is not finite",
		},
		{
			name: "method bucket NaN",
			files: map[string]string{"bad.proto": header + `service S {
				rpc Get(M) returns (M) { option (tremolo.options.v1.method) = {latency_buckets: [nan]}; }
			}`},
			want: "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).latency_buckets: bucket 0 (NaN) is not finite",
		},
		{
			name: "method buckets not increasing",
			files: map[string]string{"bad.proto": header + `service S {
				rpc Get(M) returns (M) { option (tremolo.options.v1.method) = {latency_buckets: [0.1, 0.5, 0.25]}; }
			}`},
			want: "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).latency_buckets: bucket 2 (0.25) is not greater than bucket 1 (0.5): buckets must be strictly increasing",
		},
		{
			name: "method buckets repeated",
			files: map[string]string{"bad.proto": header + `service S {
				rpc Get(M) returns (M) { option (tremolo.options.v1.method) = {latency_buckets: [0.1, 0.1]}; }
			}`},
			want: "bad.proto: method bad.v1.S.Get: option (tremolo.options.v1.method).latency_buckets: bucket 1 (0.1) is not greater than bucket 0 (0.1): buckets must be strictly increasing",
		},
		{
			name: "service buckets not increasing",
			files: map[string]string{"bad.proto": header + `service S {
				option (tremolo.options.v1.service) = {default_latency_buckets: [1, 0.5]};
				rpc Get(M) returns (M);
			}`},
			want: "bad.proto: service bad.v1.S: option (tremolo.options.v1.service).default_latency_buckets: bucket 1 (0.5) is not greater than bucket 0 (1): buckets must be strictly increasing",
		},
		{
			name: "method named like a method of the metrics type",
			files: map[string]string{"bad.proto": header + `service S {
				rpc Lookup(M) returns (M);
			}`},
			want: "bad.proto: method bad.v1.S.Lookup: its field SMetrics.Lookup would clash with the method of the same name; rename the RPC",
		},
		{
			name: "invalid error enum in the package",
			files: map[string]string{"bad.proto": header + `service S {
				rpc Get(M) returns (M);
			}
			enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 [(tremolo.options.v1.error) = {code: NOT_FOUND business_code: 10001}];
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).message: required: the message a caller sees when the code returning the error gives none",
		},
		{
			name:  "unknown parameter",
			files: map[string]string{"bad.proto": header},
			param: "buckets=1",
			want:  `protoc-gen-go-metrics: unknown parameter "buckets" (it takes none)`,
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
			if got := plugintest.GenerateError(t, req, metricsgen.Plugin); got != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
