package discovery

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// The registries Config.Registry names.
const (
	// RegistryMemory is the in-process registry (Memory), the all-in-one
	// default.
	RegistryMemory = "memory"
	// RegistryEtcd is the etcd registry (Etcd), for a fleet.
	RegistryEtcd = "etcd"
)

// Config chooses the registry and describes this process's instances.
type Config struct {
	// Registry is RegistryMemory (the default) or RegistryEtcd.
	Registry string
	// EtcdEndpoints are etcd's client URLs ("http://10.0.0.5:2379"),
	// required with RegistryEtcd.
	EtcdEndpoints []string
	// Prefix, TTL, SnapshotDir and Timeout are the EtcdOptions of the
	// etcd registry.
	Prefix      string
	TTL         time.Duration
	SnapshotDir string
	Timeout     time.Duration
	// Static maps a service to the addresses its clients use when no
	// registry knows it (NewResolverBuilder).
	Static map[string][]string
	// Version, Labels, Zone and Cell are the metadata of this process's
	// instances (Template); the server adds the service, id and address.
	Version string
	Labels  map[string]string
	Zone    string
	Cell    string
	// AdvertiseHost is the host other processes dial this process's gRPC
	// port on; empty means the listener's own host, or 127.0.0.1 for a
	// wildcard listener (right on one machine, wrong across machines: set
	// it to the pod's or host's address there).
	AdvertiseHost string
}

// RegisterFlags adds the registry and instance flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Registry, "registry", RegistryMemory, "service registry: memory (in-process, all-in-one) or etcd")
	fs.Var((*endpointsFlag)(&c.EtcdEndpoints), "etcd-endpoints", "etcd client URLs, comma-separated (with -registry etcd)")
	fs.StringVar(&c.Prefix, "registry-prefix", DefaultPrefix, "etcd key prefix of service instances")
	fs.DurationVar(&c.TTL, "registry-ttl", DefaultTTL, "lease of a registered instance: how long it stays listed after its process dies (whole seconds, at least 1s)")
	fs.StringVar(&c.SnapshotDir, "registry-snapshot-dir", "", "directory keeping the last instance list of each watched service, used when etcd is unreachable at start (empty: none)")
	fs.DurationVar(&c.Timeout, "registry-timeout", DefaultTimeout, "how long to wait for etcd before falling back to the snapshot or registering in the background")
	fs.Var((*staticFlag)(c), "discovery-static", "fallback addresses of a service no registry knows, as service=host:port[,host:port] (repeatable)")
	fs.StringVar(&c.Version, "instance-version", "", "semantic version this process's instances announce, for gray routing (e.g. 1.4.0)")
	fs.Var((*labelsFlag)(c), "instance-labels", "labels this process's instances announce, as key=value[,key=value] (repeatable)")
	fs.StringVar(&c.Zone, "instance-zone", "", "failure domain (zone) this process runs in")
	fs.StringVar(&c.Cell, "instance-cell", "", "user cell this process serves (empty: every cell)")
	fs.StringVar(&c.AdvertiseHost, "advertise-host", "", "host other processes reach this process's gRPC port on (default: the listener's, 127.0.0.1 for a wildcard; set the pod or host IP across machines)")
}

// Validate reports what makes c unusable; Open calls it.
func (c Config) Validate() error {
	var errs []error
	switch c.Registry {
	case "", RegistryMemory:
	case RegistryEtcd:
		if len(c.EtcdEndpoints) == 0 {
			errs = append(errs, errors.New("-registry etcd needs -etcd-endpoints"))
		}
		if c.TTL != 0 && c.TTL < time.Second {
			errs = append(errs, fmt.Errorf("registry TTL %s: want at least 1s", c.TTL))
		}
		if c.Timeout < 0 {
			errs = append(errs, fmt.Errorf("registry timeout %s: want a positive duration", c.Timeout))
		}
	default:
		errs = append(errs, fmt.Errorf("registry %q: want %s or %s", c.Registry, RegistryMemory, RegistryEtcd))
	}
	for _, service := range slices.Sorted(maps.Keys(c.Static)) {
		if err := checkService(service); err != nil {
			errs = append(errs, fmt.Errorf("static addresses: %w", err))
		}
		for _, a := range c.Static[service] {
			if _, _, err := splitHostPort(a); err != nil {
				errs = append(errs, fmt.Errorf("static address %q of %s: %w", a, service, err))
			}
		}
	}
	if c.Version != "" {
		if _, err := semver.StrictNewVersion(strings.TrimPrefix(c.Version, "v")); err != nil {
			errs = append(errs, fmt.Errorf("instance version %q is not a semantic version (MAJOR.MINOR.PATCH[-PRE]): %w", c.Version, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	return nil
}

// Template is the instance metadata of this process, to be completed with
// the service, ID and address of each service it serves.
func (c Config) Template() Instance {
	return Instance{Version: c.Version, Labels: maps.Clone(c.Labels), Zone: c.Zone, Cell: c.Cell}
}

// EtcdOptions are the options of the etcd registry c describes.
func (c Config) EtcdOptions() EtcdOptions {
	return EtcdOptions{Prefix: c.Prefix, TTL: c.TTL, SnapshotDir: c.SnapshotDir, Timeout: c.Timeout}
}

// endpointsFlag is a comma-separated list.
type endpointsFlag []string

func (e *endpointsFlag) String() string {
	if e == nil {
		return ""
	}
	return strings.Join(*e, ",")
}

func (e *endpointsFlag) Set(v string) error {
	var eps []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			eps = append(eps, p)
		}
	}
	if len(eps) == 0 {
		return fmt.Errorf("etcd endpoints %q: want URLs, comma-separated", v)
	}
	*e = eps
	return nil
}

// staticFlag parses "service=addr[,addr][,service=addr...]".
type staticFlag Config

func (s *staticFlag) String() string {
	if s == nil || len(s.Static) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.Static)) {
		parts = append(parts, k+"="+strings.Join(s.Static[k], ","))
	}
	return strings.Join(parts, ",")
}

func (s *staticFlag) Set(v string) error {
	if s.Static == nil {
		s.Static = map[string][]string{}
	}
	service := ""
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		addr := part
		if name, a, ok := strings.Cut(part, "="); ok {
			service, addr = strings.TrimSpace(name), strings.TrimSpace(a)
			if err := checkService(service); err != nil {
				return fmt.Errorf("static addresses %q: %w", part, err)
			}
		}
		if service == "" {
			return fmt.Errorf("static address %q: want service=host:port[,host:port], e.g. user=10.0.0.5:9000", part)
		}
		if _, _, err := splitHostPort(addr); err != nil {
			return fmt.Errorf("static address %q of %s: %w", addr, service, err)
		}
		if !slices.Contains(s.Static[service], addr) {
			s.Static[service] = append(s.Static[service], addr)
		}
	}
	return nil
}

// labelsFlag parses "key=value[,key=value]".
type labelsFlag Config

func (l *labelsFlag) String() string {
	if l == nil || len(l.Labels) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l.Labels)) {
		parts = append(parts, k+"="+l.Labels[k])
	}
	return strings.Join(parts, ",")
}

func (l *labelsFlag) Set(v string) error {
	if l.Labels == nil {
		l.Labels = map[string]string{}
	}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return fmt.Errorf("instance label %q: want key=value, e.g. track=canary", part)
		}
		l.Labels[k] = strings.TrimSpace(val)
	}
	return nil
}
