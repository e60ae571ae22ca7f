// Package api is Tender's HTTP layer: the router and its middleware
// (request id, panic recovery, access log and metrics, authentication,
// scopes, rate limits, body limits), the one error writer, request
// decoding, and the canonical Stripe-shaped API. Other faces of the API
// register their routes on the same Server, so that they share all of it.
package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/engine"
	"github.com/tenderhq/tender/ratelimit"
	"github.com/tenderhq/tender/webhook"
)

// Config is what a Server needs. Store, Payments, Engine and Logger are required.
type Config struct {
	Store    tender.Store
	Payments tender.PaymentStore
	Engine   *engine.Engine
	Webhooks *webhook.Service
	// WebhookStore keeps endpoints and deliveries.
	WebhookStore tender.WebhookStore
	// Inbound supports providers' webhooks.
	Inbound tender.InboundStore
	Logger  *slog.Logger
	// IdempotencyLockTimeout is how long a request may hold its
	// Idempotency-Key before a retry may take the key over (default 30s).
	IdempotencyLockTimeout time.Duration
	// Limiter enforces per-key budgets; nil means no rate limiting.
	Limiter ratelimit.Limiter
	// RateLimit is requests per minute per key (seed 003: 1000); 0 = unlimited.
	RateLimit int
	// PaymentRateLimit is payment-creating requests per minute per key
	// (seed 003: 100); 0 = unlimited.
	PaymentRateLimit int
	// MaxBodyBytes caps request bodies (default 1 MiB).
	MaxBodyBytes int64
	// Version is reported in logs and /healthz.
	Version string
	// Registry receives the HTTP metrics; nil makes a private one.
	Registry *prometheus.Registry
	// Now is the clock (default time.Now).
	Now func() time.Time
	// KeyCacheTTL is how long an API key is trusted without asking the
	// database again: a key revoked elsewhere stops working here within
	// it (default 10s; negative disables the cache).
	KeyCacheTTL time.Duration
}

// Server routes and serves Tender's API.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    tender.Store
	payments tender.PaymentStore
	engine   *engine.Engine
	webhooks *webhook.Service
	// webhookStore lists endpoints and deliveries.
	webhookStore tender.WebhookStore
	inbound      tender.InboundStore
	routeList    []RouteInfo
	// simpleRefunds serves seed 001's POST /v1/refunds (with payment_id).
	simpleRefunds HandlerFunc
	mux           *http.ServeMux
	handler       http.Handler
	metrics       *metrics
	now           func() time.Time

	touched sync.Map // key id → time.Time of the last last_used_at write
	keys    *keyCache
}

// HandlerFunc is a route's handler. A returned error is written as the
// error object; a handler that returns an error must not have written.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route describes who may call a route and what it costs.
type Route struct {
	// Public routes need no key (health checks, hosted pages).
	Public bool
	// Browser routes accept publishable keys as well as secret ones.
	Browser bool
	// Scope is what a restricted key must hold ("" = any key of the merchant).
	Scope tender.Scope
	// Payment routes also spend the payment-creation budget.
	Payment bool
	// Simple routes are seed 001's face: answers and errors are wrapped in
	// {"success": …, "data"|"error": …}.
	Simple bool
	// InlineIdempotency: the handler passes s.caller(r) to one engine call
	// that accepts an engine.Idempotency, so that an Idempotency-Key's
	// record is written in the call's own transactions.
	InlineIdempotency bool
}

