package sdk

// CounterAdd adds delta to the plugin's counter name. In the default
// (-tags tremolo) WebAssembly build the host exports it as a metric
// (tremolo.counter_add); elsewhere there is nowhere to report it, and it
// does nothing.
func CounterAdd(name string, delta int64) { counterAdd(name, delta) }
