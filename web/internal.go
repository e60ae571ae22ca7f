package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/api"
)

// The internal API (seed 002) is for a platform that runs stores on
// Tender: it authenticates with X-Internal-Secret (TENDER_INTERNAL_SECRET).
// Without the setting, or with a wrong secret, every path under
// /api/internal/ answers exactly as an unknown route does.

// internalOK compares the request's secret with the configured one in
// constant time (over their hashes, so the length does not show either).
func (h *handler) internalOK(r *http.Request) bool {
	if h.cfg.InternalSecret == "" {
		return false
	}
	got := r.Header.Get("X-Internal-Secret")
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(h.cfg.InternalSecret))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 && got != ""
}

// internal routes a request under /api/internal/ once its secret is right.
func (h *handler) internal(w http.ResponseWriter, r *http.Request) error {
	if !h.internalOK(r) {
		return routeMissing(r)
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/internal/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "stores" && r.Method == http.MethodPost:
		return h.internalCreateStore(w, r)
	case len(parts) == 3 && parts[0] == "stores" && parts[2] == "stripe-status" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		return h.writeStatus(w, r, parts[1])
	case len(parts) == 3 && parts[0] == "stores" && parts[2] == "connect_links" && r.Method == http.MethodPost:
		return h.internalConnectLink(w, r, parts[1])
	}
	return routeMissing(r)
}

type createStoreParams struct {
	Name string `param:"name,required"`
}

// internalCreateStore is POST /api/internal/stores: a platform creating a
// store. The answer holds the store's keys, shown this once.
func (h *handler) internalCreateStore(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.CreateStore == nil {
		return routeMissing(r)
	}
	var p createStoreParams
	if err := api.Decode(r, &p); err != nil {
		return err
	}
	name := strings.TrimSpace(p.Name)
	if name == "" || len(name) > 200 {
		return tender.InvalidParam(tender.CodeParameterInvalid, "name", "name must be between 1 and 200 characters.")
	}
	out, err := h.cfg.CreateStore(r.Context(), name)
	if err != nil {
		return err
	}
	h.log.InfoContext(r.Context(), "web: store created through the internal API", "name", name)
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

// internalConnectLink is POST /api/internal/stores/{id}/connect_links: a
// link in a given mode ("test", "live"), or for either when mode is left
// out.
func (h *handler) internalConnectLink(w http.ResponseWriter, r *http.Request, storeID string) error {
	var p internalLinkParams
	if err := api.Decode(r, &p); err != nil {
		return err
	}
	switch p.Mode {
	case "", "test", "live":
	default:
		return tender.InvalidParam(tender.CodeParameterInvalid, "mode", "mode must be test or live (or left out for either).")
	}
	l, err := h.newLink(r.Context(), storeID, p.Mode, p.linkParams)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, h.linkJSON(l))
	return nil
}
