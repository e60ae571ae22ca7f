package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testproc"
	"github.com/tenderhq/tender/sqlstore"
	"github.com/tenderhq/tender/vault"
)

// This test runs the real binary as a child process and kills it with
// SIGKILL at the worst moment for a payment: after the provider accepted
// the charge and before Tender recorded the outcome.

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

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
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
				out, err := testproc.Run(t, env, "merchants", "create", "--name", "Crash", "--json")
				if err != nil {
					t.Fatalf("merchants create: %v", err)
				}
				var m struct {
					Key string `json:"test_secret_key"`
				}
				json.Unmarshal(out, &m)

				first := testproc.Start(t, merge(env, map[string]string{"TENDER_FAULT": "after-authorize"}))
				body := url.Values{"amount": {"4200"}, "currency": {"usd"}, "payment_method": {"pm_card_visa"}, "confirm": {"true"}}
				go func() {
					req, _ := http.NewRequest("POST", first.URL+"/v1/payment_intents", strings.NewReader(body.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Idempotency-Key", "crash-1")
					req.SetBasicAuth(m.Key, "")
					if resp, err := http.DefaultClient.Do(req); err == nil {
						resp.Body.Close()
					}
				}()
				first.WaitLog(t, "fault injected", 30*time.Second)
				first.Kill()

				// The provider charged once; Tender recorded nothing of it yet.
				db, err := sqlstore.Open(context.Background(), dbURL, sqlstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if n, _ := db.LedgerCount(context.Background(), "sandbox", "payment:"); n != 1 {
					t.Fatalf("provider payments before restart: %d", n)
				}

				after := map[string]string{"TENDER_RECOVER_AFTER": "1s", "TENDER_RECOVERY_INTERVAL": "1h"}
				if settle == "recovery" {
					after["TENDER_RECOVERY_INTERVAL"] = "200ms"
				}
				second := testproc.Start(t, merge(env, after))
				var pi map[string]any
				deadline := time.Now().Add(30 * time.Second)
				for {
					if settle == "client retry" {
						status, got := call(t, second.URL, m.Key, "POST", "/v1/payment_intents", body, "crash-1")
						if status == 200 {
							pi = got
							break
						}
						if status != 409 {
							t.Fatalf("retry: %d %v", status, got)
						}
					} else {
						_, list := call(t, second.URL, m.Key, "GET", "/v1/payment_intents", url.Values{}, "")
						if data, _ := list["data"].([]any); len(data) == 1 && data[0].(map[string]any)["status"] == "succeeded" {
							pi = data[0].(map[string]any)
							break
						}
					}
					if time.Now().After(deadline) {
						t.Fatalf("not settled; logs:\n%s", second.Logs())
					}
					time.Sleep(100 * time.Millisecond)
				}
				if settle == "recovery" && !strings.Contains(second.Logs(), "recovery: settling attempt") {
					t.Fatalf("settled, but not by recovery:\n%s", second.Logs())
				}
				if pi["status"] != "succeeded" || pi["amount_received"] != float64(4200) {
					t.Fatalf("settled intent %v", pi)
				}
				_, intents := call(t, second.URL, m.Key, "GET", "/v1/payment_intents", url.Values{}, "")
				_, charges := call(t, second.URL, m.Key, "GET", "/v1/charges", url.Values{}, "")
				if len(intents["data"].([]any)) != 1 || len(charges["data"].([]any)) != 1 {
					t.Fatalf("%d intents and %d charges", len(intents["data"].([]any)), len(charges["data"].([]any)))
				}
				if n, _ := db.LedgerCount(context.Background(), "sandbox", "payment:"); n != 1 {
					t.Fatalf("the provider saw %d payments, want 1", n)
				}
				_, events := call(t, second.URL, m.Key, "GET", "/v1/events", url.Values{}, "")
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
