package edge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// jsonNames overrides a field's JSON key where the app's contract breaks
// its own snake_case rule.
var jsonNames = map[protoreflect.FullName]string{
	"douyin.app.v1.FriendUser.msg_type": "msgType",
}

// Marshaler writes messages as the Douyin app reads them: keys are the proto
// field names, 64-bit integers are JSON numbers (the app parses ids as
// numbers, and they stay below 2^53), every field is present, and lists are
// [] rather than null. It implements runtime.Marshaler.
type Marshaler struct{}

var _ runtime.Marshaler = Marshaler{}

// ContentType returns application/json.
func (Marshaler) ContentType(any) string { return "application/json" }

// Marshal encodes a proto message; anything else goes through encoding/json.
func (Marshaler) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return json.Marshal(v)
	}
	var b bytes.Buffer
	writeMessage(&b, m.ProtoReflect())
	return b.Bytes(), nil
}

// Unmarshal decodes proto JSON (the edge's routes take no body, but the
// interface asks for it).
func (Marshaler) Unmarshal(data []byte, v any) error {
	if m, ok := v.(proto.Message); ok {
		return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, m)
	}
	return json.Unmarshal(data, v)
}

// NewDecoder returns a decoder reading whole JSON values from r.
func (m Marshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return m.Unmarshal(data, v)
	})
}

// NewEncoder returns an encoder writing to w.
func (m Marshaler) NewEncoder(w io.Writer) runtime.Encoder {
	return runtime.EncoderFunc(func(v any) error {
		b, err := m.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}

func writeMessage(b *bytes.Buffer, m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	b.WriteByte('{')
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if i > 0 {
			b.WriteByte(',')
		}
		name, ok := jsonNames[fd.FullName()]
		if !ok {
			name = string(fd.Name())
		}
		writeString(b, name)
		b.WriteByte(':')
		switch {
		case fd.IsList():
			list := m.Get(fd).List()
			b.WriteByte('[')
			for j := 0; j < list.Len(); j++ {
				if j > 0 {
					b.WriteByte(',')
				}
				writeValue(b, fd, list.Get(j))
			}
			b.WriteByte(']')
		case fd.IsMap():
			mp := m.Get(fd).Map()
			b.WriteByte('{')
			first := true
			mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				if !first {
					b.WriteByte(',')
				}
				first = false
				writeString(b, k.String())
				b.WriteByte(':')
				writeValue(b, fd.MapValue(), v)
				return true
			})
			b.WriteByte('}')
		case fd.Message() != nil && !m.Has(fd):
			b.WriteString("null")
		default:
			writeValue(b, fd, m.Get(fd))
		}
	}
	b.WriteByte('}')
}

func writeValue(b *bytes.Buffer, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		writeMessage(b, v.Message())
	case protoreflect.BoolKind:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case protoreflect.EnumKind:
		b.WriteString(strconv.FormatInt(int64(v.Enum()), 10))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			b.WriteString("null")
			return
		}
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	case protoreflect.StringKind:
		writeString(b, v.String())
	case protoreflect.BytesKind:
		writeString(b, base64.StdEncoding.EncodeToString(v.Bytes()))
	}
}

// writeString writes s as a JSON string, escaping as encoding/json does
// (including <, > and & for HTML safety, and U+2028/U+2029) and replacing
// invalid UTF-8 with U+FFFD. It is on the hot path of every list the app
// loads, hence no per-string allocation.
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b.WriteString(s[start:i])
			b.WriteString(`\u202`)
			b.WriteByte(hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}
