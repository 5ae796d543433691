package abrouting

import (
	"fmt"
	"strings"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
)

// Config is the plugin's JSON configuration (see README.md).
type Config struct {
	// Versions split traffic between deployments by weight (canary: 95
	// and 5). Empty: no version is chosen except by a variant's label.
	Versions []Arm `json:"versions"`
	// Salt makes the version split independent of experiments' splits.
	// Default "versions"; change it to reshuffle users.
	Salt string `json:"salt"`
	// Experiments assign each request a variant of each experiment whose
	// paths match.
	Experiments []Experiment `json:"experiments"`
	// StickyCookie names the cookie that keeps an anonymous client in its
	// arms when there is no user id; without it (or the cookie) the client
	// IP is used.
	StickyCookie string `json:"sticky_cookie"`
	// OverrideHeader and OverrideCookie name where testers force arms:
	// "version=canary,feed-ranker=v2". Only configured names are accepted.
	// Empty: no overrides.
	OverrideHeader string `json:"override_header"`
	OverrideCookie string `json:"override_cookie"`
}

// Arm is a version or an experiment's variant.
type Arm struct {
	// Name identifies the arm in overrides and X-Tremolo-Experiment.
	Name string `json:"name"`
	// Weight is the arm's share of traffic, relative to its siblings'.
	Weight int `json:"weight"`
	// Label is what X-Tremolo-Version carries for the arm: the instance
	// metadata service routing matches. A version's defaults to its name;
	// a variant's to none (the variant does not choose a deployment).
	Label string `json:"label"`
}

// Experiment is an A/B experiment.
type Experiment struct {
	// Name identifies it; also the default salt.
	Name string `json:"name"`
	// Salt makes the split independent of other experiments'; default
	// Name.
	Salt string `json:"salt"`
	// Paths limit it to routes: "/douyin/feed" (exact, a trailing slash
	// ignored) or "/douyin/*" (prefix). Empty: every path.
	Paths []string `json:"paths"`
	// Variants split its traffic by weight.
	Variants []Arm `json:"variants"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{Salt: "versions"} }

func (c *Config) validate() error {
	if err := validateArms("versions", c.Versions, true); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range c.Experiments {
		e := &c.Experiments[i]
		field := fmt.Sprintf("experiments[%d]", i)
		if !validName(e.Name) || e.Name == "version" {
			return sdk.FieldError(field+".name", "%q is not a valid name (letters, digits, '.', '_', '-'; not \"version\")", e.Name)
		}
		if seen[e.Name] {
			return sdk.FieldError(field+".name", "%q is used twice", e.Name)
		}
		seen[e.Name] = true
		if e.Salt == "" {
			e.Salt = e.Name
		}
		if len(e.Variants) == 0 {
			return sdk.FieldError(field+".variants", "at least one variant is needed")
		}
		if err := validateArms(field+".variants", e.Variants, false); err != nil {
			return err
		}
		for j, p := range e.Paths {
			if !strings.HasPrefix(p, "/") {
				return sdk.FieldError(fmt.Sprintf("%s.paths[%d]", field, j), "%q does not start with '/'", p)
			}
		}
	}
	for _, f := range []struct{ name, value string }{{"sticky_cookie", c.StickyCookie}, {"override_cookie", c.OverrideCookie}, {"override_header", c.OverrideHeader}} {
		if f.value != "" && !validName(f.value) {
			return sdk.FieldError(f.name, "%q is not a valid name", f.value)
		}
	}
	// The plugin sets these: a client's value is never an override.
	for _, h := range []string{VersionHeader, ExperimentHeader, UserHeader} {
		if strings.EqualFold(c.OverrideHeader, h) {
			return sdk.FieldError("override_header", "%q is a header the edge sets, not one a tester can", c.OverrideHeader)
		}
	}
	return nil
}

func validateArms(field string, arms []Arm, defaultLabel bool) error {
	total := 0
	seen := map[string]bool{}
	for i := range arms {
		a := &arms[i]
		f := fmt.Sprintf("%s[%d]", field, i)
		if !validName(a.Name) {
			return sdk.FieldError(f+".name", "%q is not a valid name (letters, digits, '.', '_', '-')", a.Name)
		}
		if seen[a.Name] {
			return sdk.FieldError(f+".name", "%q is used twice", a.Name)
		}
		seen[a.Name] = true
		if a.Weight < 0 || a.Weight > 1_000_000 {
			return sdk.FieldError(f+".weight", "%d is not between 0 and 1000000", a.Weight)
		}
		total += a.Weight
		if a.Label == "" && defaultLabel {
			a.Label = a.Name
		}
		if a.Label != "" && !validName(a.Label) {
			return sdk.FieldError(f+".label", "%q is not a valid label", a.Label)
		}
	}
	if len(arms) > 0 && total == 0 {
		return sdk.FieldError(field, "the weights add up to 0")
	}
	return nil
}

// validName accepts 1 to 64 letters, digits, '.', '_' or '-': safe in
// header values and in the override syntax.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
