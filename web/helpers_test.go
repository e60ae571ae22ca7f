package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/stripefake"
	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testserver"
)

// Stripe keys the fake knows.
const (
	goodSK = "sk_test_51GoodKeyForTheFakeStripe00000000000000"
	goodPK = "pk_test_51GoodKeyForTheFakeStripe00000000000000"
	liveSK = "sk_live_51LiveKeyForTheFakeStripe00000000000000"
	livePK = "pk_live_51LiveKeyForTheFakeStripe00000000000000"
	badSK  = "sk_test_51ThisKeyWasRolledAtStripe00000000000000"
	secret = "internal-secret-for-tests-0123456789"
)

// env is a running Tender with a fake Stripe behind it.
type env struct {
	*testserver.Server
	Stripe *stripefake.Fake
}

// start runs Tender on a database kind with the Stripe fake and the
// internal API enabled (unless extra says otherwise).
func start(t *testing.T, kind string, extra map[string]string) *env {
	t.Helper()
	fake := stripefake.New()
	t.Cleanup(fake.Close)
	fake.AddAccount("acct_good", goodSK, goodPK)
	fake.AddAccount("acct_live", liveSK, livePK)
	vars := map[string]string{"TENDER_STRIPE_API_URL": fake.URL, "TENDER_INTERNAL_SECRET": secret}
	for k, v := range extra {
		vars[k] = v
	}
	s := testserver.Start(t, testserver.Options{Kind: kind, Env: vars})
	return &env{Server: s, Stripe: fake}
}

// eachKind runs fn once per available database kind.
func eachKind(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) { fn(t, kind) })
	}
}

// noRedirect is a client that reports redirects instead of following them.
func noRedirect() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Timeout: 30 * time.Second, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type page struct {
	Status int
	Header http.Header
	Body   string
}

func (e *env) get(t *testing.T, path string) *page {
	t.Helper()
	return e.send(t, http.MethodGet, path, nil, nil)
}

// post sends a browser-like form POST (with the Origin a browser sends).
func (e *env) post(t *testing.T, path string, form url.Values) *page {
	t.Helper()
	return e.send(t, http.MethodPost, path, form, http.Header{"Origin": {e.URL}})
}

func (e *env) send(t *testing.T, method, path string, form url.Values, hdr http.Header) *page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.URL + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &page{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// api calls Tender's JSON API.
func (e *env) api(t *testing.T, method, path, key string, form url.Values, hdr http.Header) *testserver.Response {
	t.Helper()
	return e.Do(t, testserver.Request{Method: method, Path: path, Key: key, Form: form, Header: hdr})
}

func jsonOf(t *testing.T, r *testserver.Response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %v\n%s", r.Status, err, r.Body)
	}
	return m
}

// link makes a connect link with a merchant's secret key.
func (e *env) link(t *testing.T, key string, form url.Values) map[string]any {
	t.Helper()
	r := e.api(t, "POST", "/v1/connect_links", key, form, nil)
	if r.Status != 200 {
		t.Fatalf("POST /v1/connect_links: %d %s", r.Status, r.Body)
	}
	return jsonOf(t, r)
}

// pathOf is a URL's path and query.
func pathOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hidden returns a page's hidden form fields.
func hidden(p *page) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.Body, -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	return v
}

func htmlUnescape(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&#43;", "+", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`)
	return r.Replace(s)
}

// session creates a checkout session for a merchant.
func (e *env) session(t *testing.T, key string, successURL, cancelURL string) map[string]any {
	t.Helper()
	form := url.Values{
		"currency":                   {"usd"},
		"line_items[0][name]":        {"Linen shirt"},
		"line_items[0][quantity]":    {"2"},
		"line_items[0][unit_amount]": {"2500"},
		"line_items[1][name]":        {"Gift wrap"},
		"line_items[1][quantity]":    {"1"},
		"line_items[1][unit_amount]": {"350"},
		"success_url":                {successURL},
	}
	if cancelURL != "" {
		form.Set("cancel_url", cancelURL)
	}
	r := e.api(t, "POST", "/v1/checkout/sessions", key, form, nil)
	if r.Status != 200 {
		t.Fatalf("create session: %d %s", r.Status, r.Body)
	}
	return jsonOf(t, r)
}

func (e *env) sessionStatus(t *testing.T, key, id string) (status, payment string) {
	t.Helper()
	r := e.api(t, "GET", "/v1/checkout/sessions/"+id, key, nil, nil)
	if r.Status != 200 {
		t.Fatalf("get session: %d %s", r.Status, r.Body)
	}
	m := jsonOf(t, r)
	return fmt.Sprint(m["status"]), fmt.Sprint(m["payment_status"])
}

// shop is a merchant's site on 127.0.0.1: it records the pages shoppers
// and merchants come back to.
type shop struct {
	*httptest.Server
	mu   sync.Mutex
	hits chan string
}

func newShop(t *testing.T) *shop {
	s := &shop{hits: make(chan string, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Shop</title><h1>Back at the shop: %s</h1>", r.URL.Path)
		select {
		case s.hits <- r.URL.RequestURI():
		default:
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// wait returns the next page the shop served.
func (s *shop) wait(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case u := <-s.hits:
		return u
	case <-time.After(d):
		t.Fatalf("the shop was not reached within %s", d)
		return ""
	}
}

// checkPageHeaders checks the security headers every hosted page has.
func checkPageHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'", "form-action "} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*;"} {
		if strings.Contains(csp, bad) {
			t.Errorf("%s: CSP %q allows %s", what, csp, bad)
		}
	}
	if got := h.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options = %q", what, got)
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options = %q", what, got)
	}
	if got := h.Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
		t.Errorf("%s: Content-Type = %q", what, got)
	}
	if got := h.Get("Referrer-Policy"); got == "" {
		t.Errorf("%s: no Referrer-Policy", what)
	}
}

// testserverJSON is a JSON request with headers.
func testserverJSON(method, path string, body any, hdr http.Header) testserver.Request {
	return testserver.Request{Method: method, Path: path, JSON: body, Header: hdr}
}
