package dynconfig

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// Bind subscribes to a document through a decoder, so that a consumer
// deals in its own configuration type and every decoding error is a
// refusal the Watcher logs and counts like any other. decode receives nil
// when the document does not exist: it returns the consumer's defaults
// then (DecodeYAML returns the zero T). apply receives only what decode
// accepted; an error from either keeps the consumer's previous
// configuration. See Watcher.Subscribe for when apply is called.
//
//	dynconfig.Bind(w, "ratelimit", dynconfig.DecodeYAML[Limits], limiter.SetLimits)
func Bind[T any](w *Watcher, name string, decode func([]byte) (T, error), apply func(T) error) (unsubscribe func()) {
	return w.Subscribe(name, func(data []byte, present bool) error {
		if !present {
			data = nil
		}
		v, err := decode(data)
		if err != nil {
			return fmt.Errorf("decoding %q: %w", name, err)
		}
		return apply(v)
	})
}

// DecodeYAML decodes a YAML or JSON document into a T, refusing fields T
// does not have (a misspelt key silently ignored is a setting silently
// not applied). Empty data decodes to the zero T. Validation beyond the
// types is the consumer's, in apply or in a decoder wrapping this one.
func DecodeYAML[T any](data []byte) (T, error) {
	var v T
	if err := yaml.UnmarshalStrict(data, &v); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}
