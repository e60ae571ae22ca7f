package api

import (
	"net/http"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/engine"
)

// providerView is a registered provider as seed 000 lists it.
type providerView struct {
	Key                 string                   `json:"key"`
	Name                string                   `json:"name"`
	Description         string                   `json:"description"`
	Capabilities        tender.Capabilities      `json:"capabilities"`
	RequiredCredentials []tender.CredentialField `json:"required_credentials,omitempty"`
	Settings            []tender.CredentialField `json:"settings,omitempty"`
	TestMode            bool                     `json:"test_mode"`
	LiveMode            bool                     `json:"live_mode"`
}

// ProviderViews lists the registered providers (no secrets: only what a
// merchant must supply).
func ProviderViews(reg *tender.Registry) []providerView {
	var out []providerView
	for _, p := range reg.All() {
		info := p.Info()
		caps := info.Capabilities
		if caps.SupportedCurrencies == nil {
			caps.SupportedCurrencies = []string{}
		}
		out = append(out, providerView{Key: info.Key, Name: info.Name, Description: info.Description, Capabilities: caps,
			RequiredCredentials: info.Credentials, Settings: info.Settings, TestMode: info.Modes.Test, LiveMode: info.Modes.Live})
	}
	return out
}

func (s *Server) listProviders(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct{}{}); err != nil {
		return err
	}
	views := ProviderViews(s.engine.Providers())
	data := make([]any, len(views))
	for i, v := range views {
		data[i] = v
	}
	WriteJSON(w, http.StatusOK, listObject{Object: "list", Data: data, URL: "/v1/providers"})
	return nil
}

type providerConfigParams struct {
	Enabled     *bool             `param:"enabled"`
	Priority    *int64            `param:"priority"`
	Credentials map[string]string `param:"credentials"`
	Settings    map[string]string `param:"settings"`
}

func (s *Server) putProviderConfig(w http.ResponseWriter, r *http.Request) error {
	var p providerConfigParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	up := engine.ProviderConfigParams{Enabled: p.Enabled, Credentials: p.Credentials, Settings: p.Settings}
	if p.Priority != nil {
		n := int(*p.Priority)
		up.Priority = &n
	}
	c := s.caller(r)
	cfg, err := s.engine.PutProviderConfig(r.Context(), c.Tenant, r.PathValue("provider"), up)
	if err != nil {
		return err
	}
	state(r.Context()).committed = true
	WriteJSON(w, http.StatusOK, engine.ViewProviderConfig(cfg))
	return nil
}

func (s *Server) getProviderConfig(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct{}{}); err != nil {
		return err
	}
	cfg, err := s.engine.ProviderConfig(r.Context(), tenantOf(r), r.PathValue("provider"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, engine.ViewProviderConfig(cfg))
	return nil
}

func (s *Server) deleteProviderConfig(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct{}{}); err != nil {
		return err
	}
	if err := s.engine.DeleteProviderConfig(r.Context(), tenantOf(r), r.PathValue("provider")); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]any{"object": "provider_config", "provider": r.PathValue("provider"), "deleted": true})
	return nil
}

func (s *Server) listProviderConfigs(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct{}{}); err != nil {
		return err
	}
	cfgs, err := s.payments.ProviderConfigs(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	data := make([]any, len(cfgs))
	for i, c := range cfgs {
		data[i] = engine.ViewProviderConfig(c)
	}
	WriteJSON(w, http.StatusOK, listObject{Object: "list", Data: data, URL: "/v1/provider_configs"})
	return nil
}
