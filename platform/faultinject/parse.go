package faultinject

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// fields are the keys of a rule in a file, in the order errors list them.
var fields = []string{"service", "method", "probability", "delay", "abort", "message"}

// Parse reads rules from YAML or JSON of the form the package describes.
// An empty document has no rules. Errors name the rule's index and field
// ("faultinject: faults[1].abort: unknown code \"UNAVAILBLE\""), and
// unknown keys are refused rather than ignored: a misspelt "probabilty"
// would otherwise turn a 1% experiment into a 100% outage.
func Parse(data []byte) ([]Rule, error) {
	doc := data
	if !json.Valid(data) { // JSON is read as is; anything else as YAML
		var err error
		if doc, err = yaml.YAMLToJSON(data); err != nil {
			return nil, fmt.Errorf("faultinject: neither JSON nor YAML: %w", err)
		}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, fmt.Errorf("faultinject: the document must be a mapping with a faults list")
	}
	for k := range top {
		if k != "faults" {
			return nil, fmt.Errorf("faultinject: unknown key %q: the document has only faults", k)
		}
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(top["faults"], &raws); top["faults"] != nil && err != nil {
		return nil, fmt.Errorf("faultinject: faults must be a list of rules")
	}
	var rules []Rule
	for i, raw := range raws {
		r, err := parseRule(i, raw)
		if err != nil {
			return nil, err
		}
		if err := r.validate(i); err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// parseRule reads the rule at index i, field by field, so that each
// error names its field in the file's words.
func parseRule(i int, raw json.RawMessage) (Rule, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Rule{}, fmt.Errorf("faultinject: faults[%d]: a rule must be a mapping of %s", i, strings.Join(fields, ", "))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(fields, k) {
			return Rule{}, fmt.Errorf("faultinject: faults[%d]: unknown field %q (the fields are %s)", i, k, strings.Join(fields, ", "))
		}
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("faultinject: faults[%d].%s: %s", i, field, fmt.Sprintf(format, args...))
	}
	str := func(field string) (string, error) {
		v, ok := m[field]
		if !ok || isNull(v) {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", bad(field, "must be a string, not %s", v)
		}
		return s, nil
	}

	r := Rule{Probability: 1}
	var err error
	if r.Service, err = str("service"); err != nil {
		return Rule{}, err
	}
	if r.Method, err = str("method"); err != nil {
		return Rule{}, err
	}
	if r.Message, err = str("message"); err != nil {
		return Rule{}, err
	}
	if v, ok := m["probability"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &r.Probability); err != nil {
			return Rule{}, bad("probability", "must be a number in (0, 1], not %s", v)
		}
	}
	delay, err := str("delay")
	if err != nil {
		return Rule{}, bad("delay", "must be a duration such as 200ms, not %s", m["delay"])
	}
	if delay != "" {
		if r.Delay, err = time.ParseDuration(delay); err != nil {
			return Rule{}, bad("delay", "%q is not a duration such as 200ms", delay)
		}
	}
	abort, err := str("abort")
	if err != nil {
		return Rule{}, bad("abort", "must be a gRPC code name such as UNAVAILABLE, not %s", m["abort"])
	}
	if abort != "" {
		c, ok := codeByName(abort)
		if strings.EqualFold(abort, "OK") {
			return Rule{}, bad("abort", "OK is not a failure; omit abort for a delay only")
		}
		if !ok {
			return Rule{}, bad("abort", "unknown code %q (want a gRPC code name such as UNAVAILABLE)", abort)
		}
		r.Abort = c
	}
	return r, nil
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }
