package api_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testserver"
)

// eachDB runs fn on a fresh server per database kind.
func eachDB(t *testing.T, opt testserver.Options, fn func(t *testing.T, s *testserver.Server)) {
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			o := opt
			o.Kind = kind
			fn(t, testserver.Start(t, o))
		})
	}
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestAuthentication(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		m := s.Merchant
		rk := restrictedKey(t, s, m.ID, "test", "payments:read")
		rkAccount := restrictedKey(t, s, m.ID, "live", "merchant:read")
		revoked := restrictedKey(t, s, m.ID, "test", "merchant:read")
		revokeKey(t, s, m.ID, revoked)

		basic := func(user string) string {
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"))
		}
		tests := []struct {
			name       string
			header     http.Header
			wantStatus int
			wantType   string
			wantLive   bool
		}{
			{"bearer", header("Authorization", "Bearer "+m.TestSecretKey), 200, "", false},
			{"basic as curl -u", header("Authorization", basic(m.TestSecretKey)), 200, "", false},
			{"x-api-key", header("X-API-Key", m.TestSecretKey), 200, "", false},
			{"live key sees live mode", header("Authorization", "Bearer "+m.LiveSecretKey), 200, "", true},
			{"restricted key with merchant:read", header("X-API-Key", rkAccount), 200, "", true},
			{"no key", nil, 401, "authentication_error", false},
			{"empty bearer", header("Authorization", "Bearer "), 401, "authentication_error", false},
			{"malformed key", header("Authorization", "Bearer hello"), 401, "authentication_error", false},
			{"unknown scheme", header("Authorization", "Token "+m.TestSecretKey), 401, "authentication_error", false},
			{"bad basic", header("Authorization", "Basic !!!"), 401, "authentication_error", false},
			{"unknown key", header("Authorization", "Bearer sk_test_"+strings.Repeat("A", 40)), 401, "authentication_error", false},
			{"revoked key", header("Authorization", "Bearer "+revoked), 401, "authentication_error", false},
			{"restricted key without merchant:read", header("Authorization", "Bearer "+rk), 403, "permission_error", false},
			{"publishable key on a secret endpoint", header("Authorization", "Bearer "+m.TestPublishableKey), 403, "permission_error", false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				resp := s.Do(t, testserver.Request{Method: "GET", Path: "/v1/account", Header: tc.header})
				if resp.Header.Get("Request-Id") == "" || !strings.HasPrefix(resp.Header.Get("Request-Id"), "req_") {
					t.Errorf("Request-Id header = %q", resp.Header.Get("Request-Id"))
				}
				if resp.Status != tc.wantStatus {
					t.Fatalf("status %d, want %d: %s", resp.Status, tc.wantStatus, resp.Body)
				}
				if tc.wantType != "" {
					e := resp.Error(t)
					if e["type"] != tc.wantType || e["request_id"] != resp.Header.Get("Request-Id") || e["message"] == "" {
						t.Fatalf("error object %v", e)
					}
					return
				}
				acct := resp.JSON(t)
				if acct["id"] != m.ID || acct["object"] != "account" || acct["livemode"] != tc.wantLive {
					t.Fatalf("account %v", acct)
				}
			})
		}
	})
}

func restrictedKey(t *testing.T, s *testserver.Server, merchant, mode, scopes string) string {
	t.Helper()
	out, err := s.CLI(t, "keys", "create", "--merchant", merchant, "--mode", mode, "--scopes", scopes, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if err := jsonUnmarshal(out, &k); err != nil || !strings.HasPrefix(k.Key, "rk_"+mode+"_") {
		t.Fatalf("keys create printed %q (%v)", out, err)
	}
	return k.Key
}

func revokeKey(t *testing.T, s *testserver.Server, merchant, key string) {
	t.Helper()
	out, err := s.CLI(t, "keys", "list", "--merchant", merchant, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var keys []struct {
		ID       string `json:"id"`
		Redacted string `json:"redacted"`
	}
	if err := jsonUnmarshal(out, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Redacted == key[:8]+"…"+key[len(key)-4:] {
			if _, err := s.CLI(t, "keys", "revoke", k.ID); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("key not listed: %s", out)
}

func TestDecodingAndErrors(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		key := s.Merchant.TestSecretKey
		t.Run("JSON and form decode alike", func(t *testing.T) {
			r1 := s.Do(t, testserver.Request{Method: "POST", Path: "/v1/account", Key: key, Form: url.Values{"name": {"Form Shop"}}})
			if r1.Status != 200 || r1.JSON(t)["name"] != "Form Shop" {
				t.Fatalf("form: %d %s", r1.Status, r1.Body)
			}
			r2 := s.Do(t, testserver.Request{Method: "POST", Path: "/v1/account", Key: key, JSON: map[string]any{"name": "JSON Shop"}})
			if r2.Status != 200 || r2.JSON(t)["name"] != "JSON Shop" {
				t.Fatalf("json: %d %s", r2.Status, r2.Body)
			}
		})
		tests := []struct {
			name      string
			req       testserver.Request
			status    int
			errType   string
			param     string
			msgSubstr string
		}{
			{"unknown form parameter", testserver.Request{Method: "POST", Path: "/v1/account", Form: url.Values{"foo": {"1"}}}, 400, "invalid_request_error", "foo", "Received unknown parameter: foo"},
			{"unknown JSON parameter", testserver.Request{Method: "POST", Path: "/v1/account", JSON: map[string]any{"name": "x", "bar": 1}}, 400, "invalid_request_error", "bar", "Received unknown parameter: bar"},
			{"unknown nested parameter", testserver.Request{Method: "POST", Path: "/v1/account", Form: url.Values{"meta[x]": {"1"}}}, 400, "invalid_request_error", "meta", "unknown parameter"},
			{"unknown query parameter", testserver.Request{Method: "GET", Path: "/v1/account?foo=1"}, 400, "invalid_request_error", "foo", "Received unknown parameter: foo"},
			{"wrong type names the parameter", testserver.Request{Method: "POST", Path: "/v1/account", JSON: map[string]any{"name": map[string]any{"a": 1}}}, 400, "invalid_request_error", "name", ""},
			{"empty name", testserver.Request{Method: "POST", Path: "/v1/account", JSON: map[string]any{"name": " "}}, 400, "invalid_request_error", "name", ""},
			{"malformed JSON", testserver.Request{Method: "POST", Path: "/v1/account", Raw: []byte("{"), Header: header("Content-Type", "application/json")}, 400, "invalid_request_error", "", ""},
			{"unsupported content type", testserver.Request{Method: "POST", Path: "/v1/account", Raw: []byte("<x/>"), Header: header("Content-Type", "application/xml")}, 415, "invalid_request_error", "", ""},
			{"body too large", testserver.Request{Method: "POST", Path: "/v1/account", Raw: []byte("name=" + strings.Repeat("a", 2<<20)), Header: header("Content-Type", "application/x-www-form-urlencoded")}, 413, "invalid_request_error", "", ""},
			{"unknown route", testserver.Request{Method: "GET", Path: "/v1/nothing"}, 404, "invalid_request_error", "", "Unrecognized request URL"},
			{"wrong method", testserver.Request{Method: "DELETE", Path: "/v1/account"}, 405, "invalid_request_error", "", "DELETE"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tc.req.Key = key
				resp := s.Do(t, tc.req)
				if resp.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
				}
				if !strings.HasPrefix(resp.Header.Get("Request-Id"), "req_") {
					t.Errorf("no Request-Id on %d", resp.Status)
				}
				e := resp.Error(t)
				if e["type"] != tc.errType || e["request_id"] != resp.Header.Get("Request-Id") {
					t.Fatalf("error %v", e)
				}
				if tc.param != "" && e["param"] != tc.param {
					t.Fatalf("param %v, want %s", e["param"], tc.param)
				}
				if msg, _ := e["message"].(string); !strings.Contains(msg, tc.msgSubstr) {
					t.Fatalf("message %q does not contain %q", msg, tc.msgSubstr)
				}
			})
		}
	})
}

func TestOperationalEndpoints(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			resp := s.Do(t, testserver.Request{Method: "GET", Path: path})
			if resp.Status != 200 || resp.Header.Get("Request-Id") == "" {
				t.Fatalf("%s: %d %s", path, resp.Status, resp.Body)
			}
		}
		s.Do(t, testserver.Request{Method: "GET", Path: "/v1/account", Key: s.Merchant.TestSecretKey})
		m := s.Do(t, testserver.Request{Method: "GET", Path: "/metrics"})
		if !strings.Contains(string(m.Body), `tender_http_requests_total{method="GET",route="GET /v1/account",status="200"}`) ||
			!strings.Contains(string(m.Body), "tender_http_request_duration_seconds_bucket") {
			t.Fatalf("metrics lack the request counter or latency histogram:\n%s", m.Body)
		}
	})
}

