// Package idlease leases snowflake node ids (platform/ids) from etcd, so
// that no two live generators share one: a process claims a free node id,
// holds it while it keeps its etcd lease alive, and hands it back when it
// stops or dies.
//
// # Claiming
//
// Node id n is the key <Prefix><n>, created in a transaction only if it
// does not exist (its CreateRevision is 0) and bound to a lease of TTL
// seconds; its value says who holds it (host, pid, program). A process
// tries the free ids lowest first; when all of them are held, Acquire fails
// saying so. When the process stops (Close) it deletes the key and revokes
// the lease, and the id is free at once; when it dies, etcd deletes the key
// when the lease expires, TTL after the last keep-alive.
//
// # One id space per prefix
//
// All generators whose ids can meet — in one table, one cache, one list
// returned to a client — must lease from the same prefix: node ids are
// unique only among the holders of one prefix. The default prefix is one
// space for the whole cluster, whatever the service, which is always
// safe: it allows 32 generators at once (ids.NodeBits). A service whose
// ids never mix with other services' may use a prefix of its own to have
// 32 replicas of its own.
//
// # Why a holder never shares its id
//
// Leasing alone does not make ids unique: a process cut off from etcd
// still runs, and once its lease expires another process may claim the
// same node id. So a Lease refuses to issue ids before its lease can have
// expired on the server:
//
//   - etcd expires a lease TTL after the keep-alive that last renewed it
//     reached the server, never earlier (a new etcd leader even extends
//     leases). That keep-alive was sent after the moment the Lease noted
//     before sending it, so the lease lives at least until that moment
//     plus TTL.
//   - The Lease's deadline is that moment plus TTL minus Margin, measured
//     on the monotonic clock. Next checks the deadline after making an id
//     and returns it only if the deadline has not passed; an id made later
//     is discarded and Next returns an error wrapping ErrLost.
//   - Hence every id is issued at least Margin before the key can vanish,
//     and so before anyone else can claim the node id. Margin absorbs the
//     difference in clock rates between the process and etcd, and is the
//     room left for the next point.
//
// A node id reused by another process is safe only if that process's
// clock does not read a millisecond the previous holder already used.
// When the previous holder stopped cleanly, it wrote the last millisecond
// it used to <Prefix>until/<n> in the transaction that freed the id, and
// the next holder issues only later milliseconds (waiting up to Margin for
// its clock to get there, refusing with an error if it is further behind).
// When the previous holder died or was cut off, at least Margin passed
// between its last id and the id becoming free, so clocks that agree
// within Margin (NTP keeps them within milliseconds) are enough.
//
// Deleting a node's key by hand breaks the first argument (the id is free
// before the lease expires): the holder watches its key and stops issuing
// as soon as it sees the deletion, but another process may claim the id
// in between. Do not; revoke the lease instead, or stop the process.
//
// # Losing and regaining
//
// When keep-alives fail past the deadline, or the key goes, Next fails
// (errors.Is(err, ErrLost)) and the Lease keeps trying in the background:
// if etcd still has its lease and key when it answers again, the same id
// resumes; otherwise it claims a free id again, perhaps another one. The
// ids of one Lease strictly increase across such changes: a new node id's
// ids start in a later millisecond than the last id issued.
package idlease
