package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tenderhq/tender/bench"
)

const benchSynopsis = `bench [--scenario NAME] [--connections N] [--duration D] [--warmup D] [--rate R] [--baseline] [--json]
                    [--url URL --key KEY [--pid PID]] [--database SQLITE_PATH|postgres://…] [--progress] [--cpuprofile FILE]

Drives load at a Tender server and reports throughput, latency quantiles, errors, and the
server's CPU time and memory per 1,000 operations. Without --url it starts Tender in this
process (tender serve on 127.0.0.1:0, rate limits off) on a fresh database with a new merchant.
Scenarios: ` + "create-confirm (the headline), create-confirm-refund, retrieve, list, replay, webhooks." + `
It exits with status 1 if any request failed.`

// cmdBench is `tender bench`, the load generator (package bench).
func cmdBench(ctx context.Context, args []string, env envFunc, stdout, stderr io.Writer) error {
	fs := newFlags("bench", benchSynopsis, stderr)
	url := fs.String("url", "", "base URL of a running Tender (default: start one in this process)")
	key := fs.String("key", "", "with --url: a secret key (sk_test_…) of the server's merchant")
	database := fs.String("database", "", "the in-process server's database: a SQLite path, or postgres://… (the run gets a new schema there, dropped after); default a temporary SQLite file. With --url: the server's database, where --baseline makes its tables")
	scenario := fs.String("scenario", "create-confirm", "what to drive: "+strings.Join(bench.Scenarios, ", "))
	conns := fs.Int("connections", 16, "requests under way at once (closed loop: workers sending as fast as answers come)")
	duration := fs.Duration("duration", 10*time.Second, "measured time")
	warmup := fs.Duration("warmup", 2*time.Second, "time before the measurement, not counted")
	rate := fs.Float64("rate", 0, "open loop at this many operations per second, latency counted from when each was due (default: closed loop)")
	baseline := fs.Bool("baseline", false, "also measure the physical floor (a bare handler making the same durable writes in one transaction on the same database) and report Tender's throughput as a ratio of it")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	showProgress := fs.Bool("progress", false, "print a progress line every second on stderr (default: only when stderr is a terminal)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured window to this file (in-process: server and load generator together)")
	pid := fs.Int("pid", 0, "with --url: the server's process id on this machine, to report its CPU time and memory")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageError{"bench takes no arguments"}
	}
	if !slices.Contains(bench.Scenarios, *scenario) {
		return usageError{fmt.Sprintf("unknown scenario %q: use one of %s", *scenario, strings.Join(bench.Scenarios, ", "))}
	}
	cfg := bench.Config{
		URL: *url, Key: *key, Database: *database, Scenario: *scenario, Connections: *conns,
		Duration: *duration, Warmup: *warmup, Rate: *rate, Baseline: *baseline, CPUProfile: *cpuProfile,
		PID: *pid, Getenv: env, Run: Run,
	}
	if cfg.Connections < 1 || cfg.Duration <= 0 || cfg.Warmup < 0 || cfg.Rate < 0 {
		return usageError{"bench needs --connections ≥ 1, --duration > 0, --warmup ≥ 0 and --rate ≥ 0"}
	}
	terminal := isTerminal(stderr)
	if *showProgress || terminal {
		cfg.Progress, cfg.InPlace = stderr, terminal
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		err = res.WriteJSON(stdout)
	} else {
		err = res.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if n := res.Failed(); n > 0 {
		return fmt.Errorf("bench: %d operations failed", n)
	}
	if res.Interrupted {
		return errors.New("bench: interrupted")
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
