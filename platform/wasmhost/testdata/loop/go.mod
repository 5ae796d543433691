module wasmhost.test/loop

go 1.26
