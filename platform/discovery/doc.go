// Package discovery is how Tremolo's services find each other: a registry
// of running instances with their metadata, and a gRPC resolver fed by it.
//
// Every process registers the services it serves when its gRPC server
// starts and deregisters them on a graceful stop. Clients dial
// "tremolo:///<service>"; the resolver watches the registry and hands the
// live instances, each carrying its Instance (InstanceOf), to the balancer.
//
// Two registries exist. The in-process one is the all-in-one default: one
// process, nothing to run. The etcd one is for a fleet: instances are keys
// under a prefix bound to a lease that the process keeps alive, so a process
// that dies without deregistering disappears when its lease's TTL runs out.
// When etcd is unreachable, clients keep using the instances they last saw,
// and a process starting meanwhile reads them from an on-disk snapshot.
package discovery
