module wasmhost.test/answer

go 1.26
