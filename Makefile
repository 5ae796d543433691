# The README's commands. Each installs what it needs first.
.PHONY: run run-cluster test generate gazelle

# Run the Douyin backend in one process on the embedded defaults, with the
# edge's WASM plugins (built first into .build/plugins).
run:
	bash wasm-plugins/build.sh >/dev/null
	go run ./cmd/tremolo $(ARGS)

# Run the distributed mode on this machine: a local etcd, every service as
# its own process (the feed twice) and the edge, found through etcd.
run-cluster:
	bash tools/setup.sh apt
	go run ./cmd/tremolo-cluster $(ARGS)

# Run every test (set-up, lint, generated-code check, go test, bazel build/test).
test:
	bash tools/test.sh

# Regenerate gen/ and docs/errors.md from proto/.
generate:
	bash tools/setup.sh go-tools proto-deps
	.tools/bin/buf generate

# Regenerate deps.bzl and BUILD files.
gazelle:
	bash tools/gazelle.sh
