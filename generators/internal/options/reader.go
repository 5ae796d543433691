// Package options reads and validates Tremolo's descriptor options
// (proto/tremolo/options/v1/options.proto) for the generators, resolving
// their defaults: a Service or ErrorEnum it returns is what the platform
// will run, and every problem is an *Error naming the file, the element and
// the option field.
//
// The options are read dynamically, through the descriptors of
// options.proto that every CodeGeneratorRequest using them carries, rather
// than through the Go package protoc-gen-go generates from options.proto
// (gen/tremolo/options/v1). The generators run while buf generate writes
// gen/, so they must not depend on it: a clean gen/ must still generate.
package options

import (
	"fmt"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// httpRule is the full name of grpc-gateway's binding option.
const httpRule = "google.api.http"

// Reader reads options from the descriptors of one request.
type Reader struct {
	// exts are Tremolo's extensions by name within Package; absent when no
	// file of the request imports options.proto.
	exts map[string]protoreflect.ExtensionDescriptor
	// http is google.api.http, or nil when no file imports it.
	http protoreflect.ExtensionDescriptor
}

// NewReader finds the option extensions among the request's files.
func NewReader(gen *protogen.Plugin) *Reader {
	r := &Reader{exts: map[string]protoreflect.ExtensionDescriptor{}}
	for _, f := range gen.Files {
		xds := f.Desc.Extensions()
		for i := 0; i < xds.Len(); i++ {
			xd := xds.Get(i)
			switch {
			case xd.FullName() == httpRule:
				r.http = xd
			case xd.FullName().Parent() == Package && xd.Message() != nil:
				r.exts[string(xd.Name())] = xd
			}
		}
	}
	return r
}

// read returns the value of extension xd in opts as a dynamic message, or
// nil when opts does not set it. It works whether or not the extension was
// known when opts was parsed: opts is marshalled and the extension's
// occurrences are decoded (and merged, as proto does) with xd's own
// descriptor.
func read(opts proto.Message, xd protoreflect.ExtensionDescriptor) (protoreflect.Message, error) {
	if xd == nil || opts == nil || !opts.ProtoReflect().IsValid() {
		return nil, nil
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("marshalling options: %v", err)
	}
	var value []byte
	found := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("decoding options: %v", protowire.ParseError(n))
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, fmt.Errorf("decoding options: %v", protowire.ParseError(m))
		}
		if num == xd.Number() && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			value = append(value, v...)
			found = true
		}
		b = b[m:]
	}
	if !found {
		return nil, nil
	}
	msg := dynamicpb.NewMessage(xd.Message())
	if err := proto.Unmarshal(value, msg); err != nil {
		return nil, fmt.Errorf("decoding option (%s): %v", xd.FullName(), err)
	}
	return msg, nil
}

// ext reads Tremolo extension name from opts.
func (r *Reader) ext(opts proto.Message, name string) (protoreflect.Message, error) {
	return read(opts, r.exts[name])
}

// HasHTTP reports whether m has a google.api.http binding.
func (r *Reader) HasHTTP(m *protogen.Method) (bool, error) {
	v, err := read(m.Desc.Options(), r.http)
	return v != nil, err
}

// msg wraps a dynamic option message with typed getters by field name. A
// field options.proto does not declare (a renamed field the generators were
// not updated for) is recorded in err rather than panicking.
type msg struct {
	m   protoreflect.Message
	err error
}

func (d *msg) field(name string) protoreflect.FieldDescriptor {
	if d.m == nil {
		return nil
	}
	fd := d.m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil && d.err == nil {
		d.err = fmt.Errorf("%s has no field %q: the generators do not match options.proto", d.m.Descriptor().FullName(), name)
	}
	return fd
}

func (d *msg) has(name string) bool {
	fd := d.field(name)
	return fd != nil && d.m.Has(fd)
}

func (d *msg) str(name string) string {
	if fd := d.field(name); fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList() {
		return d.m.Get(fd).String()
	}
	d.kindErr(name)
	return ""
}

func (d *msg) boolean(name string) bool {
	if fd := d.field(name); fd != nil && fd.Kind() == protoreflect.BoolKind && !fd.IsList() {
		return d.m.Get(fd).Bool()
	}
	d.kindErr(name)
	return false
}

func (d *msg) int32(name string) int32 {
	if fd := d.field(name); fd != nil && fd.Kind() == protoreflect.Int32Kind && !fd.IsList() {
		return int32(d.m.Get(fd).Int())
	}
	d.kindErr(name)
	return 0
}

func (d *msg) uint32(name string) uint32 {
	if fd := d.field(name); fd != nil && fd.Kind() == protoreflect.Uint32Kind && !fd.IsList() {
		return uint32(d.m.Get(fd).Uint())
	}
	d.kindErr(name)
	return 0
}

func (d *msg) enum(name string) protoreflect.EnumNumber {
	if fd := d.field(name); fd != nil && fd.Kind() == protoreflect.EnumKind && !fd.IsList() {
		return d.m.Get(fd).Enum()
	}
	d.kindErr(name)
	return 0
}

func (d *msg) doubles(name string) []float64 {
	fd := d.field(name)
	if fd == nil || fd.Kind() != protoreflect.DoubleKind || !fd.IsList() {
		d.kindErr(name)
		return nil
	}
	l := d.m.Get(fd).List()
	out := make([]float64, l.Len())
	for i := range out {
		out[i] = l.Get(i).Float()
	}
	return out
}

func (d *msg) message(name string) *msg {
	if fd := d.field(name); fd != nil && fd.Message() != nil && !fd.IsList() {
		if !d.m.Has(fd) {
			return &msg{}
		}
		return &msg{m: d.m.Get(fd).Message()}
	}
	d.kindErr(name)
	return &msg{}
}

func (d *msg) messages(name string) []*msg {
	fd := d.field(name)
	if fd == nil || fd.Message() == nil || !fd.IsList() {
		d.kindErr(name)
		return nil
	}
	l := d.m.Get(fd).List()
	out := make([]*msg, l.Len())
	for i := range out {
		out[i] = &msg{m: l.Get(i).Message()}
	}
	return out
}

// kindErr records that a field exists but is not of the type the generators
// expect.
func (d *msg) kindErr(name string) {
	if d.m == nil || d.err != nil {
		return
	}
	if d.m.Descriptor().Fields().ByName(protoreflect.Name(name)) != nil {
		d.err = fmt.Errorf("%s.%s has a type the generators do not expect: they do not match options.proto", d.m.Descriptor().FullName(), name)
	}
}

// merge returns the first error of d and its sub-messages.
func firstErr(ms ...*msg) error {
	for _, m := range ms {
		if m != nil && m.err != nil {
			return m.err
		}
	}
	return nil
}
