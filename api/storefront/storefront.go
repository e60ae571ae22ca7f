// Package storefront is seed 000's face of Tender: what a store's
// front end calls to list payment options and to start paying an order
// (a checkout session). Its JSON is exactly seed 000's.
package storefront

import (
	"net/http"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/api"
)

// Register adds seed 000's routes to the server.
func Register(s *api.Server) {
	h := &handlers{s: s}
	s.Handle("GET /api/v1/payments/providers", api.Route{Public: true}, h.providers)
	s.Handle("GET /api/v1/payments/store/{store_id}/options", api.Route{Public: true}, h.options)
	s.Handle("POST /api/v1/payments/create-intent", api.Route{Public: true, Payment: true}, h.createIntent)
}

type handlers struct{ s *api.Server }

// capabilities is seed 000's capability object (a subset of Tender's).
type capabilities struct {
	SupportsRedirect    bool     `json:"supports_redirect"`
	SupportsWebhook     bool     `json:"supports_webhook"`
	SupportsRefund      bool     `json:"supports_refund"`
	RequiresClientSide  bool     `json:"requires_client_side"`
	SupportedCurrencies []string `json:"supported_currencies"`
}

type providerJSON struct {
	Key                 string                   `json:"key"`
	Name                string                   `json:"name"`
	Description         string                   `json:"description"`
	Capabilities        capabilities             `json:"capabilities"`
	RequiredCredentials []tender.CredentialField `json:"required_credentials,omitempty"`
}

func (h *handlers) providers(w http.ResponseWriter, r *http.Request) error {
	if err := api.Decode(r, &struct{}{}); err != nil {
		return err
	}
	out := []providerJSON{}
	for _, p := range h.s.Engine().Providers().All() {
		info := p.Info()
		c := info.Capabilities
		cur := c.SupportedCurrencies
		if cur == nil {
			cur = []string{}
		}
		out = append(out, providerJSON{Key: info.Key, Name: info.Name, Description: info.Description,
			Capabilities:        capabilities{c.SupportsRedirect, c.SupportsWebhook, c.SupportsRefund, c.RequiresClientSide, cur},
			RequiredCredentials: info.Credentials})
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"providers": out})
	return nil
}

type optionJSON struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Priority    int    `json:"priority"`
}

// storeTenant is the store's tenant: the mode of the publishable key sent
// (which must be the store's), live mode without one.
func (h *handlers) storeTenant(r *http.Request, storeID string) (tender.Tenant, error) {
	t := tender.Tenant{MerchantID: storeID, Livemode: true}
	if a, sent, err := h.s.OptionalAuth(r, api.Route{Browser: true}); sent {
		if err != nil {
			return t, err
		}
		if a.MerchantID != storeID {
			return t, tender.NotFound("store", storeID)
		}
		t.Livemode = a.Livemode
	}
	if _, err := h.s.Store().Merchant(r.Context(), storeID); err != nil {
		return t, tender.NotFound("store", storeID)
	}
	return t, nil
}

func (h *handlers) options(w http.ResponseWriter, r *http.Request) error {
	if err := api.Decode(r, &struct{}{}); err != nil {
		return err
	}
	t, err := h.storeTenant(r, r.PathValue("store_id"))
	if err != nil {
		return err
	}
	infos, prios, err := h.s.Engine().StoreOptions(r.Context(), t)
	if err != nil {
		return err
	}
	out := []optionJSON{}
	for i, info := range infos {
		out = append(out, optionJSON{Key: info.Key, Name: info.Name, Description: info.Description, Priority: prios[i]})
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"payment_options": out})
	return nil
}

type createIntentParams struct {
	OrderID     string `param:"order_id,required"`
	Provider    string `param:"provider"`
	ClientToken string `param:"client_token"`
}

// createIntent is seed 000's create-intent for an order (a checkout
// session), authorized by a key of the order's merchant (publishable
// will do) or by the order's client token.
func (h *handlers) createIntent(w http.ResponseWriter, r *http.Request) error {
	var p createIntentParams
	if err := api.Decode(r, &p); err != nil {
		return err
	}
	eng := h.s.Engine()
	var t tender.Tenant
	a, sent, err := h.s.OptionalAuth(r, api.Route{Browser: true, Scope: tender.ScopePaymentsWrite})
	switch {
	case sent && err != nil:
		return err
	case sent:
		t = tender.Tenant{MerchantID: a.MerchantID, Livemode: a.Livemode}
	case p.ClientToken != "":
		sess, err := eng.SessionByToken(r.Context(), p.OrderID, p.ClientToken)
		if err != nil {
			return renameParam(err, "order_id")
		}
		t = tender.Tenant{MerchantID: sess.MerchantID, Livemode: sess.Livemode}
	default:
		return &tender.Error{Type: tender.AuthenticationError, Code: tender.CodeAPIKeyInvalid,
			Message: "Send the store's publishable key (Authorization: Bearer pk_…) or the order's client_token."}
	}
	c := h.s.CallerFor(r, t)
	sess, pi, err := eng.SessionIntent(r.Context(), c, p.OrderID, p.Provider)
	if err != nil {
		return renameParam(err, "order_id")
	}
	prov, _ := eng.Providers().Get(pi.Provider)
	info := prov.Info()
	out := map[string]any{"provider": pi.Provider, "amount": pi.Amount, "currency": pi.Currency.Code(), "order_id": sess.ID,
		"order_status": sess.Status, "payment_status": sess.PaymentStatus}
	switch {
	case info.NoPaymentMethod:
		instructions := ""
		if pi.NextAction != nil && pi.NextAction.DisplayPaymentInstructions != nil {
			instructions = pi.NextAction.DisplayPaymentInstructions.Instructions
		}
		out["payment_instructions"] = instructions
		out["payment_intent_id"] = pi.ID
	case info.Capabilities.RequiresClientSide:
		// The browser confirms with the provider's own library: start the
		// payment there and hand over its client secret and publishable key.
		pi, ch, err := eng.StartClientPayment(r.Context(), c, pi.ID)
		if err != nil {
			return err
		}
		creds, err := eng.ProviderCredentials(r.Context(), t, pi.Provider)
		if err != nil {
			return err
		}
		out["client_secret"] = ch.ProviderClientSecret
		out["payment_intent_id"] = ch.ProviderRef
		out["tender_payment_intent"] = pi.ID
		out["publishable_key"] = creds["publishable_key"]
	default:
		// Tender's own processor: the browser confirms through Tender's API.
		out["client_secret"] = pi.ClientSecret
		out["payment_intent_id"] = pi.ID
		if key, _ := api.PresentedKey(r); a != nil && a.Key.Kind == tender.PublishableKey {
			out["publishable_key"] = key
		} else {
			out["publishable_key"] = nil
		}
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

func renameParam(err error, param string) error {
	if te, ok := tender.AsError(err); ok && (te.Param == "id" || te.Param == "") && te.Code == tender.CodeResourceMissing {
		c := *te
		c.Param = param
		return &c
	}
	return err
}
