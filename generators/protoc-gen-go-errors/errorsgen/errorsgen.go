// Package errorsgen is protoc-gen-go-errors: it turns error enums
// (tremolo.options.v1.errors / error options) into apierror specs,
// constructors and predicates, and writes the repository's error catalog.
//
// For each .proto file with error enums it writes <file>_errors.pb.go next
// to protoc-gen-go's output, declaring per enum value
//
//   - an unexported *apierror.Spec, registered with apierror.MustRegister
//     from init;
//   - Error<Reason>(format string, args ...any) *apierror.Error;
//   - Is<Reason>(err error) bool;
//
// and per enum a Spec() *apierror.Spec method.
//
// With the parameter catalog=<file> it writes only that file instead: a
// Markdown table of every error of every file in the request, followed by
// the platform's own errors (run it with buf's strategy: all).
//
// Business codes are checked across every file of the request, so buf
// should run the plugin with strategy: all.
package errorsgen

import (
	"fmt"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"

	"github.com/tremolo-dev/tremolo/generators/internal/genutil"
	"github.com/tremolo-dev/tremolo/generators/internal/naming"
	"github.com/tremolo-dev/tremolo/generators/internal/options"
)

// Name is the plugin's name, as generated files credit it.
const Name = "protoc-gen-go-errors"

const (
	apierrorPackage = protogen.GoImportPath("github.com/tremolo-dev/tremolo/platform/apierror")
	codesPackage    = protogen.GoImportPath("google.golang.org/grpc/codes")
	slogPackage     = protogen.GoImportPath("log/slog")
)

// config is the plugin's parameters.
type config struct {
	// catalog is the catalog's file name; empty generates Go code.
	catalog string
}

func (c *config) set(name, value string) error {
	switch name {
	case "catalog":
		clean := path.Clean(value)
		if value == "" || path.IsAbs(value) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("%s: parameter catalog=%q: want a file name relative to the output directory, such as catalog=errors.md", Name, value)
		}
		c.catalog = clean
		return nil
	}
	return fmt.Errorf("%s: unknown parameter %q (the only one is catalog=<file>)", Name, name)
}

// Plugin returns the plugin's protogen options and generator function; main
// passes them to protogen.Options.Run, tests run them in-process.
func Plugin() (protogen.Options, func(*protogen.Plugin) error) {
	cfg := new(config)
	return protogen.Options{ParamFunc: cfg.set}, func(gen *protogen.Plugin) error {
		return generate(gen, cfg)
	}
}

func generate(gen *protogen.Plugin, cfg *config) error {
	genutil.Setup(gen)
	r := options.NewReader(gen)

	var probs options.Problems
	var all []*options.ErrorEnum
	byFile := map[*protogen.File][]*options.ErrorEnum{}
	for _, f := range gen.Files {
		enums, err := r.ErrorEnums(f)
		if err != nil {
			probs.Add(err)
			continue
		}
		all = append(all, enums...)
		byFile[f] = enums
	}
	if err := probs.Err(); err != nil {
		return err
	}
	if err := checkAcrossFiles(gen, all); err != nil {
		return err
	}

	if cfg.catalog != "" {
		writeCatalog(gen.NewGeneratedFile(cfg.catalog, ""), all)
		return nil
	}
	for _, f := range genutil.Files(gen) {
		if enums := byFile[f]; len(enums) > 0 {
			writeFile(gen, f, enums)
		}
	}
	return nil
}

