module wasmhost.test/alloc

go 1.26
