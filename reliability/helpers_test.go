package reliability_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/tenderhq/tender/internal/testserver"
)

// tally counts what the suite did, for the summary table.
var tally struct {
	sync.Mutex
	requests, payments, faults, crashes, delivered, duplicates, badInputs, bad5xx, lost int
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
	return c.s.Do(c.t, testserver.Request{Method: method, Path: path, Key: c.key, Form: form})
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
