package balancer

import (
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/grpc/serviceconfig"
)

// Name is the policy's name in a service config's loadBalancingConfig.
const Name = "tremolo"

// The policy's limits. They bound the memory and the rebuild time of a
// picker, whose rings hold VirtualNodes × weight points per instance.
const (
	// DefaultVirtualNodes is the ring points per instance when the config
	// sets none: enough that ten instances get their share within a few
	// percent.
	DefaultVirtualNodes = 100
	// MaxVirtualNodes is the most ring points per instance a config may ask.
	MaxVirtualNodes = 1000
	// MaxWeight caps Instance.Weight: a registry value of a billion must
	// not make a picker allocate a billion ring points.
	MaxWeight = 100
)

// Config is the policy's configuration, the JSON object under "tremolo" in
// a service config:
//
//	{"loadBalancingConfig": [{"tremolo": {"hashKey": "x-tremolo-user-id", "virtualNodes": 100}}]}
type Config struct {
	// HashKey is the outgoing metadata key whose value the calls are
	// hashed on (usually auth.MetadataKey, the user id), so that a key's
	// calls land on the same instance. Empty, or absent from a call: round
	// robin.
	HashKey string `json:"hashKey,omitempty"`
	// VirtualNodes is the ring points per instance (per unit of weight);
	// more points even out the instances' shares and cost memory. 0 means
	// DefaultVirtualNodes.
	VirtualNodes int `json:"virtualNodes,omitempty"`
}

// ParseConfig reads the policy's JSON config, applies the defaults and
// reports what is invalid. Unknown fields are ignored, as gRPC asks of
// every policy, so that a config written for a newer release still loads.
func ParseConfig(js json.RawMessage) (Config, error) {
	var c Config
	if len(js) > 0 {
		if err := json.Unmarshal(js, &c); err != nil {
			return Config{}, fmt.Errorf("balancer: %s config %s: %w", Name, js, err)
		}
	}
	if err := c.normalize(); err != nil {
		return Config{}, fmt.Errorf("balancer: %s config %s: %w", Name, js, err)
	}
	return c, nil
}

// normalize applies the defaults and validates c.
func (c *Config) normalize() error {
	c.HashKey = strings.ToLower(c.HashKey)
	if err := validKey(c.HashKey); err != nil {
		return err
	}
	switch {
	case c.VirtualNodes == 0:
		c.VirtualNodes = DefaultVirtualNodes
	case c.VirtualNodes < 0 || c.VirtualNodes > MaxVirtualNodes:
		return fmt.Errorf("virtualNodes %d: want 1 to %d", c.VirtualNodes, MaxVirtualNodes)
	}
	return nil
}

// validKey accepts an empty key (no hashing) or a metadata key a client can
// send and read back as text: [0-9a-z._-], not reserved by gRPC, not binary.
func validKey(k string) error {
	if k == "" {
		return nil
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("hashKey %q: a metadata key has only the characters [0-9a-z._-]", k)
		}
	}
	if strings.HasPrefix(k, "grpc-") {
		return fmt.Errorf("hashKey %q: keys starting with \"grpc-\" are reserved by gRPC", k)
	}
	if strings.HasSuffix(k, "-bin") {
		return fmt.Errorf("hashKey %q: binary (\"-bin\") keys are not supported", k)
	}
	return nil
}

// ServiceConfig returns the JSON service config that selects the policy,
// hashing on hashKey ("" for round robin), for grpc.WithDefaultServiceConfig.
// An invalid hashKey yields a config gRPC refuses to load, with the reason
// (ParseConfig's error).
func ServiceConfig(hashKey string) string {
	type lb map[string]Config
	// A struct of strings always marshals (invalid UTF-8 is replaced).
	b, _ := json.Marshal(struct {
		LoadBalancingConfig []lb `json:"loadBalancingConfig"`
	}{[]lb{{Name: {HashKey: hashKey}}}})
	return string(b)
}

// lbConfig is Config as gRPC hands it to the balancer.
type lbConfig struct {
	serviceconfig.LoadBalancingConfig
	Config
}
