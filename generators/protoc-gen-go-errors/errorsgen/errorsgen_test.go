package errorsgen_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"testing"

	"github.com/tremolo-dev/tremolo/generators/internal/plugintest"
	"github.com/tremolo-dev/tremolo/generators/protoc-gen-go-errors/errorsgen"
)

var testdata = plugintest.Sources{Dir: "testdata"}

// goldenFiles are compiled together, as buf's strategy: all sends them.
var goldenFiles = []string{"user.proto", "video.proto", "plain.proto"}

func TestGolden(t *testing.T) {
	req := plugintest.Request(t, testdata, "paths=source_relative", goldenFiles...)
	files := plugintest.Generate(t, req, errorsgen.Plugin)
	for name, content := range files {
		if _, err := parser.ParseFile(token.NewFileSet(), name, content, parser.AllErrors); err != nil {
			t.Errorf("generated %s does not parse: %v", name, err)
		}
	}
	if _, ok := files["plain_errors.pb.go"]; ok {
		t.Error("plain.proto has no error enum, but plain_errors.pb.go was generated")
	}
	plugintest.Golden(t, "testdata/golden", files)
}

func TestGoldenCatalog(t *testing.T) {
	req := plugintest.Request(t, testdata, "catalog=errors.md", goldenFiles...)
	files := plugintest.Generate(t, req, errorsgen.Plugin)
	if len(files) != 1 || files["errors.md"] == "" {
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		t.Fatalf("catalog run generated %v, want only errors.md", names)
	}
	plugintest.Golden(t, "testdata/golden/catalog", files)
}

const header = `syntax = "proto3";
package bad.v1;
import "tremolo/options/v1/options.proto";
option go_package = "example.com/bad/v1;badv1";
`

// rule is a valid error rule with business code n, plus extra fields.
func rule(n int, extra string) string {
	return raw(fmt.Sprintf(`code: NOT_FOUND business_code: %d message: "m" %s`, n, extra))
}

// raw is an error rule with exactly fields.
func raw(fields string) string { return "[(tremolo.options.v1.error) = {" + fields + "}]" }

