package reliability_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/tenderhq/tender/internal/testserver"
)

// tally counts what the suite did, for the summary table.
var tally struct {
	sync.Mutex
	requests, payments, faults, crashes, delivered, duplicates, badInputs, bad5xx, lost int
}

// watch holds every secret the suite handled and everything it captured
// (process logs, response bodies), to show at the end that no secret
// leaked into a log line or an answer.
var watch struct {
	sync.Mutex
	secrets  []string
	captured []string
}

// secret registers a value that must never appear in a log or a response.
func secret(s string) {
	if s == "" {
		return
	}
	watch.Lock()
	watch.secrets = append(watch.secrets, s)
	watch.Unlock()
}

// capture registers text to be scanned for secrets.
func capture(s string) {
	watch.Lock()
	watch.captured = append(watch.captured, s)
	watch.Unlock()
}

// leaks counts the secrets found in what was captured.
func leaks() (n int, which []string) {
	watch.Lock()
	defer watch.Unlock()
	for _, sec := range watch.secrets {
		for _, text := range watch.captured {
			if strings.Contains(text, sec) {
				n++
				which = append(which, sec[:min(12, len(sec))]+"…")
				break
			}
		}
	}
	return n, which
}

func count(f func()) {
	tally.Lock()
	defer tally.Unlock()
	f()
}

// client talks to a test server with one key.
type client struct {
	t   *testing.T
	s   *testserver.Server
	key string
}

func (c *client) do(method, path string, form url.Values) *testserver.Response {
	c.t.Helper()
	count(func() { tally.requests++ })
	r := c.s.Do(c.t, testserver.Request{Method: method, Path: path, Key: c.key, Form: form})
	if !(method == "POST" && path == "/v1/webhook_endpoints") {
		capture(string(r.Body))
	}
	return r
}

// watched starts an in-process server whose keys and logs the final secret
// scan covers.
func watched(t *testing.T, opt testserver.Options) *testserver.Server {
	s := testserver.Start(t, opt)
	for _, k := range []string{s.Merchant.TestSecretKey, s.Merchant.LiveSecretKey, s.Env()["TENDER_MASTER_KEY"]} {
		secret(k)
	}
	t.Cleanup(func() { capture(s.Logs()) })
	return s
}

func (c *client) ok(method, path string, form url.Values) map[string]any {
	c.t.Helper()
	r := c.do(method, path, form)
	if r.Status != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
	}
	var m map[string]any
	json.Unmarshal(r.Body, &m)
	return m
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func restrictedKey(t *testing.T, s *testserver.Server, merchant, mode, scopes string) string {
	t.Helper()
	out, err := s.CLI(t, "keys", "create", "--merchant", merchant, "--mode", mode, "--scopes", scopes, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var k struct{ Key string }
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatal(err)
	}
	return k.Key
}
