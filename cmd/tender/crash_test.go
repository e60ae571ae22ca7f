package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/sqlstore"
	"github.com/tenderhq/tender/vault"
)

// These tests run the real binary as a child process and kill it with
// SIGKILL at the worst moment for a payment: after the provider accepted
// the charge and before Tender recorded the outcome.

var buildOnce struct {
	sync.Once
	path string
	err  error
}

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tender-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "tender")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = err
			buildOnce.path = string(out)
		}
	})
	if buildOnce.err != nil {
		t.Fatalf("build tender: %v\n%s", buildOnce.err, buildOnce.path)
	}
	return buildOnce.path
}

type child struct {
	cmd  *exec.Cmd
	url  string
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func environ(env map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func startChild(t *testing.T, env map[string]string) *child {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0")
	cmd.Env = environ(env)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, logs: &lockedBuffer{}}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			c.logs.Write(append(append([]byte{}, line...), '\n'))
			var rec struct{ Msg, URL string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
				urls <- rec.URL
			}
		}
	}()
	select {
	case c.url = <-urls:
	case <-time.After(60 * time.Second):
		t.Fatalf("child did not start:\n%s", c.logs)
	}
	return c
}

func (c *child) waitLog(t *testing.T, substr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(c.logs.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the logs:\n%s", substr, c.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func call(t *testing.T, base, key, method, path string, form url.Values, idemKey string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(key, "")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func TestKilledAfterProviderCharged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a child process")
	}
	for _, kind := range testdb.Kinds(t) {
		for _, settle := range []string{"recovery", "client retry"} {
			t.Run(kind+"/"+settle, func(t *testing.T) {
				dbURL := testdb.URL(t, kind)
				env := map[string]string{
					"TENDER_DATABASE_URL": dbURL,
					"TENDER_MASTER_KEY":   vault.EncodeKey(vault.NewKey()),
					"TENDER_LOG_LEVEL":    "debug",
				}
				cmd := exec.Command(binary(t), "merchants", "create", "--name", "Crash", "--json")
				cmd.Env = environ(env)
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("merchants create: %v", err)
				}
				var m struct {
					Key string `json:"test_secret_key"`
				}
				json.Unmarshal(out, &m)

				faulty := map[string]string{"TENDER_FAULT": "after-authorize"}
				for k, v := range env {
					faulty[k] = v
				}
				first := startChild(t, faulty)
				body := url.Values{"amount": {"4200"}, "currency": {"usd"}, "payment_method": {"pm_card_visa"}, "confirm": {"true"}}
				go func() {
					req, _ := http.NewRequest("POST", first.url+"/v1/payment_intents", strings.NewReader(body.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Idempotency-Key", "crash-1")
					req.SetBasicAuth(m.Key, "")
					if resp, err := http.DefaultClient.Do(req); err == nil {
						resp.Body.Close()
					}
				}()
				first.waitLog(t, "fault injected")
				if err := first.cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				first.cmd.Wait()

				// The provider charged once; Tender recorded nothing of it yet.
				db, err := sqlstore.Open(context.Background(), dbURL, sqlstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if n, _ := db.LedgerCount(context.Background(), "sandbox", "payment:"); n != 1 {
					t.Fatalf("provider payments before restart: %d", n)
				}

				after := map[string]string{"TENDER_RECOVER_AFTER": "1s"}
				if settle == "recovery" {
					after["TENDER_RECOVERY_INTERVAL"] = "200ms"
				} else {
					after["TENDER_RECOVERY_INTERVAL"] = "1h"
				}
				for k, v := range env {
					after[k] = v
				}
				second := startChild(t, after)
				var pi map[string]any
				deadline := time.Now().Add(30 * time.Second)
				for {
					if settle == "client retry" {
						status, got := call(t, second.url, m.Key, "POST", "/v1/payment_intents", body, "crash-1")
						if status == 200 {
							pi = got
							break
						}
						if status != 409 {
							t.Fatalf("retry: %d %v", status, got)
						}
					} else {
						_, list := call(t, second.url, m.Key, "GET", "/v1/payment_intents", url.Values{}, "")
						if data, _ := list["data"].([]any); len(data) == 1 && data[0].(map[string]any)["status"] == "succeeded" {
							pi = data[0].(map[string]any)
							break
						}
					}
					if time.Now().After(deadline) {
						t.Fatalf("not settled; logs:\n%s", second.logs)
					}
					time.Sleep(100 * time.Millisecond)
				}
				if settle == "recovery" && !strings.Contains(second.logs.String(), "recovery: settling attempt") {
					t.Fatalf("settled, but not by recovery:\n%s", second.logs)
				}
				if pi["status"] != "succeeded" || pi["amount_received"] != float64(4200) {
					t.Fatalf("settled intent %v", pi)
				}
				_, intents := call(t, second.url, m.Key, "GET", "/v1/payment_intents", url.Values{}, "")
				_, charges := call(t, second.url, m.Key, "GET", "/v1/charges", url.Values{}, "")
				if len(intents["data"].([]any)) != 1 || len(charges["data"].([]any)) != 1 {
					t.Fatalf("%d intents and %d charges", len(intents["data"].([]any)), len(charges["data"].([]any)))
				}
				if n, _ := db.LedgerCount(context.Background(), "sandbox", "payment:"); n != 1 {
					t.Fatalf("the provider saw %d payments, want 1", n)
				}
				_, events := call(t, second.url, m.Key, "GET", "/v1/events", url.Values{}, "")
				var types []string
				for _, e := range events["data"].([]any) {
					types = append([]string{e.(map[string]any)["type"].(string)}, types...)
				}
				if strings.Join(types, ",") != "payment_intent.created,charge.succeeded,payment_intent.succeeded" {
					t.Fatalf("events %v", types)
				}
			})
		}
	}
}
