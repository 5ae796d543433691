package edge

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	appv1 "github.com/tremolo-dev/tremolo/gen/douyin/app/v1"
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
// The bytes are in a buffer lent from a pool (buffers.go): the edge's
// handler gives it back once it has written them, so they are for one
// write only. A caller that keeps them must never write them through the
// edge's handler (the buffer would be reused under it).
func (Marshaler) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return json.Marshal(v)
	}
	return encodePooled(m.ProtoReflect()), nil
}

// marshal encodes a proto message into memory of its own.
func marshal(m proto.Message) []byte {
	return appendMessage(make([]byte, 0, 512), m.ProtoReflect())
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

// field is how a message field is written: its key, already quoted and
// followed by a colon, and its descriptor.
type field struct {
	key string
	fd  protoreflect.FieldDescriptor
}

// plans caches the fields of each message type (protoreflect.FullName to
// []field): computing keys and descriptors once per type rather than once
// per message keeps reflection off the hot path of every list.
var plans sync.Map

func plan(md protoreflect.MessageDescriptor) []field {
	if p, ok := plans.Load(md.FullName()); ok {
		return p.([]field)
	}
	fields := md.Fields()
	p := make([]field, fields.Len())
	for i := range p {
		fd := fields.Get(i)
		name, ok := jsonNames[fd.FullName()]
		if !ok {
			name = string(fd.Name())
		}
		p[i] = field{key: string(appendString(nil, name)) + ":", fd: fd}
	}
	plans.Store(md.FullName(), p)
	return p
}

// appendMessage appends m as the app's JSON.
func appendMessage(b []byte, m protoreflect.Message) []byte {
	var users userMemo
	return users.message(b, m)
}

// userMemo remembers where the users written so far in one buffer are, so
// that a user met again (a feed page's thirty videos have a handful of
// authors, each one message shared by their videos) is copied rather than
// encoded again. Only the first few users are remembered: lists of many
// distinct users gain nothing from it. A message must not change while it
// is being written, so a user's bytes hold for the whole buffer.
type userMemo struct {
	n          int
	users      [8]*appv1.User
	start, end [8]int
}

func (memo *userMemo) message(b []byte, m protoreflect.Message) []byte {
	switch x := m.Interface().(type) {
	case *appv1.Video:
		return memo.video(b, x)
	case *appv1.User:
		return memo.user(b, x)
	}
	return memo.fields(b, m)
}

func (memo *userMemo) user(b []byte, u *appv1.User) []byte {
	for i := range memo.n {
		if memo.users[i] == u {
			return append(b, b[memo.start[i]:memo.end[i]]...)
		}
	}
	start := len(b)
	b = appendUser(b, u)
	if memo.n < len(memo.users) {
		memo.users[memo.n], memo.start[memo.n], memo.end[memo.n] = u, start, len(b)
		memo.n++
	}
	return b
}

// video and appendUser write the two messages of every list the app loads
// (a feed page holds 30 of each) without reflection, several times faster
// than fields. TestFastPathsMatchReflection fails when
// app.proto gains a field they do not write.
func (memo *userMemo) video(b []byte, v *appv1.Video) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, v.GetId(), 10)
	b = append(b, `,"author":`...)
	if v.GetAuthor() == nil {
		b = append(b, "null"...)
	} else {
		b = memo.user(b, v.GetAuthor())
	}
	b = append(b, `,"play_url":`...)
	b = appendString(b, v.GetPlayUrl())
	b = append(b, `,"cover_url":`...)
	b = appendString(b, v.GetCoverUrl())
	b = append(b, `,"favorite_count":`...)
	b = strconv.AppendInt(b, v.GetFavoriteCount(), 10)
	b = append(b, `,"comment_count":`...)
	b = strconv.AppendInt(b, v.GetCommentCount(), 10)
	b = append(b, `,"is_favorite":`...)
	b = strconv.AppendBool(b, v.GetIsFavorite())
	b = append(b, `,"title":`...)
	b = appendString(b, v.GetTitle())
	return append(b, '}')
}

func appendUser(b []byte, u *appv1.User) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, u.GetId(), 10)
	b = append(b, `,"name":`...)
	b = appendString(b, u.GetName())
	b = append(b, `,"follow_count":`...)
	b = strconv.AppendInt(b, u.GetFollowCount(), 10)
	b = append(b, `,"follower_count":`...)
	b = strconv.AppendInt(b, u.GetFollowerCount(), 10)
	b = append(b, `,"is_follow":`...)
	b = strconv.AppendBool(b, u.GetIsFollow())
	b = append(b, `,"avatar":`...)
	b = appendString(b, u.GetAvatar())
	b = append(b, `,"background_image":`...)
	b = appendString(b, u.GetBackgroundImage())
	b = append(b, `,"signature":`...)
	b = appendString(b, u.GetSignature())
	b = append(b, `,"total_favorited":`...)
	b = strconv.AppendInt(b, u.GetTotalFavorited(), 10)
	b = append(b, `,"work_count":`...)
	b = strconv.AppendInt(b, u.GetWorkCount(), 10)
	b = append(b, `,"favorite_count":`...)
	b = strconv.AppendInt(b, u.GetFavoriteCount(), 10)
	return append(b, '}')
}

// fields writes any message through reflection.
func (memo *userMemo) fields(b []byte, m protoreflect.Message) []byte {
	b = append(b, '{')
	for i, f := range plan(m.Descriptor()) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, f.key...)
		fd := f.fd
		switch {
		case fd.IsList():
			list := m.Get(fd).List()
			b = append(b, '[')
			for j := 0; j < list.Len(); j++ {
				if j > 0 {
					b = append(b, ',')
				}
				b = memo.value(b, fd, list.Get(j))
			}
			b = append(b, ']')
		case fd.IsMap():
			mp := m.Get(fd).Map()
			b = append(b, '{')
			first := true
			mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				if !first {
					b = append(b, ',')
				}
				first = false
				b = appendString(b, k.String())
				b = append(b, ':')
				b = memo.value(b, fd.MapValue(), v)
				return true
			})
			b = append(b, '}')
		case fd.Message() != nil && !m.Has(fd):
			b = append(b, "null"...)
		default:
			b = memo.value(b, fd, m.Get(fd))
		}
	}
	return append(b, '}')
}

func (memo *userMemo) value(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) []byte {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return memo.message(b, v.Message())
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.AppendInt(b, v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(b, v.Uint(), 10)
	case protoreflect.EnumKind:
		return strconv.AppendInt(b, int64(v.Enum()), 10)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case protoreflect.StringKind:
		return appendString(b, v.String())
	case protoreflect.BytesKind:
		return appendString(b, base64.StdEncoding.EncodeToString(v.Bytes()))
	}
	return b
}

// plainASCII tells the ASCII bytes a JSON string holds as they are.
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string, escaping as encoding/json does
// (including <, > and & for HTML safety, and U+2028/U+2029) and replacing
// invalid UTF-8 with U+FFFD. It is on the hot path of every list the app
// loads, hence no per-string allocation.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plainASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\')
				b = append(b, c)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			default:
				b = append(b, `\u00`...)
				b = append(b, hex[c>>4])
				b = append(b, hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
