package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/api/params"
	"github.com/tenderhq/tender/engine"
	"github.com/tenderhq/tender/webhook"
)

// WriteJSON writes v as the JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b := jsonBody(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// jsonBody is the body WriteJSON sends for v.
func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Every response type is ours; failing to encode one is a bug.
		panic("api: encode response: " + err.Error())
	}
	return append(b, '\n')
}

// Decode reads the request's parameters (JSON, form with Stripe's bracket
// notation, or the query string for GET) into dst, rejecting unknown ones.
func Decode(r *http.Request, dst any) error {
	st := state(r.Context())
	if st != nil && st.params != nil {
		return params.Decode(st.params, dst)
	}
	v, err := params.FromRequest(r)
	if err != nil {
		return err
	}
	return params.Decode(v, dst)
}

func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

func contextWithoutCancel(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// WriteSimple writes seed 001's success envelope: {"success": true, "data": v}.
func WriteSimple(w http.ResponseWriter, status int, v any) {
	WriteJSON(w, status, struct {
		Success bool `json:"success"`
		Data    any  `json:"data"`
	}{true, v})
}

// Caller exposes the engine caller of a request to other faces.
func (s *Server) Caller(r *http.Request) engine.Caller { return s.caller(r) }

// Tenant is the tenant of an authenticated request.
func Tenant(r *http.Request) tender.Tenant { return tenantOf(r) }

// Engine returns the payment engine.
func (s *Server) Engine() *engine.Engine { return s.engine }

// Webhooks returns the webhook service.
func (s *Server) Webhooks() *webhook.Service { return s.webhooks }

// MarkCommitted records that the request changed state (for idempotency
// and to wake the webhook dispatcher), for changes made outside the engine.
func MarkCommitted(r *http.Request) {
	if st := state(r.Context()); st != nil {
		st.committed = true
	}
}

// WebhookStore returns the store of webhook endpoints and deliveries.
func (s *Server) WebhookStore() tender.WebhookStore { return s.webhookStore }

// Params returns the request's decoded parameters, read once and kept for
// Decode, so that a handler may look at them before choosing a struct.
func Params(r *http.Request) (params.Values, error) {
	st := state(r.Context())
	if st != nil && st.params != nil {
		return st.params, nil
	}
	v, err := params.FromRequest(r)
	if err != nil {
		return nil, err
	}
	if st != nil {
		st.params = v
	}
	return v, nil
}

// UseSimpleEnvelope switches a request's errors to seed 001's envelope.
func UseSimpleEnvelope(r *http.Request) {
	if st := state(r.Context()); st != nil {
		st.simple = true
	}
}

// SetSimpleRefunds routes POST /v1/refunds requests that carry seed 001's
// payment_id to h; those with payment_intent or charge stay canonical.
func (s *Server) SetSimpleRefunds(h HandlerFunc) { s.simpleRefunds = h }

// Payments returns the payment store.
func (s *Server) Payments() tender.PaymentStore { return s.payments }

// OptionalAuth authenticates a request on a public route if it carries a
// key: sent reports whether it did.
func (s *Server) OptionalAuth(r *http.Request, rt Route) (a *Auth, sent bool, err error) {
	if _, sent := presentedKey(r); !sent {
		return nil, false, nil
	}
	a, err = s.authenticate(r, rt)
	return a, true, err
}

// CallerFor describes a request acting for tenant t (found without a key,
// e.g. by a checkout session's client token).
func (s *Server) CallerFor(r *http.Request, t tender.Tenant) engine.Caller {
	st := state(r.Context())
	return engine.Caller{Tenant: t, RequestID: st.id, OnCommit: func() { st.committed = true }}
}

// Store returns the merchant store.
func (s *Server) Store() tender.Store { return s.store }

// PresentedKey is the API key a request carries, if any.
func PresentedKey(r *http.Request) (string, bool) { return presentedKey(r) }
