// Package naming holds the naming rules Tremolo's generators share: how an
// enum's value prefix, an error's reason and its Go identifiers are derived,
// and how numbers and durations are spelled in generated Go code.
package naming

import (
	"strconv"
	"strings"
	"time"
	"unicode"
)

// UpperSnake returns name in UPPER_SNAKE_CASE the way buf's ENUM_VALUE_PREFIX
// lint rule spells an enum's value prefix: "UserError" -> "USER_ERROR",
// "HTTPError" -> "HTTP_ERROR", "OAuth2Error" -> "O_AUTH2_ERROR".
func UpperSnake(name string) string {
	rs := []rune(name)
	var b strings.Builder
	for i, r := range rs {
		if r == '_' || r == '-' {
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			continue
		}
		if i > 0 && unicode.IsUpper(r) {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				if !strings.HasSuffix(b.String(), "_") {
					b.WriteByte('_')
				}
			}
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// Camel turns an UPPER_SNAKE_CASE name into CamelCase: "NAME_TAKEN" ->
// "NameTaken", "HTTP2_FAILED" -> "Http2Failed". Empty parts (doubled or
// trailing underscores) are dropped.
func Camel(upperSnake string) string {
	var b strings.Builder
	for _, part := range strings.Split(upperSnake, "_") {
		if part == "" {
			continue
		}
		rs := []rune(strings.ToLower(part))
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	return b.String()
}

// Float returns the shortest Go literal of f that parses back to f.
func Float(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Floats returns a Go []float64 composite literal's elements: "0.1, 0.5, 1".
func Floats(fs []float64) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = Float(f)
	}
	return strings.Join(parts, ", ")
}

// durationUnits are the time package's units, largest first.
var durationUnits = []struct {
	d    time.Duration
	name string
}{
	{time.Hour, "Hour"},
	{time.Minute, "Minute"},
	{time.Second, "Second"},
	{time.Millisecond, "Millisecond"},
	{time.Microsecond, "Microsecond"},
	{time.Nanosecond, "Nanosecond"},
}

// DurationUnit splits a positive d into n * unit, with unit the largest
// time package unit ("Hour", "Minute", ..., "Nanosecond") that divides d
// exactly: 1500ms -> (1500, "Millisecond"), 2m -> (2, "Minute").
func DurationUnit(d time.Duration) (n int64, unit string) {
	for _, u := range durationUnits {
		if d%u.d == 0 {
			return int64(d / u.d), u.name
		}
	}
	return int64(d), "Nanosecond"
}

// CommentText makes s safe to place inside a // comment: newlines become
// spaces.
func CommentText(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
