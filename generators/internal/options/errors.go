package options

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tremolo-dev/tremolo/generators/internal/naming"
	"github.com/tremolo-dev/tremolo/platform/apierror"
)

// ErrorEnum is an error enum (one with the errors option, or with the error
// option on any value) with its options read and validated.
type ErrorEnum struct {
	Proto *protogen.Enum
	File  *protogen.File
	// Domain is ErrorSet.domain, or the proto package.
	Domain string
	// Prefix is the enum's value prefix, "USER_ERROR_" for UserError.
	Prefix string
	// Values are the errors: every value but the zero value, in
	// declaration order.
	Values []*ErrorValue
}

// FullName returns the enum's full proto name.
func (e *ErrorEnum) FullName() string { return string(e.Proto.Desc.FullName()) }

// ErrorValue is one error: an enum value and its ErrorRule, resolved.
type ErrorValue struct {
	Proto *protogen.EnumValue
	Enum  *ErrorEnum
	// Reason is the value's name without the enum's prefix.
	Reason string
	Code   codes.Code
	// HTTPStatus is http_status, or grpc-gateway's mapping of Code.
	HTTPStatus   int
	BusinessCode int32
	Retryable    bool
	// LogLevel is log_level, or derived from Code when unspecified.
	LogLevel  slog.Level
	Message   string
	Localized []Localized
}

// Name returns the value's name qualified by its enum's full name, as
// errors name it: "douyin.user.v1.UserError.USER_ERROR_NAME_TAKEN".
func (v *ErrorValue) Name() string { return ValueName(v.Proto) }

// Element returns v for error messages.
func (v *ErrorValue) Element() Element {
	return Element{File: v.Enum.File.Desc.Path(), Kind: KindEnumValue, Name: v.Name()}
}

// ValueName returns an enum value's name qualified by its enum's full name.
func ValueName(v *protogen.EnumValue) string {
	return string(v.Parent.Desc.FullName()) + "." + string(v.Desc.Name())
}

// Localized is a translation of an error's message.
type Localized struct {
	Locale  string
	Message string
}

// CodeName returns the google.rpc.Code name of c ("ALREADY_EXISTS"), as
// written in .proto files.
func CodeName(c codes.Code) string {
	if int(c) < len(rpcCodeNames) {
		return rpcCodeNames[c]
	}
	return fmt.Sprintf("Code(%d)", c)
}

// rpcCodeNames are google.rpc.Code's value names, by number.
var rpcCodeNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
}

// Values of tremolo.options.v1.LogLevel.
var logLevels = map[protoreflect.EnumNumber]slog.Level{
	1: slog.LevelDebug,
	2: slog.LevelInfo,
	3: slog.LevelWarn,
	4: slog.LevelError,
}

