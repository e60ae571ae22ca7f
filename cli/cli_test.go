package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenderhq/tender/cli"
	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testserver"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func runCLI(e map[string]string, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	err := cli.Run(context.Background(), args, env(e), &out, &errOut)
	code = cli.ExitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

func TestUsageAndHelp(t *testing.T) {
	e := map[string]string{"TENDER_DATABASE_URL": filepath.Join(t.TempDir(), "t.db")}
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string // in stdout for code 0, stderr otherwise
	}{
		{nil, 2, "Usage:"},
		{[]string{"--help"}, 0, "Commands:"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"serve", "--help"}, 0, "--addr"},
		{[]string{"serve", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"dev", "--help"}, 0, "dev"},
		{[]string{"migrate", "--help"}, 0, "migrate"},
		{[]string{"merchants", "--help"}, 0, "merchants create"},
		{[]string{"merchants"}, 2, "merchants create"},
		{[]string{"merchants", "create", "--help"}, 0, "--name"},
		{[]string{"merchants", "create"}, 2, "needs --name"},
		{[]string{"merchants", "frob"}, 2, "unknown merchants command"},
		{[]string{"merchants", "list", "--help"}, 0, "--json"},
		{[]string{"keys", "--help"}, 0, "keys create"},
		{[]string{"keys", "create", "--help"}, 0, "--scopes"},
		{[]string{"keys", "create", "--merchant", "mer_x"}, 2, "needs --merchant and --scopes"},
		{[]string{"keys", "create", "--merchant", "mer_x", "--scopes", "payments:read", "--mode", "prod"}, 2, "--mode must be test or live"},
		{[]string{"keys", "create", "--merchant", "mer_x", "--scopes", "payments:fly"}, 2, "Unknown scope"},
		{[]string{"keys", "list", "--help"}, 0, "--merchant"},
		{[]string{"keys", "revoke", "--help"}, 0, "KEY_ID"},
		{[]string{"keys", "revoke"}, 2, "needs one KEY_ID"},
		{[]string{"version"}, 0, "tender"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(e, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errOut)
			}
			where := errOut
			if code == 0 {
				where = out
			}
			if !strings.Contains(where, tc.wantOut) {
				t.Fatalf("output lacks %q\nstdout: %s\nstderr: %s", tc.wantOut, out, errOut)
			}
		})
	}
}

func TestBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad rate limit", map[string]string{"TENDER_RATE_LIMIT": "lots"}, "TENDER_RATE_LIMIT"},
		{"bad log format", map[string]string{"TENDER_LOG_FORMAT": "xml"}, "TENDER_LOG_FORMAT"},
		{"bad log level", map[string]string{"TENDER_LOG_LEVEL": "loud"}, "TENDER_LOG_LEVEL"},
		{"bad master key", map[string]string{"TENDER_MASTER_KEY": "short"}, "TENDER_MASTER_KEY"},
		{"bad database scheme", map[string]string{"TENDER_DATABASE_URL": "mysql://x"}, "unsupported database URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env["TENDER_DATABASE_URL"] == "" {
				tc.env["TENDER_DATABASE_URL"] = filepath.Join(dir, tc.name+".db")
			}
			_, errOut, code := runCLI(tc.env, "serve", "--addr", "127.0.0.1:0")
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", code, errOut, tc.want)
			}
		})
	}
}

