package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"google.golang.org/grpc/resolver"
)

// Instance is one running copy of a service as the registry knows it: where
// it listens and what it is. The metadata is what balancers route on: the
// version and labels for gray releases, the zone and cell for locality.
//
// Instances travel as JSON (the value of an etcd key, the on-disk snapshot),
// so the field names below are a wire format: add fields, never rename them.
type Instance struct {
	// Service is the gRPC service's short name ("user", "feed"), the name
	// clients dial ("tremolo:///user").
	Service string `json:"service"`
	// ID is unique among the service's live instances; by default
	// host:port of its gRPC listener plus the process id.
	ID string `json:"id"`
	// Addr is the gRPC listener, host:port.
	Addr string `json:"addr"`
	// Version is the build's semantic version ("1.4.0", "1.5.0-canary.1").
	// Gray routing matches it against the version a request asks for.
	Version string `json:"version,omitempty"`
	// Labels are free-form key/value tags ("track": "canary"); a request
	// asking for a label value goes to instances carrying it.
	Labels map[string]string `json:"labels,omitempty"`
	// Zone is the failure domain the instance runs in ("az1").
	Zone string `json:"zone,omitempty"`
	// Cell is the user cell the instance serves: "0".."n-1", the numbers
	// the edge's colour plugin puts users in (platform/cells.Of); empty for
	// instances that serve every cell.
	Cell string `json:"cell,omitempty"`
	// Resources describe the instance's capacity, for operators and for
	// weighted balancing: CPU in millicores and memory in MiB.
	Resources Resources `json:"resources,omitzero"`
	// Weight is the instance's relative share of traffic; 0 means 1.
	Weight int `json:"weight,omitempty"`
}

// Resources is an instance's declared capacity.
type Resources struct {
	// MilliCPU is the CPU the instance may use, in thousandths of a core.
	MilliCPU int `json:"milli_cpu,omitempty"`
	// MemoryMiB is the memory the instance may use, in MiB.
	MemoryMiB int `json:"memory_mib,omitempty"`
}

// Validate reports what makes i unusable as a registration: a missing
// service, id or address, an address that is not host:port, a version that
// is not semver.
func (i Instance) Validate() error {
	var errs []error
	if err := checkService(i.Service); err != nil {
		errs = append(errs, err)
	}
	if i.ID == "" || strings.ContainsAny(i.ID, "/ ") {
		errs = append(errs, fmt.Errorf("instance id %q: want a non-empty id without '/' or spaces", i.ID))
	}
	if _, _, err := splitHostPort(i.Addr); err != nil {
		errs = append(errs, fmt.Errorf("address %q: %w", i.Addr, err))
	}
	if i.Version != "" {
		if _, err := semver.StrictNewVersion(strings.TrimPrefix(i.Version, "v")); err != nil {
			errs = append(errs, fmt.Errorf("version %q is not a semantic version (MAJOR.MINOR.PATCH[-PRE]): %w", i.Version, err))
		}
	}
	if i.Weight < 0 {
		errs = append(errs, fmt.Errorf("weight %d is negative", i.Weight))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("discovery: instance %s/%s: %w", i.Service, i.ID, err)
	}
	return nil
}

// Clone returns a deep copy (Labels is a map).
func (i Instance) Clone() Instance {
	i.Labels = maps.Clone(i.Labels)
	return i
}

// Marshal encodes i as the registry stores it.
func (i Instance) Marshal() ([]byte, error) { return json.Marshal(i) }

// Unmarshal decodes a stored instance and validates it: a registry value
// written by someone else is untrusted input.
func Unmarshal(b []byte) (Instance, error) {
	var i Instance
	if err := json.Unmarshal(b, &i); err != nil {
		return Instance{}, fmt.Errorf("discovery: decoding an instance: %w", err)
	}
	return i, i.Validate()
}

// instanceKey is the key of the Instance in a resolver.Address's
// BalancerAttributes.
type instanceKey struct{}

// WithInstance returns addr carrying inst in its BalancerAttributes, where
// balancers find it (InstanceOf).
func WithInstance(addr resolver.Address, inst Instance) resolver.Address {
	addr.BalancerAttributes = addr.BalancerAttributes.WithValue(instanceKey{}, &inst)
	return addr
}

// InstanceOf returns the Instance an address was resolved from, or false
// for an address that did not come from a registry (a static target).
func InstanceOf(addr resolver.Address) (*Instance, bool) {
	if addr.BalancerAttributes == nil {
		return nil, false
	}
	inst, ok := addr.BalancerAttributes.Value(instanceKey{}).(*Instance)
	return inst, ok
}

// InstanceOfEndpoint is InstanceOf for balancers that work on endpoints:
// gRPC moves an address's BalancerAttributes to its endpoint's Attributes,
// and the resolver sets both.
func InstanceOfEndpoint(ep resolver.Endpoint) (*Instance, bool) {
	if ep.Attributes == nil {
		return nil, false
	}
	inst, ok := ep.Attributes.Value(instanceKey{}).(*Instance)
	return inst, ok
}

// DefaultID is the ID of an instance listening on addr when its operator
// names none: the address, the host name and the process id, so that a process restarted
// on the same port is a new instance and the old one's leftover registration
// (until its lease runs out) cannot be mistaken for it.
func DefaultID(addr string) string {
	// The host name tells apart processes on different machines that
	// advertise the same address (a loopback default) or share a pid (1,
	// in containers).
	host, err := os.Hostname()
	if err != nil || host == "" || strings.ContainsAny(host, "/\\ \t\n\r\x00") {
		host = "unknown-host"
	}
	return addr + "-" + host + "-" + strconv.Itoa(os.Getpid())
}

// checkService reports whether name can be a service name: it is a path
// segment of registry keys and the file name of the service's snapshot.
func checkService(name string) error {
	if name == "" || strings.ContainsAny(name, "/\\ \t\n\r\x00") || name == "." || name == ".." {
		return fmt.Errorf("service name %q: want a non-empty name without '/', '\\' or spaces", name)
	}
	return nil
}

// splitHostPort checks that addr is host:port with a numeric port.
func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number in 1-65535", port)
	}
	return host, n, nil
}