// checkAcrossFiles enforces what no single file can: business codes unique
// in the whole request, reasons unique within a domain, and Go identifiers
// unique within a Go package.
func checkAcrossFiles(gen *protogen.Plugin, enums []*options.ErrorEnum) error {
	var probs options.Problems
	byCode := map[int32]*options.ErrorValue{}
	byKey := map[[2]string]*options.ErrorValue{}
	type pkgIdent struct {
		pkg   protogen.GoImportPath
		ident string
	}
	// taken holds the identifiers protoc-gen-go declares, then ours.
	taken := map[pkgIdent]string{}
	for _, f := range gen.Files {
		for _, e := range options.AllEnums(f) {
			taken[pkgIdent{f.GoImportPath, e.GoIdent.GoName}] = fmt.Sprintf("the Go type of enum %s (%s)", e.Desc.FullName(), f.Desc.Path())
			for _, v := range e.Values {
				taken[pkgIdent{f.GoImportPath, v.GoIdent.GoName}] = fmt.Sprintf("the Go constant of enum value %s (%s)", options.ValueName(v), f.Desc.Path())
			}
		}
		var walk func([]*protogen.Message)
		walk = func(ms []*protogen.Message) {
			for _, m := range ms {
				taken[pkgIdent{f.GoImportPath, m.GoIdent.GoName}] = fmt.Sprintf("the Go type of message %s (%s)", m.Desc.FullName(), f.Desc.Path())
				walk(m.Messages)
			}
		}
		walk(f.Messages)
	}
	for _, e := range enums {
		for _, v := range e.Values {
			el := v.Element()
			where := func(o *options.ErrorValue) string {
				return fmt.Sprintf("enum value %s (%s)", o.Name(), o.Enum.File.Desc.Path())
			}
			if prev, dup := byCode[v.BusinessCode]; dup {
				probs.Add(el.Errorf(options.ExtError, "business_code", fmt.Sprintf("%d is also used by %s: business codes must be unique across the repository", v.BusinessCode, where(prev))))
			} else {
				byCode[v.BusinessCode] = v
			}
			key := [2]string{e.Domain, v.Reason}
			if prev, dup := byKey[key]; dup {
				probs.Add(&options.Error{File: el.File, Kind: el.Kind, Name: el.Name,
					Problem: fmt.Sprintf("error %s/%s is also declared by %s: a reason must be unique within its domain", e.Domain, v.Reason, where(prev))})
				continue // the Go identifiers collide too when in one package: one report is enough
			}
			byKey[key] = v
			for _, ident := range []string{constructorName(v), predicateName(v)} {
				k := pkgIdent{e.File.GoImportPath, ident}
				if prev, dup := taken[k]; dup {
					probs.Add(&options.Error{File: el.File, Kind: el.Kind, Name: el.Name,
						Problem: fmt.Sprintf("generates Go identifier %s, which is also %s in Go package %s", ident, prev, e.File.GoImportPath)})
					continue
				}
				taken[k] = fmt.Sprintf("generated for %s", where(v))
			}
		}
	}
	return probs.Err()
}

func constructorName(v *options.ErrorValue) string { return "Error" + naming.Camel(v.Reason) }
func predicateName(v *options.ErrorValue) string   { return "Is" + naming.Camel(v.Reason) }

// specName is the unexported variable holding v's spec; it is unique in the
// Go package because protoc-gen-go's constant for the value is.
func specName(v *options.ErrorValue) string { return "spec_" + v.Proto.GoIdent.GoName }

var levelNames = map[int]string{-4: "LevelDebug", 0: "LevelInfo", 4: "LevelWarn", 8: "LevelError"}

func writeFile(gen *protogen.Plugin, f *protogen.File, enums []*options.ErrorEnum) {
	g := gen.NewGeneratedFile(f.GeneratedFilenamePrefix+"_errors.pb.go", f.GoImportPath)
	genutil.Header(g, Name, f)

	spec := g.QualifiedGoIdent(apierrorPackage.Ident("Spec"))
	g.P("// The specs of the errors declared in ", f.Desc.Path(), ", one per error enum value.")
	g.P("var (")
	for _, e := range enums {
		for _, v := range e.Values {
			g.P(specName(v), " = &", spec, "{")
			g.P("Domain: ", strconv.Quote(e.Domain), ",")
			g.P("Reason: ", strconv.Quote(v.Reason), ",")
			g.P("Code: ", codesPackage.Ident(v.Code.String()), ",")
			if text := http.StatusText(v.HTTPStatus); text != "" {
				g.P("HTTPStatus: ", v.HTTPStatus, ", // ", text)
			} else {
				g.P("HTTPStatus: ", v.HTTPStatus, ",")
			}
			g.P("BusinessCode: ", v.BusinessCode, ",")
			g.P("Retryable: ", v.Retryable, ",")
			g.P("LogLevel: ", slogPackage.Ident(levelNames[int(v.LogLevel)]), ",")
			g.P("Message: ", strconv.Quote(v.Message), ",")
			if len(v.Localized) > 0 {
				g.P("Localized: map[string]string{")
				for _, l := range v.Localized {
					g.P(strconv.Quote(l.Locale), ": ", strconv.Quote(l.Message), ",")
				}
				g.P("},")
			}
			g.P("}")
		}
	}
	g.P(")")
	g.P()

	g.P("func init() {")
	g.P(apierrorPackage.Ident("MustRegister"), "(")
	for _, e := range enums {
		for _, v := range e.Values {
			g.P(specName(v), ",")
		}
	}
	g.P(")")
	g.P("}")
	g.P()

	apiErr := g.QualifiedGoIdent(apierrorPackage.Ident("Error"))
	for _, e := range enums {
		for _, v := range e.Values {
			summary := fmt.Sprintf("gRPC code %s (HTTP %d), business code %d,\n// default message %q", options.CodeName(v.Code), v.HTTPStatus, v.BusinessCode, naming.CommentText(v.Message))
			g.P("// ", constructorName(v), " returns a new error of ", v.Name(), ":")
			g.P("// ", summary, ".")
			g.P("// A non-empty format replaces the message (formatted as by fmt.Sprintf);")
			g.P("// an empty one keeps the default.")
			g.P("func ", constructorName(v), "(format string, args ...any) *", apiErr, " {")
			g.P("return ", specName(v), ".Errorf(format, args...)")
			g.P("}")
			g.P()
			g.P("// ", predicateName(v), " reports whether err is, or wraps, an error of ", v.Name(), ":")
			g.P("// ", summary, ".")
			g.P("// It also recognizes such an error received from another service as a gRPC status.")
			g.P("func ", predicateName(v), "(err error) bool {")
			g.P("return ", specName(v), ".Is(err)")
			g.P("}")
			g.P()
		}
		zero := e.Prefix + "UNSPECIFIED"
		g.P("// Spec returns the apierror spec of the error x stands for, or nil for")
		g.P("// ", zero, " and values this build does not know.")
		g.P("func (x ", e.Proto.GoIdent, ") Spec() *", spec, " {")
		g.P("switch x {")
		for _, v := range e.Values {
			g.P("case ", v.Proto.GoIdent, ":")
			g.P("return ", specName(v))
		}
		g.P("}")
		g.P("return nil")
		g.P("}")
		g.P()
	}
}