func TestBadInput(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // bad.proto is generated; others too
		param string
		want  string
	}{
		{
			name: "zero value misnamed",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_NONE = 0;
				BAD_ERROR_X = 1 ` + rule(10001, "") + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_NONE: the zero value of an error enum must be named BAD_ERROR_UNSPECIFIED",
		},
		{
			name: "zero value with a rule",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0 ` + rule(10000, "") + `;
			}`},
			want: `bad.proto: enum value bad.v1.BadError.BAD_ERROR_UNSPECIFIED: option (tremolo.options.v1.error): the zero value means "no error" and must not have an error rule`,
		},
		{
			name: "value without a rule",
			files: map[string]string{"bad.proto": header + `enum BadError {
				option (tremolo.options.v1.errors) = {};
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error): missing: every value of an error enum except BAD_ERROR_UNSPECIFIED needs an error rule",
		},
		{
			name: "no zero value",
			files: map[string]string{"bad.proto": `syntax = "proto2";
				package bad.v1;
				import "tremolo/options/v1/options.proto";
				option go_package = "example.com/bad/v1;badv1";
				enum BadError {
					BAD_ERROR_X = 1 ` + rule(10001, "") + `;
				}`},
			want: "bad.proto: enum bad.v1.BadError: an error enum needs a zero value named BAD_ERROR_UNSPECIFIED",
		},
		{
			name: "alias",
			files: map[string]string{"bad.proto": header + `enum BadError {
				option allow_alias = true;
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + rule(10001, "") + `;
				BAD_ERROR_Y = 1 ` + rule(10002, "") + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_Y: has the same number (1) as BAD_ERROR_X: an error enum cannot have aliases",
		},
		{
			name: "value without the enum's prefix",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				NOT_FOUND = 1 ` + rule(10001, "") + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.NOT_FOUND: the name must be BAD_ERROR_ followed by the reason (the enum's name in UPPER_SNAKE_CASE, then the reason)",
		},
		{
			name: "code missing",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + raw(`code: OK business_code: 10001 message: "m"`) + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).code: required: set a gRPC status code other than OK",
		},
		{
			name: "code unknown",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + raw(`code: 42 business_code: 10001 message: "m"`) + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).code: 42 is not a google.rpc.Code",
		},
		{
			name: "http status below 400",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + rule(10001, "http_status: 302") + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).http_status: 302 is outside 400-599 (0 means the standard mapping of the gRPC code)",
		},
		{
			name: "http status above 599",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + rule(10001, "http_status: 600") + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).http_status: 600 is outside 400-599 (0 means the standard mapping of the gRPC code)",
		},
		{
			name: "business code missing",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + raw(`code: NOT_FOUND business_code: 0 message: "m"`) + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).business_code: required: set a code of at least 10000, unique across the repository",
		},
		{
			name: "business code in the platform's range",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + rule(1013, "") + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).business_code: 1013 is below 10000: smaller codes are the platform's own (apierror.MinServiceBusinessCode)",
		},
		{
			name: "business code negative",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + raw(`code: NOT_FOUND business_code: -10001 message: "m"`) + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).business_code: -10001 is below 10000: smaller codes are the platform's own (apierror.MinServiceBusinessCode)",
		},
		{
			name: "business code used twice in a file",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + rule(10001, "") + `;
				BAD_ERROR_Y = 2 ` + rule(10001, "") + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_Y: option (tremolo.options.v1.error).business_code: 10001 is also used by enum value bad.v1.BadError.BAD_ERROR_X (bad.proto): business codes must be unique across the repository",
		},
		{
			name: "business code used twice across files",
			files: map[string]string{
				"bad.proto": header + `enum BadError {
					BAD_ERROR_UNSPECIFIED = 0;
					BAD_ERROR_X = 1 ` + rule(10001, "") + `;
				}`,
				"other/v1/other.proto": `syntax = "proto3";
					package other.v1;
					import "tremolo/options/v1/options.proto";
					option go_package = "example.com/other/v1;otherv1";
					enum OtherError {
						OTHER_ERROR_UNSPECIFIED = 0;
						OTHER_ERROR_Y = 1 ` + rule(10001, "") + `;
					}`,
			},
			want: "other/v1/other.proto: enum value other.v1.OtherError.OTHER_ERROR_Y: option (tremolo.options.v1.error).business_code: 10001 is also used by enum value bad.v1.BadError.BAD_ERROR_X (bad.proto): business codes must be unique across the repository",
		},
		{
			name: "message missing",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + raw(`code: NOT_FOUND business_code: 10001 message: ""`) + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).message: required: the message a caller sees when the code returning the error gives none",
		},
		{
			name: "log level unknown",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + rule(10001, "log_level: 9") + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).log_level: 9 is not a tremolo.options.v1.LogLevel",
		},
		{
			name: "locale empty",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + rule(10001, `localized: [{locale: "zh-CN" message: "a"}, {message: "b"}]`) + `;
			}`},
			want: `bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).localized[1].locale: required: a BCP-47 tag such as "zh-CN"`,
		},
		{
			name: "locale twice",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + rule(10001, `localized: [{locale: "zh-CN" message: "a"}, {locale: "fr" message: "b"}, {locale: "zh-CN" message: "c"}]`) + `;
			}`},
			want: `bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).localized[2].locale: "zh-CN" is already listed in localized[0]`,
		},
		{
			name: "localized message empty",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + rule(10001, `localized: [{locale: "zh-CN"}]`) + `;
			}`},
			want: `bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).localized[0].message: required`,
		},
		{
			name: "domain with a slash",
			files: map[string]string{"bad.proto": header + `enum BadError {
				option (tremolo.options.v1.errors) = {domain: "a/b"};
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + rule(10001, "") + `;
			}`},
			want: `bad.proto: enum bad.v1.BadError: option (tremolo.options.v1.errors).domain: "a/b" must not contain '/' or spaces: use a DNS-style name`,
		},
		{
			name: "reason twice in a domain",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_NOT_FOUND = 1 ` + rule(10001, "") + `;
			}
			enum WorseError {
				WORSE_ERROR_UNSPECIFIED = 0;
				WORSE_ERROR_NOT_FOUND = 1 ` + rule(10002, "") + `;
			}`},
			want: "bad.proto: enum value bad.v1.WorseError.WORSE_ERROR_NOT_FOUND: error bad.v1/NOT_FOUND is also declared by enum value bad.v1.BadError.BAD_ERROR_NOT_FOUND (bad.proto): a reason must be unique within its domain",
		},
		{
			name: "Go identifier twice in a package",
			files: map[string]string{
				"bad.proto": header + `enum BadError {
					BAD_ERROR_UNSPECIFIED = 0;
					BAD_ERROR_NOT_FOUND = 1 ` + rule(10001, "") + `;
				}`,
				"bad2.proto": header + `enum WorseError {
					option (tremolo.options.v1.errors) = {domain: "worse.example.com"};
					WORSE_ERROR_UNSPECIFIED = 0;
					WORSE_ERROR_NOT_FOUND = 1 ` + rule(10002, "") + `;
				}`,
			},
			want: "bad2.proto: enum value bad.v1.WorseError.WORSE_ERROR_NOT_FOUND: generates Go identifier ErrorNotFound, which is also generated for enum value bad.v1.BadError.BAD_ERROR_NOT_FOUND (bad.proto) in Go package \"example.com/bad/v1\"\n" +
				"bad2.proto: enum value bad.v1.WorseError.WORSE_ERROR_NOT_FOUND: generates Go identifier IsNotFound, which is also generated for enum value bad.v1.BadError.BAD_ERROR_NOT_FOUND (bad.proto) in Go package \"example.com/bad/v1\"",
		},
		{
			name: "Go identifier of a message",
			files: map[string]string{"bad.proto": header + `
				message ErrorGone {}
				enum BadError {
					BAD_ERROR_UNSPECIFIED = 0;
					BAD_ERROR_GONE = 1 ` + rule(10001, "") + `;
				}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_GONE: generates Go identifier ErrorGone, which is also the Go type of message bad.v1.ErrorGone (bad.proto) in Go package \"example.com/bad/v1\"",
		},
		{
			name: "several problems are all reported",
			files: map[string]string{"bad.proto": header + `enum BadError {
				BAD_ERROR_UNSPECIFIED = 0;
				BAD_ERROR_X = 1 ` + raw(`code: NOT_FOUND business_code: 10001 http_status: 200 message: ""`) + `;
			}`},
			want: "bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).http_status: 200 is outside 400-599 (0 means the standard mapping of the gRPC code)\n" +
				"bad.proto: enum value bad.v1.BadError.BAD_ERROR_X: option (tremolo.options.v1.error).message: required: the message a caller sees when the code returning the error gives none",
		},
		{
			name:  "catalog parameter empty",
			files: map[string]string{"bad.proto": header},
			param: "catalog=",
			want:  `protoc-gen-go-errors: parameter catalog="": want a file name relative to the output directory, such as catalog=errors.md`,
		},
		{
			name:  "catalog parameter outside the output directory",
			files: map[string]string{"bad.proto": header},
			param: "catalog=../errors.md",
			want:  `protoc-gen-go-errors: parameter catalog="../errors.md": want a file name relative to the output directory, such as catalog=errors.md`,
		},
		{
			name:  "unknown parameter",
			files: map[string]string{"bad.proto": header},
			param: "catalogue=errors.md",
			want:  `protoc-gen-go-errors: unknown parameter "catalogue" (the only one is catalog=<file>)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var names []string
			for name := range tt.files {
				names = append(names, name)
			}
			// Deterministic order: bad.proto first, as a buf request lists it.
			for i := range names {
				if names[i] == "bad.proto" {
					names[0], names[i] = names[i], names[0]
				}
			}
			for i := 1; i < len(names); i++ {
				for j := i + 1; j < len(names); j++ {
					if names[j] < names[i] {
						names[i], names[j] = names[j], names[i]
					}
				}
			}
			for _, param := range []string{tt.param, "catalog=errors.md"} {
				if tt.param != "" && param != tt.param {
					continue
				}
				req := plugintest.Request(t, plugintest.Sources{Files: tt.files}, param, names...)
				if got := plugintest.GenerateError(t, req, errorsgen.Plugin); got != tt.want {
					t.Errorf("with parameter %q, error:\n%s\nwant:\n%s", param, got, tt.want)
				}
			}
		})
	}
}

func TestGoldenTypeChecks(t *testing.T) {
	req := plugintest.Request(t, testdata, "paths=source_relative", goldenFiles...)
	plugintest.TypeCheck(t, req, errorsgen.Plugin)
}
