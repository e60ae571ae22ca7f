package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// newFlags makes a flag set that reports errors instead of exiting, and
// prints its usage to stdout for --help and to stderr for mistakes.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tender %s\n\n", synopsis)
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintln(fs.Output(), "Flags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args; --help prints usage to stdout and returns
// errHelp, a bad flag prints usage to stderr and returns a usageError.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return errHelp
	}
	if err != nil {
		fs.SetOutput(stderr)
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return usageError{}
	}
	return nil
}

// errHelp ends a command successfully after --help.
var errHelp = errors.New("help shown")

func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// envFunc reads configuration, treating blank values as unset.
type envFunc func(string) string

func (e envFunc) get(name, def string) string {
	if v := strings.TrimSpace(e(name)); v != "" {
		return v
	}
	return def
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "0.1.0-dev"
}
