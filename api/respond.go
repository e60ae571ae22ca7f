package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/tenderhq/tender/api/params"
)

// WriteJSON writes v as the JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every response type is ours; failing to encode one is a bug.
		panic("api: encode response: " + err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
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
