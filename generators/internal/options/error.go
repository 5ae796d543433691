package options

import (
	"errors"
	"strings"
)

// Package is the proto package of Tremolo's options.
const Package = "tremolo.options.v1"

// The extensions' names within Package.
const (
	ExtService = "service" // ServiceRules on google.protobuf.ServiceOptions
	ExtMethod  = "method"  // MethodRules on google.protobuf.MethodOptions
	ExtErrors  = "errors"  // ErrorSet on google.protobuf.EnumOptions
	ExtError   = "error"   // ErrorRule on google.protobuf.EnumValueOptions
)

// Kinds of proto elements, as Error names them.
const (
	KindService   = "service"
	KindMethod    = "method"
	KindEnum      = "enum"
	KindEnumValue = "enum value"
)

// Error is a problem with a proto element's options, rendered as
//
//	path/to/file.proto: <kind> <full name>: option (tremolo.options.v1.<ext>).<field>: <problem>
//
// The option part is left out when the problem is not about an option (an
// enum value's name), and ".<field>" when it is about the option as a whole.
// Enum values are named with their enum ("pkg.UserError.USER_ERROR_X"),
// which is how people read them, rather than by their scope-level full name.
type Error struct {
	File    string // the .proto file's path, as imported
	Kind    string // one of the Kind constants
	Name    string // the element's full name
	Ext     string // the extension's name within Package, or ""
	Field   string // the field path within the extension's message, or ""
	Problem string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	b.WriteString(": ")
	b.WriteString(e.Kind)
	b.WriteString(" ")
	b.WriteString(e.Name)
	b.WriteString(": ")
	if e.Ext != "" {
		b.WriteString("option (")
		b.WriteString(Package)
		b.WriteString(".")
		b.WriteString(e.Ext)
		b.WriteString(")")
		if e.Field != "" {
			b.WriteString(".")
			b.WriteString(e.Field)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Element identifies a proto element for error messages.
type Element struct {
	File string // path of the .proto file
	Kind string // one of the Kind constants
	Name string // full name
}

// Errorf returns an Error about el's option ext, field field.
func (el Element) Errorf(ext, field, problem string) *Error {
	return &Error{File: el.File, Kind: el.Kind, Name: el.Name, Ext: ext, Field: field, Problem: problem}
}

// Problems collects the errors found while reading a request, so that one
// run reports all of them rather than the first.
type Problems struct {
	errs []error
}

// Add records err; nil is ignored.
func (p *Problems) Add(err error) {
	if err != nil {
		p.errs = append(p.errs, err)
	}
}

// Len returns the number of problems recorded.
func (p *Problems) Len() int { return len(p.errs) }

// Err returns nil, or all problems joined one per line in the order found.
func (p *Problems) Err() error { return errors.Join(p.errs...) }