// New builds a server with the canonical API's routes.
func New(cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KeyCacheTTL == 0 {
		cfg.KeyCacheTTL = 10 * time.Second
	}
	if cfg.IdempotencyLockTimeout <= 0 {
		cfg.IdempotencyLockTimeout = 30 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:          cfg,
		log:          cfg.Logger,
		store:        cfg.Store,
		payments:     cfg.Payments,
		engine:       cfg.Engine,
		webhooks:     cfg.Webhooks,
		webhookStore: cfg.WebhookStore,
		inbound:      cfg.Inbound,
		mux:          http.NewServeMux(),
		metrics:      newMetrics(cfg.Registry),
		now:          cfg.Now,
		keys:         newKeyCache(cfg.KeyCacheTTL, 100_000),
	}
	s.routes()
	s.handler = withRequestID(s.observe(http.HandlerFunc(s.serve)))
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Handle registers a route. pattern is a net/http pattern with a method
// ("POST /v1/payment_intents/{id}/confirm").
func (s *Server) Handle(pattern string, rt Route, h HandlerFunc) {
	s.mux.Handle(pattern, s.wrap(rt, checkPath(wildcards(pattern), h)))
	s.routeList = append(s.routeList, RouteInfo{Pattern: pattern, Route: rt})
}

// RouteInfo is a registered API route.
type RouteInfo struct {
	Pattern string
	Route   Route
}

// Routes lists the API routes registered with Handle, in registration
// order (the isolation tests walk every one of them).
func (s *Server) Routes() []RouteInfo { return append([]RouteInfo(nil), s.routeList...) }

// HandleHTTP registers a plain http.Handler with no authentication (pages,
// metrics). It still gets request ids, recovery, logging and metrics.
func (s *Server) HandleHTTP(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

func (s *Server) wrap(rt Route, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := state(r.Context())
		st.simple = rt.Simple
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		if !rt.Public {
			a, err := s.authenticate(r, rt)
			if err != nil {
				s.WriteError(w, r, err)
				return
			}
			if err := s.limit(w, r, a, rt); err != nil {
				s.WriteError(w, r, err)
				return
			}
			if key := r.Header.Get("Idempotency-Key"); key != "" && r.Method == http.MethodPost {
				s.idempotent(w, r, a, key, rt.InlineIdempotency, h)
				s.wakeIfCommitted(st)
				return
			}
		}
		if err := h(w, r); err != nil {
			s.WriteError(w, r, err)
		}
		s.wakeIfCommitted(st)
	})
}

// wakeIfCommitted tells the webhook dispatcher that new events may wait.
func (s *Server) wakeIfCommitted(st *reqState) {
	if st.committed && s.webhooks != nil {
		s.webhooks.Wake()
	}
}