func TestPostgresNeedsMasterKey(t *testing.T) {
	url := testdb.PostgresURL(t)
	_, errOut, code := runCLI(map[string]string{"TENDER_DATABASE_URL": url}, "serve", "--addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "TENDER_MASTER_KEY is required with PostgreSQL") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// serveBriefly runs a command that serves until canceled, stopping it once
// it logged that it listens.
func serveBriefly(t *testing.T, e map[string]string, args ...string) (stdout, logs string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, buf := &bytes.Buffer{}, testserver.NewBuffer()
	done := make(chan error, 1)
	go func() { done <- cli.Run(ctx, args, env(e), out, buf) }()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(buf.String(), `listening`) {
		select {
		case err := <-done:
			t.Fatalf("exited early: %v\n%s", err, buf)
		case <-deadline:
			t.Fatalf("did not start:\n%s", buf)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("exit: %v", err)
	}
	return out.String(), buf.String()
}

func TestDevFirstRunAndLater(t *testing.T) {
	dir := t.TempDir()
	e := map[string]string{"TENDER_DATABASE_URL": filepath.Join(dir, "tender.db")}
	out, logs := serveBriefly(t, e, "dev", "--addr", "127.0.0.1:0")
	if !strings.Contains(out, "sk_test_") || !strings.Contains(out, "pk_test_") || !strings.Contains(out, "curl -u sk_test_") {
		t.Fatalf("first dev run did not print test keys and a curl line:\n%s", out)
	}
	if strings.Contains(out, "_live_") {
		t.Fatalf("dev printed a live key:\n%s", out)
	}
	if !strings.Contains(logs, "created a master key file") {
		t.Fatalf("no warning about the generated master key:\n%s", logs)
	}
	fi, err := os.Stat(filepath.Join(dir, "tender.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", fi, err)
	}
	out2, logs2 := serveBriefly(t, e, "dev", "--addr", "127.0.0.1:0")
	if strings.Contains(out2, "sk_test_") || !strings.Contains(out2, "keys list --merchant mer_") {
		t.Fatalf("second dev run:\n%s", out2)
	}
	if !strings.Contains(logs2, "using the master key file") {
		t.Fatalf("second run did not reuse the key file:\n%s", logs2)
	}
}

func TestMerchantsAndKeysCommands(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		e := map[string]string{"TENDER_DATABASE_URL": url}
		out, errOut, code := runCLI(e, "merchants", "create", "--name", "Acme", "--json")
		if code != 0 {
			t.Fatalf("create: %d %s", code, errOut)
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("--json printed %q", out)
		}
		for field, prefix := range map[string]string{"id": "mer_", "test_secret_key": "sk_test_", "test_publishable_key": "pk_test_",
			"live_secret_key": "sk_live_", "live_publishable_key": "pk_live_"} {
			if !strings.HasPrefix(m[field], prefix) {
				t.Fatalf("%s = %q, want prefix %s", field, m[field], prefix)
			}
		}
		out, _, code = runCLI(e, "merchants", "list")
		if code != 0 || !strings.Contains(out, m["id"]) || !strings.Contains(out, "Acme") {
			t.Fatalf("list: %d %s", code, out)
		}
		out, _, code = runCLI(e, "keys", "create", "--merchant", m["id"], "--mode", "live", "--scopes", "payments:read,webhooks:read", "--json")
		var k struct {
			ID     string   `json:"id"`
			Key    string   `json:"key"`
			Scopes []string `json:"scopes"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &k) != nil || !strings.HasPrefix(k.Key, "rk_live_") || len(k.Scopes) != 2 {
			t.Fatalf("keys create: %d %s", code, out)
		}
		out, _, code = runCLI(e, "keys", "list", "--merchant", m["id"])
		if code != 0 || !strings.Contains(out, k.ID) || strings.Contains(out, k.Key) || strings.Contains(out, m["test_secret_key"]) {
			t.Fatalf("keys list shows a key or misses one: %s", out)
		}
		if _, errOut, code = runCLI(e, "keys", "revoke", k.ID); code != 0 {
			t.Fatalf("revoke: %s", errOut)
		}
		out, _, _ = runCLI(e, "keys", "list", "--merchant", m["id"])
		if !strings.Contains(out, "revoked") {
			t.Fatalf("revoked key not shown as revoked: %s", out)
		}
		if _, errOut, code = runCLI(e, "keys", "create", "--merchant", "mer_missing", "--scopes", "payments:read"); code != 1 || !strings.Contains(errOut, "no merchant") {
			t.Fatalf("key for missing merchant: %d %s", code, errOut)
		}
		if _, errOut, code = runCLI(e, "keys", "revoke", "key_missing"); code != 1 || !strings.Contains(errOut, "no key") {
			t.Fatalf("revoke missing: %d %s", code, errOut)
		}
		if out, _, code = runCLI(e, "migrate"); code != 0 || !strings.Contains(out, "up to date") {
			t.Fatalf("migrate: %d %s", code, out)
		}
	})
}
