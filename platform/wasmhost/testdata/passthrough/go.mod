module wasmhost.test/passthrough

go 1.26