// serve dispatches to the mux, answering unknown routes and wrong methods
// with the error object instead of net/http's plain text.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic", "request_id", RequestID(r.Context()), "panic", v, "stack", string(debug.Stack()))
			if rw, ok := w.(*statusWriter); !ok || !rw.wrote {
				s.WriteError(w, r, tender.Internal(nil))
			}
		}
	}()
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// Ask the mux what it would have answered: 404 or 405 (with Allow).
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if allow := rec.Header().Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		if rec.Code == http.StatusMethodNotAllowed {
			s.WriteError(w, r, tender.InvalidRequest(codeMethodNotAllowed,
				"Unrecognized request URL method (%s: %s). Allowed: %s.", r.Method, r.URL.Path, rec.Header().Get("Allow")))
			return
		}
		if rec.Code != http.StatusNotFound {
			// A redirect the mux made (such as a cleaned path): pass it on.
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
			return
		}
		s.WriteError(w, r, tender.InvalidRequest(codeRouteMissing,
			"Unrecognized request URL (%s: %s).", r.Method, r.URL.Path))
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	s.HandleHTTP("GET /healthz", http.HandlerFunc(s.healthz))
	s.HandleHTTP("GET /readyz", http.HandlerFunc(s.readyz))
	s.HandleHTTP("GET /metrics", s.metrics.handler())
	s.Handle("GET /v1/account", Route{Scope: tender.ScopeMerchantRead}, s.getAccount)
	s.Handle("POST /v1/account", Route{Scope: tender.ScopeMerchantWrite}, s.updateAccount)

	read, write := Route{Scope: tender.ScopePaymentsRead}, Route{Scope: tender.ScopePaymentsWrite}
	s.Handle("POST /v1/payment_intents", Route{Scope: tender.ScopePaymentsWrite, Payment: true, InlineIdempotency: true}, s.createPaymentIntent)
	s.Handle("GET /v1/payment_intents", read, s.listPaymentIntents)
	s.Handle("GET /v1/payment_intents/{id}", Route{Scope: tender.ScopePaymentsRead, Browser: true}, s.getPaymentIntent)
	s.Handle("POST /v1/payment_intents/{id}", write, s.updatePaymentIntent)
	s.Handle("POST /v1/payment_intents/{id}/confirm", Route{Scope: tender.ScopePaymentsWrite, Payment: true, Browser: true, InlineIdempotency: true}, s.confirmPaymentIntent)
	s.Handle("POST /v1/payment_intents/{id}/capture", write, s.capturePaymentIntent)
	s.Handle("POST /v1/payment_intents/{id}/cancel", write, s.cancelPaymentIntent)
	s.Handle("GET /v1/charges", read, s.listCharges)
	s.Handle("GET /v1/charges/{id}", read, s.getCharge)
	s.Handle("POST /v1/refunds", write, s.createRefund)
	s.Handle("GET /v1/refunds", read, s.listRefunds)
	s.Handle("GET /v1/refunds/{id}", read, s.getRefund)
	s.Handle("GET /v1/events", read, s.listEvents)
	s.Handle("GET /v1/events/{id}", read, s.getEvent)

	s.Handle("POST /v1/customers", write, s.createCustomer)
	s.Handle("GET /v1/customers", read, s.listCustomers)
	s.Handle("GET /v1/customers/{id}", read, s.getCustomer)
	s.Handle("POST /v1/customers/{id}", write, s.updateCustomer)
	s.Handle("DELETE /v1/customers/{id}", write, s.deleteCustomer)
	s.Handle("GET /v1/customers/{id}/payment_methods", read, s.listPaymentMethods)
	s.Handle("POST /v1/payment_methods", Route{Scope: tender.ScopePaymentsWrite, Browser: true}, s.createPaymentMethod)
	s.Handle("GET /v1/payment_methods", read, s.listPaymentMethods)
	s.Handle("GET /v1/payment_methods/{id}", read, s.getPaymentMethod)
	s.Handle("POST /v1/payment_methods/{id}", write, s.updatePaymentMethod)
	s.Handle("POST /v1/payment_methods/{id}/attach", write, s.attachPaymentMethod)
	s.Handle("POST /v1/payment_methods/{id}/detach", write, s.detachPaymentMethod)

	s.Handle("POST /v1/checkout/sessions", write, s.createCheckoutSession)
	s.Handle("GET /v1/checkout/sessions", read, s.listCheckoutSessions)
	s.Handle("GET /v1/checkout/sessions/{id}", read, s.getCheckoutSession)
	s.Handle("POST /v1/checkout/sessions/{id}/expire", write, s.expireCheckoutSession)

	wread, wwrite := Route{Scope: tender.ScopeWebhooksRead}, Route{Scope: tender.ScopeWebhooksWrite}
	s.Handle("POST /v1/webhook_endpoints", wwrite, s.createWebhookEndpoint)
	s.Handle("GET /v1/webhook_endpoints", wread, s.listWebhookEndpoints)
	s.Handle("GET /v1/webhook_endpoints/{id}", wread, s.getWebhookEndpoint)
	s.Handle("POST /v1/webhook_endpoints/{id}", wwrite, s.updateWebhookEndpoint)
	s.Handle("DELETE /v1/webhook_endpoints/{id}", wwrite, s.deleteWebhookEndpoint)
	s.Handle("GET /v1/webhook_endpoints/{id}/deliveries", wread, s.listDeliveries)
	s.Handle("POST /v1/events/{id}/redeliver", wwrite, s.redeliverEvent)

	s.Handle("POST /v1/webhooks/{provider}", Route{Public: true}, s.receiveWebhook)
	s.Handle("POST /v1/webhooks/{provider}/{merchant_id}", Route{Public: true}, s.receiveWebhook)

	mread, mwrite := Route{Scope: tender.ScopeMerchantRead}, Route{Scope: tender.ScopeMerchantWrite}
	s.Handle("GET /v1/providers", mread, s.listProviders)
	s.Handle("GET /v1/provider_configs", mread, s.listProviderConfigs)
	s.Handle("GET /v1/provider_configs/{provider}", mread, s.getProviderConfig)
	s.Handle("PUT /v1/provider_configs/{provider}", mwrite, s.putProviderConfig)
	s.Handle("POST /v1/provider_configs/{provider}", mwrite, s.putProviderConfig)
	s.Handle("DELETE /v1/provider_configs/{provider}", mwrite, s.deleteProviderConfig)
}

// wildcards names a pattern's path parameters ("{id}" → "id").
func wildcards(pattern string) []string {
	var names []string
	for rest := pattern; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return names
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return names
		}
		names = append(names, strings.TrimSuffix(rest[i+1:i+j], "..."))
		rest = rest[i+j+1:]
	}
}

// maxPathParam is the longest id (or other path parameter) looked up.
const maxPathParam = 255

// checkPath answers 404 for path parameters no object can have (too long,
// not UTF-8, control characters) before they reach a query: PostgreSQL
// refuses a NUL byte outright, and nothing is gained by asking.
func checkPath(names []string, h HandlerFunc) HandlerFunc {
	if len(names) == 0 {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		for _, n := range names {
			v := r.PathValue(n)
			if len(v) > maxPathParam || !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
				return tender.NotFound(strings.TrimSuffix(n, "_id"), truncateParam(v))
			}
		}
		return h(w, r)
	}
}

// truncateParam keeps a bad path parameter printable and short for the message.
func truncateParam(v string) string {
	v = strings.ToValidUTF8(v, "?")
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, v)
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	return v
}
