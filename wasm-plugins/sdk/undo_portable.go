//go:build wasip1 && !tremolo

package sdk

// canUndo: without the tremolo module the host cannot be asked to undo a
// request's changes or to discard an instance, so Bundle lets a fail-open
// plugin's panic fail the call instead of skipping the plugin.
const canUndo = false

func undoRequest() bool { return false }

func retire() {}
