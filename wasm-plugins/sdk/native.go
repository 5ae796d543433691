//go:build !wasip1

package sdk

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

var (
	registeredMu sync.Mutex
	registered   Factory
)

// Register makes f the module's plugin. A plugin's package main calls it
// from an init function. In WebAssembly, Register reads the plugin's
// configuration from the host, builds the Handler and serves
// handle_request with it; a Factory error fails the module's
// initialisation with that error, logged at error level first. Natively,
// where nothing serves a package main, it only records f (Registered), so
// that the plugin's main package builds and vets on every platform.
func Register(f Factory) {
	registeredMu.Lock()
	registered = f
	registeredMu.Unlock()
}

// Registered returns the Factory given to Register natively, or nil.
func Registered() Factory {
	registeredMu.Lock()
	defer registeredMu.Unlock()
	return registered
}

// EnableFeatures asks the host for features and returns those it enabled.
// Called from a Factory it applies to every request; called while handling
// a request, to that request. Natively every feature is available.
func EnableFeatures(f Features) Features { return f }

func logEnabled(level Level) bool {
	return level < LevelNone && slog.Default().Enabled(context.Background(), slogLevel(level))
}

func logWrite(level Level, msg string) {
	slog.Default().Log(context.Background(), slogLevel(level), msg, "source", "wasm-plugin")
}

func slogLevel(level Level) slog.Level {
	switch {
	case level <= LevelDebug:
		return slog.LevelDebug
	case level == LevelInfo:
		return slog.LevelInfo
	case level == LevelWarn:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// canUndo: natively a bundle's plugins change the *http.Request itself,
// which cannot be undone, so Bundle lets a plugin's panic go on.
const canUndo = false

func undoRequest() bool { return false }

func retire() {}

// Natively SetHeaderBytes makes a string (the header map keeps it).
func setRequestHeaderBytes(Request, string, []byte) bool   { return false }
func setResponseHeaderBytes(Response, string, []byte) bool { return false }

// Now returns the wall clock: time.Now natively.
func Now() time.Time { return time.Now() }
