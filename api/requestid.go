package api

import (
	"context"
	"net/http"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/api/params"
	"github.com/tenderhq/tender/engine"
)

type ctxKey struct{}

// reqState is what the middleware learns about a request as it goes. One
// pointer in the context lets outer layers (the access log) see what inner
// ones (authentication) found without copying the request.
type reqState struct {
	id   string
	auth *Auth
	// params are the request's parameters when the idempotency layer
	// already read them (to fingerprint the request).
	params params.Values
	// idem is the idempotency record the request runs under, if any.
	idem *tender.IdempotencyRecord
	// inline: the engine writes idem in the request's own transactions.
	inline *engine.Idempotency
	// resumed: this request took over an interrupted one with the same key.
	resumed bool
	// committed: the request changed stored state (decides whether an
	// idempotent request's error response is kept for replay).
	committed bool
	// simple: errors go in seed 001's {"success": false, …} envelope.
	simple bool
}

func state(ctx context.Context) *reqState {
	s, _ := ctx.Value(ctxKey{}).(*reqState)
	return s
}

// RequestID returns the id of the request being served ("req_…").
func RequestID(ctx context.Context) string {
	if s := state(ctx); s != nil {
		return s.id
	}
	return ""
}

// withRequestID gives every request an id and sets the Request-Id header
// before anything else can answer, so that every response carries it,
// errors and panics included.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{id: tender.NewID(tender.PrefixRequest)}
		w.Header().Set("Request-Id", st.id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, st)))
	})
}
