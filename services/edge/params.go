package edge

import (
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
)

// integerParams are the app's numeric parameters, with the largest value
// each accepts. Ids and times are int64 (ids below 2^53 in practice);
// action_type is an int32.
var integerParams = map[string]int64{
	"user_id":      math.MaxInt64,
	"video_id":     math.MaxInt64,
	"to_user_id":   math.MaxInt64,
	"comment_id":   math.MaxInt64,
	"latest_time":  math.MaxInt64,
	"pre_msg_time": math.MaxInt64,
	"action_type":  math.MaxInt32,
}

// maxParamBytes bounds one parameter value; maxFormBytes a url-encoded body.
const (
	maxParamBytes = 8 << 10
	maxFormBytes  = 64 << 10
)

// normalizeInt returns the decimal form of an integer parameter. The app
// sends integers, but some clients pass ids through a float64 and print it
// ("1e+06", "1.680703713e+09"): such a value is accepted when it is an
// exact integer. Negative values and fractions are refused.
func normalizeInt(name, v string, max int64) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	// An unencoded '+' in a query arrives as a space: "1e+06" as "1e 06".
	v = strings.NewReplacer("e ", "e+", "E ", "E+").Replace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > max {
			return "", edgev1.ErrorInvalidParameter("%s must be between 0 and %d", name, max)
		}
		return v, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return "", edgev1.ErrorInvalidParameter("%s must be an integer", name)
	}
	if f != math.Trunc(f) {
		return "", edgev1.ErrorInvalidParameter("%s must be a whole number", name)
	}
	// float64 holds every integer below 2^53 exactly; beyond it, a float is
	// not trustworthy as an id.
	if f < 0 || f > float64(max) || f >= 1<<53 {
		return "", edgev1.ErrorInvalidParameter("%s must be between 0 and %d", name, min(max, 1<<53-1))
	}
	return strconv.FormatInt(int64(f), 10), nil
}

// parseParams merges the query string and a url-encoded form body into
// r.Form (grpc-gateway reads r.Form), checks every value is valid UTF-8 of
// sensible size, rewrites the integer parameters in decimal, and keeps one
// value per parameter: clients send the same value in both places, and
// grpc-gateway refuses repeated values for a single field. Conflicting
// values ("video_id=1" in the query, "video_id=2" in the body) are refused.
func parseParams(r *http.Request) error {
	// No route but publish takes a body other than a form: bound them all.
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return edgev1.ErrorInvalidParameter("malformed parameters: %s", formError(err))
	}
	// net/http reads form bodies of POST, PUT and PATCH only; the app's
	// clients also send them with GET.
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" && r.Method == http.MethodGet {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return edgev1.ErrorInvalidParameter("malformed parameters: %s", formError(err))
		}
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return edgev1.ErrorInvalidParameter("malformed parameters: %s", formError(err))
		}
		for k, vs := range values {
			r.Form[k] = append(r.Form[k], vs...)
		}
	}
	for name, values := range r.Form {
		for _, v := range values {
			if len(v) > maxParamBytes || !utf8.ValidString(v) {
				return edgev1.ErrorInvalidParameter("parameter %s is too long or not UTF-8", safeName(name))
			}
		}
		max, numeric := integerParams[name]
		if !numeric {
			for _, v := range values[1:] {
				if v != values[0] {
					return edgev1.ErrorInvalidParameter("parameter %s is given twice with different values", safeName(name))
				}
			}
			r.Form[name] = values[:1]
			continue
		}
		var norm string
		for i, v := range values {
			n, err := normalizeInt(name, v, max)
			if err != nil {
				return err
			}
			if i > 0 && n != norm {
				return edgev1.ErrorInvalidParameter("%s is given twice with different values", name)
			}
			norm = n
		}
		if norm == "" {
			delete(r.Form, name)
		} else {
			r.Form[name] = []string{norm}
		}
	}
	return nil
}

func formError(err error) string {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fmt.Sprintf("the form body exceeds %d bytes", tooBig.Limit)
	}
	if _, ok := err.(url.EscapeError); ok {
		return "bad percent-encoding"
	}
	return "cannot parse the query or form"
}

// safeName keeps a parameter name printable in an error message.
func safeName(name string) string {
	if len(name) > 64 || !utf8.ValidString(name) {
		return "(unprintable)"
	}
	return strconv.Quote(name)
}
