// Package dynconfig applies configuration without a restart: named
// documents ("plugins" — the edge's chain file — "abrouting", "ratelimit",
// "breakers", "faults", ...), each raw bytes in YAML or JSON that only its
// consumer decodes.
//
// A Source produces Snapshots, the whole set of documents at one revision.
// Two sources exist:
//
//   - FileSource, the default, reads a directory: the file ratelimit.yaml
//     is the document "ratelimit". It polls, so it works on every
//     filesystem, with editors that replace files by renaming, and with
//     Kubernetes ConfigMap volumes (whose files are symlinks swapped
//     atomically).
//   - EtcdSource reads the keys under a prefix: /tremolo/config/ratelimit
//     is the document "ratelimit". It gets them all, then watches; when
//     etcd is unreachable or the watch falls behind a compaction, it keeps
//     the documents it has and reads them all again once etcd answers.
//
// A Watcher runs a Source and calls each subscriber of a document when that
// document's bytes change, and once with its current state on subscribing
// (Subscribe, or Bind for a typed document). A subscriber that refuses a
// document (its apply returns an error) keeps running with what it had:
// the Watcher logs the refusal and counts it in
// tremolo_dynconfig_rejected_total{name}, and offers the document again
// only once its bytes change. Keeping the last good configuration is the
// consumer's side of that contract: apply must validate everything before
// it changes anything.
//
// A third source, MemorySource, holds documents in memory, for tests of
// consumers. MirrorFile adapts consumers that read their configuration
// from a file, such as the edge's plugin chain (wasmchain), whose
// "plugins" document it writes to the chain file before reloading it.
//
// Sources never turn a failure into a deletion: an unreadable file, an
// unreachable etcd or a directory that cannot be listed leaves the last
// good bytes in place. A document is absent only when its file or key is
// gone.
package dynconfig
