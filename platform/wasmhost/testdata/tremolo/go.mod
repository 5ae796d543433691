module wasmhost.test/tremolo

go 1.26
