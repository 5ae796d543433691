module wasmhost.test/panic

go 1.26
