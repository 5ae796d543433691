// Package discovery is how Tremolo's services find each other: a registry
// of running instances with their metadata, and a gRPC resolver fed by it.
//
// Every process registers the services it serves when its gRPC server
// starts and deregisters them on a graceful stop (Announce does both for a
// set of instances). Clients dial "tremolo:///<service>"; the resolver
// (NewResolverBuilder, installed per connection with grpc.WithResolvers)
// watches the registry and hands the live instances, each carrying its
// Instance (InstanceOf), to the balancer.
//
// Two registries implement Registry. The in-process one (Memory) is the
// all-in-one default: one process, nothing to run. The etcd one (Etcd) is
// for a fleet: instances are keys under a prefix bound to a lease that the
// process keeps alive, so a process that dies without deregistering
// disappears when its lease's TTL runs out, and a process that loses its
// leases while etcd is away publishes its instances again when etcd
// returns. When etcd is unreachable, clients keep using the instances they
// last saw, and a process starting meanwhile reads them from an on-disk
// snapshot (EtcdOptions.SnapshotDir). A service no registry knows resolves
// to its static addresses (-discovery-static), if it has any.
//
// Config holds the flags (-registry, -etcd-endpoints, -instance-version,
// ...) and Module provides the configured Registry and this process's
// Instance template to an fx app.
package discovery
