package breaker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"sigs.k8s.io/yaml"
)

// settingsDoc is Settings as an operator writes it (dynamic configuration's
// "breakers" document). Absent fields keep their defaults.
type settingsDoc struct {
	FailureRatio   *float64 `json:"failure_ratio"`
	MinRequests    *int     `json:"min_requests"`
	Window         *string  `json:"window"`
	SleepWindow    *string  `json:"sleep_window"`
	HalfOpenProbes *int     `json:"half_open_probes"`
}

// ParseSettings reads thresholds from YAML or JSON:
//
//	failure_ratio: 0.5      # open at half the calls failing
//	min_requests: 20        # ...once the window has this many calls
//	window: 10s
//	sleep_window: 5s        # open → half-open after this
//	half_open_probes: 5
//
// Fields left out take DefaultSettings' values; unknown fields and values
// out of range are errors naming them, so a typo is refused rather than
// producing a breaker that never trips. An empty document is the defaults.
func ParseSettings(data []byte) (Settings, error) {
	s := DefaultSettings()
	if len(bytes.TrimSpace(data)) == 0 {
		return s, nil
	}
	doc, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Settings{}, fmt.Errorf("breaker: settings are neither YAML nor JSON: %w", err)
	}
	var d settingsDoc
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Settings{}, fmt.Errorf("breaker: settings: %w", err)
	}
	if d.FailureRatio != nil {
		s.FailureRatio = *d.FailureRatio
	}
	if d.MinRequests != nil {
		s.MinRequests = *d.MinRequests
	}
	if d.HalfOpenProbes != nil {
		s.HalfOpenProbes = *d.HalfOpenProbes
	}
	for name, f := range map[string]struct {
		v   *string
		dst *time.Duration
	}{"window": {d.Window, &s.Window}, "sleep_window": {d.SleepWindow, &s.SleepWindow}} {
		if f.v == nil {
			continue
		}
		v, err := time.ParseDuration(*f.v)
		if err != nil {
			return Settings{}, fmt.Errorf("breaker: settings: %s %q is not a duration such as 5s", name, *f.v)
		}
		*f.dst = v
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}
