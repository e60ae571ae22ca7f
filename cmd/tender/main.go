// Command tender is Tender's server and administration tool.
//
//	tender serve            run the API server
//	tender dev              run on the SQLite default with a demo merchant
//	tender migrate          apply database migrations and exit
//	tender merchants …      create and list merchants
//	tender keys …           create, list and revoke API keys
//
// Configuration comes from TENDER_* environment variables (see README.md).
// The program itself is package cli, so that tests can run it in-process.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tenderhq/tender/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.ExitCode(err, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cli.Run(ctx, args, getenv, stdout, stderr)
}
