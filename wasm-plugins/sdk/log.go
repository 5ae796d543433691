package sdk

import (
	"errors"
	"fmt"
)

// Level is a log level, numbered as http_handler's log import numbers them.
type Level int32

// The log levels.
const (
	LevelDebug Level = -1
	LevelInfo  Level = 0
	LevelWarn  Level = 1
	LevelError Level = 2
	// LevelNone is above every message: LogEnabled(LevelNone) is false
	// unless the host drops nothing at all.
	LevelNone Level = 3
)

// Log writes msg to the host's log at level. In WebAssembly the host
// decides where it goes (Tremolo's host adds the plugin's name); natively it
// goes to log/slog's default logger.
func Log(level Level, msg string) {
	if logEnabled(level) {
		logWrite(level, msg)
	}
}

// Logf formats and logs a message, formatting only when the host keeps
// messages at level: a debug line in a hot path costs one host call when
// debug logging is off.
func Logf(level Level, format string, args ...any) {
	if logEnabled(level) {
		logWrite(level, fmt.Sprintf(format, args...))
	}
}

// LogEnabled reports whether the host keeps messages at level.
func LogEnabled(level Level) bool { return logEnabled(level) }

// ErrBodyTooLarge is returned by Request.Body for a body longer than the
// limit; the body is then passed on to the next handler untouched.
var ErrBodyTooLarge = errors.New("sdk: request body is larger than the limit")
