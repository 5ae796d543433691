package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DecodeConfig decodes a plugin's JSON configuration into v (a pointer to
// the plugin's config struct, holding its defaults). Empty or blank config
// bytes leave v as it is, so a plugin without configuration keeps its
// defaults.
//
// Decoding is strict: an unknown field is an error, because a misspelt
// field silently ignored is a limit or a public route that is not what the
// operator believes. Errors name the field. Decoding uses reflection, which
// is fine: it runs once, when the instance is initialised.
func DecodeConfig(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return configDecodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("config: unexpected data after the JSON object")
	}
	return nil
}

func configDecodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("config field %s: got a JSON %s, want %s", field, typeErr.Value, jsonKind(typeErr.Type.String()))
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("config: not valid JSON at byte %d: %v", syntaxErr.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("config: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return fmt.Errorf("config: %w", err)
}

// jsonKind names a Go type as the JSON a user should have written.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "an object"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number (" + goType + ")"
	}
	return goType
}

// FieldError returns the error a plugin's Factory reports for an invalid
// config field, in the form DecodeConfig uses: "config field NAME: ...".
func FieldError(field, format string, args ...any) error {
	return fmt.Errorf("config field %s: %s", field, fmt.Sprintf(format, args...))
}