func TestRateLimitInMemory(t *testing.T) {
	eachDB(t, testserver.Options{Env: map[string]string{"TENDER_RATE_LIMIT": "5"}}, func(t *testing.T, s *testserver.Server) {
		key := s.Merchant.TestSecretKey
		for i := range 5 {
			resp := s.Do(t, testserver.Request{Method: "GET", Path: "/v1/account", Key: key})
			if resp.Status != 200 {
				t.Fatalf("request %d: %d %s", i+1, resp.Status, resp.Body)
			}
			if resp.Header.Get("RateLimit-Limit") != "5" {
				t.Fatalf("RateLimit-Limit = %q", resp.Header.Get("RateLimit-Limit"))
			}
		}
		resp := s.Do(t, testserver.Request{Method: "GET", Path: "/v1/account", Key: key})
		if resp.Status != 429 || resp.Header.Get("Retry-After") == "" || resp.Error(t)["type"] != "rate_limit_error" {
			t.Fatalf("6th request: %d Retry-After=%q %s", resp.Status, resp.Header.Get("Retry-After"), resp.Body)
		}
		if resp.Header.Get("RateLimit-Remaining") != "0" {
			t.Fatalf("RateLimit-Remaining = %q", resp.Header.Get("RateLimit-Remaining"))
		}
		// Budgets are per key: the live key is untouched.
		if r := s.Do(t, testserver.Request{Method: "GET", Path: "/v1/account", Key: s.Merchant.LiveSecretKey}); r.Status != 200 {
			t.Fatalf("other key limited too: %d", r.Status)
		}
	})
}

func redisURL(t *testing.T) string {
	u := os.Getenv("TENDER_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TENDER_TEST_REDIS_URL is not set in CI")
		}
		t.Skip("TENDER_TEST_REDIS_URL not set")
	}
	return u
}

func TestRateLimitSharedThroughRedis(t *testing.T) {
	ru := redisURL(t)
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			env := map[string]string{"TENDER_RATE_LIMIT": "6", "TENDER_REDIS_URL": ru}
			a := testserver.Start(t, testserver.Options{Kind: kind, Env: env})
			env["TENDER_MASTER_KEY"] = a.Env()["TENDER_MASTER_KEY"]
			b := testserver.Start(t, testserver.Options{Kind: kind, DBURL: a.DBURL, Env: env})
			key := a.Merchant.TestSecretKey
			allowed, limited := 0, 0
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := a
					if i%2 == 1 {
						s = b
					}
					resp := s.Do(t, testserver.Request{Method: "GET", Path: "/v1/account", Key: key})
					mu.Lock()
					defer mu.Unlock()
					switch resp.Status {
					case 200:
						allowed++
					case 429:
						limited++
					default:
						t.Errorf("status %d: %s", resp.Status, resp.Body)
					}
				}()
			}
			wg.Wait()
			if allowed != 6 || limited != 4 {
				t.Fatalf("two servers sharing Redis allowed %d and limited %d of 10; want 6 and 4", allowed, limited)
			}
		})
	}
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		m := s.Merchant
		keys := []string{m.TestSecretKey, m.LiveSecretKey, m.TestPublishableKey}
		for _, k := range keys {
			s.Do(t, testserver.Request{Method: "GET", Path: "/v1/account", Key: k})
			s.Do(t, testserver.Request{Method: "GET", Path: "/v1/account", Header: header("X-API-Key", k)})
			s.Do(t, testserver.Request{Method: "GET", Path: "/v1/account?x=" + k, Key: k})
			s.Do(t, testserver.Request{Method: "POST", Path: "/v1/account", Key: k, Form: url.Values{"name": {k}}})
		}
		// A key sent with a typo is not logged either.
		s.Do(t, testserver.Request{Method: "GET", Path: "/v1/account", Key: m.TestSecretKey + "x"})
		logs := s.Logs()
		if !strings.Contains(logs, `"route":"GET /v1/account"`) {
			t.Fatalf("the access log is missing:\n%s", logs)
		}
		for _, k := range keys {
			if strings.Contains(logs, k) || strings.Contains(logs, k[8:]) {
				t.Fatalf("a key appears in the logs")
			}
		}
		if strings.Contains(logs, s.Env()["TENDER_MASTER_KEY"]) {
			t.Fatal("the master key appears in the logs")
		}
	})
}
