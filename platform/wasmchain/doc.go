// Package wasmchain runs the edge's chain of WebAssembly plugins from a
// file: which plugins, in which order, with which configuration and failure
// policy (File), and which of them run together in one module (Bundle). A
// Chain loads the file through platform/wasmhost and
// follows it: a changed file or module is loaded beside the running chain
// and swapped in without dropping a request, and a file that does not load
// leaves the running chain alone.
package wasmchain