// DefaultLogLevel is the level of errors whose log_level is unspecified:
// ERROR for server-side codes, INFO for the rest.
func DefaultLogLevel(c codes.Code) slog.Level {
	switch c {
	case codes.Internal, codes.Unavailable, codes.DataLoss, codes.Unknown, codes.DeadlineExceeded:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// AllEnums returns f's enums, nested ones included, in declaration order.
func AllEnums(f *protogen.File) []*protogen.Enum {
	out := append([]*protogen.Enum(nil), f.Enums...)
	var walk func([]*protogen.Message)
	walk = func(ms []*protogen.Message) {
		for _, m := range ms {
			out = append(out, m.Enums...)
			walk(m.Messages)
		}
	}
	walk(f.Messages)
	return out
}

// IsErrorEnum reports whether e has the errors option or any of its values
// the error option.
func (r *Reader) IsErrorEnum(e *protogen.Enum) (bool, error) {
	if v, err := r.ext(e.Desc.Options(), ExtErrors); v != nil || err != nil {
		return v != nil, err
	}
	for _, v := range e.Values {
		if x, err := r.ext(v.Desc.Options(), ExtError); x != nil || err != nil {
			return x != nil, err
		}
	}
	return false, nil
}

// ErrorEnums returns f's error enums, validated on their own; rules across
// files (unique business codes, reasons and Go names) are the caller's.
// Every problem found is returned, joined.
func (r *Reader) ErrorEnums(f *protogen.File) ([]*ErrorEnum, error) {
	var probs Problems
	var out []*ErrorEnum
	for _, e := range AllEnums(f) {
		el := Element{File: f.Desc.Path(), Kind: KindEnum, Name: string(e.Desc.FullName())}
		ok, err := r.IsErrorEnum(e)
		if err != nil {
			probs.Add(el.Errorf(ExtErrors, "", err.Error()))
			continue
		}
		if !ok {
			continue
		}
		ee, err := r.errorEnum(f, e)
		if err != nil {
			probs.Add(err)
			continue
		}
		out = append(out, ee)
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Reader) errorEnum(f *protogen.File, e *protogen.Enum) (*ErrorEnum, error) {
	var probs Problems
	el := Element{File: f.Desc.Path(), Kind: KindEnum, Name: string(e.Desc.FullName())}
	opt, err := r.ext(e.Desc.Options(), ExtErrors)
	if err != nil {
		return nil, el.Errorf(ExtErrors, "", err.Error())
	}
	set := &msg{m: opt}
	ee := &ErrorEnum{
		Proto:  e,
		File:   f,
		Domain: set.str("domain"),
		Prefix: naming.UpperSnake(string(e.Desc.Name())) + "_",
	}
	if err := firstErr(set); err != nil {
		return nil, el.Errorf(ExtErrors, "", err.Error())
	}
	switch {
	case ee.Domain == "" && f.Desc.Package() == "":
		probs.Add(el.Errorf(ExtErrors, "domain", "not set, and the file has no package to default to; set it"))
	case ee.Domain == "":
		ee.Domain = string(f.Desc.Package())
	case strings.ContainsAny(ee.Domain, "/ \t\r\n"):
		probs.Add(el.Errorf(ExtErrors, "domain", fmt.Sprintf("%q must not contain '/' or spaces: use a DNS-style name", ee.Domain)))
	}

	unspecified := ee.Prefix + "UNSPECIFIED"
	zeroSeen := false
	byNumber := map[protoreflect.EnumNumber]*protogen.EnumValue{}
	for _, v := range e.Values {
		vel := Element{File: f.Desc.Path(), Kind: KindEnumValue, Name: ValueName(v)}
		num := v.Desc.Number()
		if prev, dup := byNumber[num]; dup {
			probs.Add(&Error{File: vel.File, Kind: vel.Kind, Name: vel.Name,
				Problem: fmt.Sprintf("has the same number (%d) as %s: an error enum cannot have aliases", num, prev.Desc.Name())})
			continue
		}
		byNumber[num] = v
		opt, err := r.ext(v.Desc.Options(), ExtError)
		if err != nil {
			probs.Add(vel.Errorf(ExtError, "", err.Error()))
			continue
		}
		if num == 0 {
			zeroSeen = true
			if string(v.Desc.Name()) != unspecified {
				probs.Add(&Error{File: vel.File, Kind: vel.Kind, Name: vel.Name,
					Problem: fmt.Sprintf("the zero value of an error enum must be named %s", unspecified)})
			}
			if opt != nil {
				probs.Add(vel.Errorf(ExtError, "", "the zero value means \"no error\" and must not have an error rule"))
			}
			continue
		}
		if opt == nil {
			probs.Add(vel.Errorf(ExtError, "", fmt.Sprintf("missing: every value of an error enum except %s needs an error rule", unspecified)))
			continue
		}
		ev, err := errorValue(vel, ee, v, &msg{m: opt})
		if err != nil {
			probs.Add(err)
			continue
		}
		ee.Values = append(ee.Values, ev)
	}
	if !zeroSeen {
		probs.Add(&Error{File: el.File, Kind: el.Kind, Name: el.Name,
			Problem: fmt.Sprintf("an error enum needs a zero value named %s", unspecified)})
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return ee, nil
}

func errorValue(el Element, ee *ErrorEnum, v *protogen.EnumValue, rule *msg) (*ErrorValue, error) {
	var probs Problems
	name := string(v.Desc.Name())
	ev := &ErrorValue{
		Proto:        v,
		Enum:         ee,
		Reason:       strings.TrimPrefix(name, ee.Prefix),
		BusinessCode: rule.int32("business_code"),
		Retryable:    rule.boolean("retryable"),
		Message:      rule.str("message"),
	}
	if !strings.HasPrefix(name, ee.Prefix) || ev.Reason == "" {
		probs.Add(&Error{File: el.File, Kind: el.Kind, Name: el.Name,
			Problem: fmt.Sprintf("the name must be %s followed by the reason (the enum's name in UPPER_SNAKE_CASE, then the reason)", ee.Prefix)})
	}

	switch c := rule.enum("code"); {
	case c == 0:
		probs.Add(el.Errorf(ExtError, "code", "required: set a gRPC status code other than OK"))
	case int(c) >= len(rpcCodeNames) || c < 0:
		probs.Add(el.Errorf(ExtError, "code", fmt.Sprintf("%d is not a google.rpc.Code", c)))
	default:
		ev.Code = codes.Code(c)
	}

	switch hs := rule.int32("http_status"); {
	case hs == 0:
		if ev.Code != codes.OK {
			ev.HTTPStatus = runtime.HTTPStatusFromCode(ev.Code)
		}
	case hs < 400 || hs > 599:
		probs.Add(el.Errorf(ExtError, "http_status", fmt.Sprintf("%d is outside 400-599 (0 means the standard mapping of the gRPC code)", hs)))
	default:
		ev.HTTPStatus = int(hs)
	}

	switch bc := ev.BusinessCode; {
	case bc == 0:
		probs.Add(el.Errorf(ExtError, "business_code", fmt.Sprintf("required: set a code of at least %d, unique across the repository", apierror.MinServiceBusinessCode)))
	case bc < apierror.MinServiceBusinessCode:
		probs.Add(el.Errorf(ExtError, "business_code", fmt.Sprintf("%d is below %d: smaller codes are the platform's own (apierror.MinServiceBusinessCode)", bc, apierror.MinServiceBusinessCode)))
	}

	if strings.TrimSpace(ev.Message) == "" {
		probs.Add(el.Errorf(ExtError, "message", "required: the message a caller sees when the code returning the error gives none"))
	}

	switch ll := rule.enum("log_level"); {
	case ll == 0:
		ev.LogLevel = DefaultLogLevel(ev.Code)
	default:
		lvl, ok := logLevels[ll]
		if !ok {
			probs.Add(el.Errorf(ExtError, "log_level", fmt.Sprintf("%d is not a tremolo.options.v1.LogLevel", ll)))
		}
		ev.LogLevel = lvl
	}

	seen := map[string]int{}
	for i, lm := range rule.messages("localized") {
		l := Localized{Locale: lm.str("locale"), Message: lm.str("message")}
		if err := firstErr(lm); err != nil {
			return nil, el.Errorf(ExtError, "", err.Error())
		}
		field := fmt.Sprintf("localized[%d]", i)
		switch prev, dup := seen[l.Locale]; {
		case strings.TrimSpace(l.Locale) == "":
			probs.Add(el.Errorf(ExtError, field+".locale", "required: a BCP-47 tag such as \"zh-CN\""))
		case dup:
			probs.Add(el.Errorf(ExtError, field+".locale", fmt.Sprintf("%q is already listed in localized[%d]", l.Locale, prev)))
		default:
			seen[l.Locale] = i
		}
		if strings.TrimSpace(l.Message) == "" {
			probs.Add(el.Errorf(ExtError, field+".message", "required"))
		}
		ev.Localized = append(ev.Localized, l)
	}
	if err := firstErr(rule); err != nil {
		return nil, el.Errorf(ExtError, "", err.Error())
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return ev, nil
}
