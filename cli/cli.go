// Package cli is the tender command: its subcommands, configuration and
// wiring. It lives outside package main so that black-box tests anywhere in
// the module can start the real server through Run, exactly as the binary does.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// usageError is a bad command line: the usage was printed; exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// ExitCode reports err on stderr and returns the process exit status:
// 0 for success, 2 for a bad command line, 1 for anything else.
func ExitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintln(stderr, "tender:", ue.msg)
		}
		return 2
	default:
		fmt.Fprintln(stderr, "tender:", err)
		return 1
	}
}

const usage = `Tender: a self-hosted payments service.

Usage:
  tender <command> [flags]

Commands:
  serve        run the API server
  dev          run the server on the SQLite default, with a demo merchant (start here)
  migrate      apply database migrations and exit
  merchants    create and list merchants
  keys         create, list and revoke API keys
  bench        drive load at a server and report throughput, latency and cost
  version      print the version

Run 'tender <command> --help' for a command's flags. Configuration is read
from TENDER_* environment variables; see README.md.
`

// Run is the whole program: args without the program name, the
// environment as a function, and the two output streams. It returns when
// the command is done or, for serve, when ctx is canceled and in-flight
// requests have finished.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{}
	}
	env := envFunc(getenv)
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, env, stdout, stderr, false)
	case "dev":
		return cmdServe(ctx, rest, env, stdout, stderr, true)
	case "migrate":
		return cmdMigrate(ctx, rest, env, stdout, stderr)
	case "merchants":
		return cmdMerchants(ctx, rest, env, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, rest, env, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, env, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "tender", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}