// writeCatalog writes the Markdown catalog of every error: the request's,
// then the platform's.
func writeCatalog(g *protogen.GeneratedFile, enums []*options.ErrorEnum) {
	var values []*options.ErrorValue
	for _, e := range enums {
		values = append(values, e.Values...)
	}
	sort.Slice(values, func(i, j int) bool { return values[i].BusinessCode < values[j].BusinessCode })

	g.P("<!-- Code generated by ", Name, ". DO NOT EDIT. -->")
	g.P()
	g.P("# Error catalog")
	g.P()
	g.P("Every error a client of Tremolo's services can see, by business code: the")
	g.P("`status_code` the Douyin app reads. Each error travels over gRPC as its code")
	g.P("with a `google.rpc.ErrorInfo` (domain, reason, metadata `businessCode`), and")
	g.P("over REST with the HTTP status listed here.")
	g.P()
	g.P("## Service errors")
	g.P()
	g.P("Declared in `.proto` files with the `(tremolo.options.v1.error)` option; regenerate")
	g.P("this file with `buf generate`.")
	g.P()
	header := "| Business code | Domain | Reason | gRPC code | HTTP status | Retryable | Message | Proto element |"
	align := "| ---: | --- | --- | --- | ---: | --- | --- | --- |"
	if len(values) == 0 {
		g.P("No service declares errors yet.")
	} else {
		g.P(header)
		g.P(align)
		for _, v := range values {
			g.P(row(v.BusinessCode, v.Enum.Domain, v.Reason, options.CodeName(v.Code), v.HTTPStatus, v.Retryable, v.Message,
				fmt.Sprintf("`%s` (%s)", v.Name(), v.Enum.File.Desc.Path())))
		}
	}
	g.P()
	g.P("## Platform errors")
	g.P()
	g.P("Raised by the runtime rather than by a service (a missing token, a deadline,")
	g.P("an unexpected failure), and standing in for plain gRPC statuses without")
	g.P("`ErrorInfo`: `apierror.Platform` in `platform/apierror`. Any method can return them.")
	g.P()
	g.P(header)
	g.P(align)
	for _, s := range platformSpecs() {
		g.P(row(s.BusinessCode, s.Domain, s.Reason, options.CodeName(s.Code), s.HTTPStatus, s.Retryable, s.Message, "(platform)"))
	}
}

func row(business int32, domain, reason, code string, status int, retryable bool, message, element string) string {
	retry := "no"
	if retryable {
		retry = "yes"
	}
	cells := []string{
		strconv.Itoa(int(business)), cell(domain), "`" + reason + "`", code, strconv.Itoa(status), retry, cell(message), element,
	}
	return "| " + strings.Join(cells, " | ") + " |"
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	s = naming.CommentText(s)
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}
