package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenderhq/tender/bench"
	"github.com/tenderhq/tender/cli"
)

func getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestCreateConfirmSmoke runs the headline scenario for a second against
// a real server started in this process on SQLite, with the baseline.
func TestCreateConfirmSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := bench.Run(ctx, bench.Config{
		Database: filepath.Join(t.TempDir(), "bench.db"), Scenario: "create-confirm", Connections: 4,
		Duration: time.Second, Warmup: 0, Baseline: true, Run: cli.Run,
		Getenv: getenv(map[string]string{"TENDER_LOG_LEVEL": "error"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() != 0 {
		t.Fatalf("failures: %v, baseline %v", res.Errors, res.Baseline.Errors)
	}
	if res.Requests == 0 || res.Throughput <= 0 || res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Fatalf("implausible result %+v", res.Measurement)
	}
	if res.Baseline == nil || res.BaselineThroughput == nil || *res.BaselineThroughput <= 0 || res.Ratio == nil {
		t.Fatalf("no baseline in %+v", res)
	}
	if !res.SharedProcess || res.CPUSPer1k == nil || *res.CPUSPer1k <= 0 || res.RSSMB == nil || *res.RSSMB <= 0 {
		t.Fatalf("no CPU or memory figures: %+v", res)
	}
	if res.Database != "sqlite" || res.Target != "in-process" || res.Unit != "payment" {
		t.Fatalf("labels %q %q %q", res.Database, res.Target, res.Unit)
	}

	// The JSON report has the documented fields.
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"throughput", "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors", "requests", "baseline_throughput",
		"ratio", "rss_mb", "cpu_s_per_1k", "scenario", "connections", "duration_s", "database"} {
		if _, ok := m[f]; !ok {
			t.Errorf("JSON report has no %q:\n%s", f, buf.String())
		}
	}
	buf.Reset()
	if err := res.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tender", "baseline", "Tender / baseline", "p99", "include the load generator"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestCLI runs `tender bench` as the binary does: the replay scenario,
// JSON out, exit status 0.
func TestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	var out, errOut bytes.Buffer
	env := getenv(map[string]string{"TENDER_LOG_LEVEL": "error"})
	err := cli.Run(context.Background(), []string{"bench", "--scenario", "replay", "--duration", "500ms", "--warmup", "0s",
		"--connections", "2", "--json", "--database", filepath.Join(t.TempDir(), "b.db")}, env, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if m["scenario"] != "replay" || m["requests"].(float64) <= 0 || m["ratio"] != nil {
		t.Fatalf("report %s", out.String())
	}

	// Bad flags are usage errors (exit status 2).
	for _, args := range [][]string{
		{"bench", "--scenario", "nope"},
		{"bench", "--connections", "0"},
		{"bench", "extra"},
	} {
		err := cli.Run(context.Background(), args, env, &out, &errOut)
		if code := cli.ExitCode(err, &errOut); code != 2 {
			t.Errorf("%v: exit %d (%v), want 2", args, code, err)
		}
	}
	// A server that refuses every request makes the run fail (exit 1).
	err = cli.Run(context.Background(), []string{"bench", "--url", "http://127.0.0.1:1", "--key", "sk_test_x",
		"--duration", "200ms", "--warmup", "0s", "--connections", "1"}, env, &out, &errOut)
	if code := cli.ExitCode(err, &errOut); code != 1 {
		t.Errorf("unreachable server: exit %d (%v), want 1", code, err)
	}
}
