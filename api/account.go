package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/tenderhq/tender"
)

// account is the authenticated merchant, as the key sees it.
type account struct {
	ID       string `json:"id"`
	Object   string `json:"object"`
	Name     string `json:"name"`
	Livemode bool   `json:"livemode"`
	Created  int64  `json:"created"`
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct{}{}); err != nil {
		return err
	}
	a := authOf(r)
	m, err := s.store.Merchant(r.Context(), a.MerchantID)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, account{ID: m.ID, Object: "account", Name: m.Name, Livemode: a.Livemode, Created: m.Created.Unix()})
	return nil
}

type updateAccountParams struct {
	Name *string `param:"name"`
}

func (s *Server) updateAccount(w http.ResponseWriter, r *http.Request) error {
	var p updateAccountParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	a := authOf(r)
	m, err := s.store.Merchant(r.Context(), a.MerchantID)
	if err != nil {
		return err
	}
	if p.Name != nil {
		name := strings.TrimSpace(*p.Name)
		if name == "" || len(name) > 200 {
			return tender.InvalidParam(tender.CodeParameterInvalid, "name", "The name must be 1 to 200 characters.")
		}
		m.Name = name
		if err := s.store.UpdateMerchant(r.Context(), m); err != nil {
			return err
		}
	}
	WriteJSON(w, http.StatusOK, account{ID: m.ID, Object: "account", Name: m.Name, Livemode: a.Livemode, Created: m.Created.Unix()})
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := contextWithTimeout(r, 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness check failed", "error", err)
		WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": s.store.Kind()})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "database": s.store.Kind()})
}
