module wasmhost.test/garbage

go 1.26
