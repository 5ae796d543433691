// Package config reads a process's configuration from command-line flags and
// TREMOLO_* environment variables, flags winning. Every package that needs
// configuration declares a struct with a RegisterFlags method; the binary
// registers them all on one FlagSet, so `-help` and the table in
// docs/configuration.md list every setting in one place.
//
// The environment variable of a flag is TREMOLO_ followed by the flag name in
// upper case with '-' turned into '_': -grpc-addr is TREMOLO_GRPC_ADDR.
package config

import (
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3"
)

// EnvPrefix prefixes every environment variable the platform reads.
const EnvPrefix = "TREMOLO"

// Flags is implemented by every configuration struct.
type Flags interface {
	RegisterFlags(fs *flag.FlagSet)
}

// NewFlagSet registers every cfg on a new FlagSet named after the program.
func NewFlagSet(program string, cfgs ...Flags) *flag.FlagSet {
	fs := flag.NewFlagSet(program, flag.ContinueOnError)
	for _, c := range cfgs {
		c.RegisterFlags(fs)
	}
	return fs
}

// Parse fills the registered configuration from args and the environment.
// It returns flag.ErrHelp for -help (after printing usage).
func Parse(fs *flag.FlagSet, args []string) error {
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix(EnvPrefix)); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// EnvVar returns the environment variable of a flag name.
func EnvVar(flagName string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Markdown renders fs as a table (flag, environment variable, default,
// meaning) in flag name order: the format of docs/configuration.md.
func Markdown(fs *flag.FlagSet) string {
	var rows []string
	fs.VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		if def == "" {
			def = " "
		} else {
			def = "`" + def + "`"
		}
		rows = append(rows, fmt.Sprintf("| `-%s` | `%s` | %s | %s |", f.Name, EnvVar(f.Name), def, strings.ReplaceAll(f.Usage, "|", "\\|")))
	})
	return "| flag | environment | default | meaning |\n|---|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
}
