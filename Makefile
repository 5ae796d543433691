# The README's commands. Each installs what it needs first.
.PHONY: run test generate gazelle

# Run the Douyin backend in one process on the embedded defaults, with the
# edge's WASM plugins (built first into .build/plugins).
run:
	bash wasm-plugins/build.sh >/dev/null
	go run ./cmd/tremolo $(ARGS)

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
