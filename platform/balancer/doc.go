// Package balancer is Tremolo's gRPC load-balancing policy, "tremolo": it
// keeps gray (canary) instances to the requests that ask for them, keeps a
// user's requests in the user's cell, and keeps a user on one instance.
//
// Clients select it with the service config ServiceConfig returns, e.g.
//
//	grpc.NewClient("tremolo:///feed",
//		grpc.WithDefaultServiceConfig(balancer.ServiceConfig(auth.MetadataKey)))
//
// The policy reads what it routes on from two places: the Instance each
// address carries from the registry (discovery.InstanceOf), and the routing
// attributes of the call's outgoing metadata (routing.FromOutgoing). Per
// call, among the instances whose connection is READY, it picks in three
// steps:
//
//  1. Gray subsets. An instance is gray when its "track" label is set and
//     not "stable". A call asking for version V (routing.VersionKey) goes to
//     the instances of version V (Instance.Version, a leading "v" ignored on
//     either side, or the "version" label); when none is READY, to the
//     stable ones. A call asking for no version goes to the stable ones
//     only, so a canary sees only the traffic sent to it. A call in
//     experiments (routing.ExperimentKey, "exp=variant,...") then prefers
//     the instances labelled exp: variant, for the first assignment that
//     any of them carries ("track" and "version" are not experiments).
//     When no stable
//     instance is READY, the call goes to any READY instance rather than
//     failing (counted as subset="fallback").
//  2. Cells. When the registry's instances carry cells and the call has
//     one (routing.CellKey), it goes to the instances of its cell and those
//     serving every cell (Cell ""); when there are none, to the cell
//     cells.Failover names, with "healthy" meaning "has a READY instance
//     in the set step 1 chose", so that every client fails a cell over to
//     the same place.
//  3. Instance. With Config.HashKey set and present in the call's metadata,
//     a consistent-hash ring (Config.VirtualNodes points per instance,
//     times its weight) maps the key's value to an instance: while the set
//     is unchanged a key stays on its instance, and adding one instance to
//     n moves about 1/(n+1) of the keys. Every client builds the same ring
//     from the same instances, so a user stays on one instance whichever
//     client calls. Otherwise the calls go round robin, weighted by
//     Instance.Weight.
//
// Addresses that do not come from the registry (static targets) are stable,
// serve every cell and weigh 1.
//
// The picker is rebuilt whenever the READY set or the resolver's addresses
// change, and precomputes every subset and ring then; a pick reads the
// call's metadata and looks up maps, it allocates nothing else.
//
// Metrics (register them with Metrics):
//
//	tremolo_balancer_picks_total{service,subset}              subset: gray, stable, fallback
//	tremolo_balancer_cell_failovers_total{service,from,to}    calls served by another cell
package balancer
