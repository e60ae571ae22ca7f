// Package testserver starts the real Tender server for black-box tests:
// cli.Run("serve") on 127.0.0.1:0 with a fresh database, its logs
// captured, and a merchant made through the CLI, exactly as an operator
// would. Requests then go over real HTTP.
package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenderhq/tender/cli"
	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/vault"
)

// Options configure a test server.
type Options struct {
	// Kind is the database kind, "sqlite" (default) or "postgres".
	Kind string
	// DBURL reuses a database instead of making a fresh one.
	DBURL string
	// Env adds or overrides environment variables.
	Env map[string]string
}

// Merchant is a merchant made through `tender merchants create --json`.
type Merchant struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	TestSecretKey      string `json:"test_secret_key"`
	TestPublishableKey string `json:"test_publishable_key"`
	LiveSecretKey      string `json:"live_secret_key"`
	LivePublishableKey string `json:"live_publishable_key"`
}

// Server is a running Tender.
type Server struct {
	URL      string
	DBURL    string
	Merchant Merchant
	Client   *http.Client

	env    map[string]string
	logs   *Buffer
	stdout *Buffer
	cancel context.CancelFunc
	done   chan error
}

// Env returns the environment the server runs with.
func (s *Server) Env() map[string]string { return s.env }

// Start runs a server and a first merchant; it stops when the test ends.
func Start(t testing.TB, opt Options) *Server {
	t.Helper()
	if opt.Kind == "" {
		opt.Kind = "sqlite"
	}
	if opt.DBURL == "" {
		opt.DBURL = testdb.URL(t, opt.Kind)
	}
	env := map[string]string{
		"TENDER_DATABASE_URL": opt.DBURL,
		"TENDER_MASTER_KEY":   vault.EncodeKey(vault.NewKey()),
		"TENDER_LOG_LEVEL":    "debug",
		"TENDER_LOG_FORMAT":   "json",
		// Test receivers listen on loopback.
		"TENDER_WEBHOOK_ALLOW_PRIVATE": "true",
	}
	for k, v := range opt.Env {
		env[k] = v
	}
	s := &Server{DBURL: opt.DBURL, env: env, logs: NewBuffer(), stdout: NewBuffer(),
		Client: &http.Client{Timeout: 30 * time.Second}}
	s.Merchant = s.NewMerchant(t, "Test Store")
	s.start(t)
	return s
}

func (s *Server) getenv(k string) string { return s.env[k] }

func (s *Server) start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan error, 1)
	go func() { s.done <- cli.Run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, s.getenv, s.stdout, s.logs) }()
	select {
	case u := <-s.logs.listening:
		s.URL = u
	case err := <-s.done:
		t.Fatalf("server exited before listening: %v\nlogs:\n%s", err, s.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start within 30s; logs:\n%s", s.logs)
	}
	t.Cleanup(func() { s.Stop(t) })
}

// Stop shuts the server down gracefully and waits for it.
func (s *Server) Stop(t testing.TB) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("server exited with %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Errorf("server did not stop within 40s")
	}
}

// Restart stops and starts the server on the same database.
func (s *Server) Restart(t testing.TB) {
	s.Stop(t)
	s.logs.reset()
	s.start(t)
}

// Logs is everything the server logged.
func (s *Server) Logs() string { return s.logs.String() }

// CLI runs a tender command against the server's database and returns its stdout.
func (s *Server) CLI(t testing.TB, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := cli.Run(context.Background(), args, s.getenv, &out, &errOut)
	if err != nil {
		return out.String(), fmt.Errorf("tender %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// NewMerchant creates another merchant through the CLI.
func (s *Server) NewMerchant(t testing.TB, name string) Merchant {
	t.Helper()
	out, err := s.CLI(t, "merchants", "create", "--name", name, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var m Merchant
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("merchants create --json printed %q: %v", out, err)
	}
	return m
}

// Request is one API call.
type Request struct {
	Method string
	Path   string
	// Key is sent as Authorization: Bearer (unless Header sets auth itself).
	Key string
	// Form is sent form-encoded; JSON is sent as JSON; at most one.
	Form url.Values
	JSON any
	// Raw is sent as is, with Header's Content-Type.
	Raw    []byte
	Header http.Header
}

// Response is an API answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object.
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v\n%s", r.Status, err, r.Body)
	}
	return m
}

// Error returns the error object of an error response.
func (r *Response) Error(t testing.TB) map[string]any {
	t.Helper()
	e, ok := r.JSON(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("response %d has no error object:\n%s", r.Status, r.Body)
	}
	return e
}

// Do sends a request and reads the whole answer.
func (s *Server) Do(t testing.TB, req Request) *Response {
	t.Helper()
	var body io.Reader
	ctype := ""
	switch {
	case req.Form != nil:
		body, ctype = strings.NewReader(req.Form.Encode()), "application/x-www-form-urlencoded"
	case req.JSON != nil:
		b, err := json.Marshal(req.JSON)
		if err != nil {
			t.Fatal(err)
		}
		body, ctype = bytes.NewReader(b), "application/json"
	case req.Raw != nil:
		body = bytes.NewReader(req.Raw)
	}
	hr, err := http.NewRequest(req.Method, s.URL+req.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		hr.Header.Set("Content-Type", ctype)
	}
	if req.Key != "" {
		hr.Header.Set("Authorization", "Bearer "+req.Key)
	}
	for k, v := range req.Header {
		hr.Header[k] = v
	}
	resp, err := s.Client.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.Path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Buffer collects a server's log output and notices its "listening" line.
type Buffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	partial   []byte
	listening chan string
}

// NewBuffer makes an empty Buffer.
func NewBuffer() *Buffer { return &Buffer{listening: make(chan string, 1)} }

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		line := b.partial[:i]
		b.partial = b.partial[i+1:]
		var rec struct {
			Msg string `json:"msg"`
			URL string `json:"url"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
			select {
			case b.listening <- rec.URL:
			default:
			}
		}
	}
	return len(p), nil
}

func (b *Buffer) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = nil
	select {
	case <-b.listening:
	default:
	}
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
