package balancer

import (
	"encoding/json"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	"github.com/tremolo-dev/tremolo/platform/discovery"
)

// init registers the policy with gRPC, which is how gRPC finds a policy a
// service config names: importing the package is enough to use "tremolo".
func init() {
	balancer.Register(builder{})
}

// builder builds one balancer per ClientConn.
type builder struct{}

func (builder) Name() string { return Name }

// ParseConfig makes builder a balancer.ConfigParser.
func (builder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	c, err := ParseConfig(js)
	if err != nil {
		return nil, err
	}
	return &lbConfig{Config: c}, nil
}

// Build wraps base's balancer, which keeps a SubConn per address and hands
// the READY ones to a PickerBuilder. The wrapper adds what base drops: the
// service's name (the dial target's endpoint, for the metrics), the config,
// and the resolver's latest Instances.
func (builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	service := opts.Target.Endpoint()
	if service == "" {
		service = opts.Target.String()
	}
	pb := &pickerBuilder{st: state{metrics: newServiceMetrics(service)}}
	pb.st.cfg, _ = ParseConfig(nil)
	return &wrapper{
		// HealthCheck: a SubConn is READY only when its health service
		// says so, if the service config enables health checking.
		Balancer: base.NewBalancerBuilder(Name, pb, base.Config{HealthCheck: true}).Build(cc, opts),
		pb:       pb,
	}
}

// wrapper is base's balancer with the config and resolver state recorded
// for the picker builder. gRPC calls a balancer's methods one at a time,
// and base builds pickers within them, so pb needs no lock.
type wrapper struct {
	balancer.Balancer
	pb *pickerBuilder
}

func (w *wrapper) UpdateClientConnState(s balancer.ClientConnState) error {
	if c, ok := s.BalancerConfig.(*lbConfig); ok && c != nil {
		w.pb.st.cfg = c.Config
	}
	// base reads Addresses only; a resolver reporting Endpoints alone
	// would leave it nothing to connect to.
	if len(s.ResolverState.Addresses) == 0 && len(s.ResolverState.Endpoints) > 0 {
		s.ResolverState.Addresses = flatten(s.ResolverState.Endpoints)
	}
	w.pb.update(s.ResolverState.Addresses)
	return w.Balancer.UpdateClientConnState(s)
}

// flatten lists endpoints' addresses, each carrying its endpoint's
// attributes where InstanceOf looks (gRPC moves an address's
// BalancerAttributes to its endpoint's Attributes).
func flatten(eps []resolver.Endpoint) []resolver.Address {
	var addrs []resolver.Address
	for _, ep := range eps {
		for _, a := range ep.Addresses {
			if a.BalancerAttributes == nil {
				a.BalancerAttributes = ep.Attributes
			}
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// pickerBuilder builds the pickers of one ClientConn.
type pickerBuilder struct {
	st state
}

// update records the resolver's addresses: their Instances and cells.
func (pb *pickerBuilder) update(addrs []resolver.Address) {
	instances := make(map[addrKey]*discovery.Instance, len(addrs))
	seen := map[string]bool{}
	var cells []string
	for _, a := range addrs {
		inst, ok := discovery.InstanceOf(a)
		if !ok {
			continue
		}
		instances[addrKey{a.Addr, a.ServerName}] = inst
		if c := inst.Cell; c != "" && !seen[c] {
			seen[c] = true
			cells = append(cells, c)
		}
	}
	pb.st.instances, pb.st.cells = instances, cells
}

func (pb *pickerBuilder) Build(info base.PickerBuildInfo) balancer.Picker {
	return newPicker(info.ReadySCs, &pb.st)
}
