// Package simple is seed 001's face of Tender: the "Payments Service" API
// that merchants already code against (POST /v1/payments with decimal
// amounts, saved cards, refunds by payment_id, one webhook URL). Every
// route is a thin translation onto the canonical engine, so a payment made
// here is a payment intent everywhere else.
package simple

import (
	"net/http"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/api"
	"github.com/tenderhq/tender/webhook"
)

// Register adds seed 001's routes to the server.
func Register(s *api.Server) {
	h := &handlers{s: s}
	s.Handle("PUT /v1/merchant/webhook", api.Route{Scope: tender.ScopeMerchantWrite, Simple: true}, h.putWebhook)
	s.Handle("GET /v1/merchant/webhook", api.Route{Scope: tender.ScopeMerchantRead, Simple: true}, h.getWebhook)
	s.Handle("PUT /v1/merchant/providers", api.Route{Scope: tender.ScopeMerchantWrite, Simple: true}, h.putProviders)
	s.Handle("GET /v1/merchant/providers", api.Route{Scope: tender.ScopeMerchantRead, Simple: true}, h.getProviders)
	s.Handle("POST /v1/payments", api.Route{Scope: tender.ScopePaymentsWrite, Payment: true, Simple: true}, h.createPayment)
	s.Handle("GET /v1/payments", api.Route{Scope: tender.ScopePaymentsRead, Simple: true}, h.listPayments)
	s.Handle("GET /v1/payments/{id}", api.Route{Scope: tender.ScopePaymentsRead, Simple: true}, h.getPayment)
	s.Handle("POST /v1/payments/cards", api.Route{Scope: tender.ScopePaymentsWrite, Simple: true}, h.saveCard)
	s.Handle("GET /v1/payments/cards", api.Route{Scope: tender.ScopePaymentsRead, Simple: true}, h.listCards)
	s.Handle("DELETE /v1/payments/cards/{id}", api.Route{Scope: tender.ScopePaymentsWrite, Simple: true}, h.deleteCard)
	s.SetSimpleRefunds(h.createRefund)
}

type handlers struct{ s *api.Server }

// webhookJSON is seed 001's merchant webhook setting.
type webhookJSON struct {
	ID         string   `json:"id"`
	WebhookURL string   `json:"webhook_url"`
	Events     []string `json:"events"`
	Status     string   `json:"status"`
	Secret     string   `json:"secret,omitempty"`
}

// simpleEndpoint finds the tenant's seed-001 endpoint, if any.
func (h *handlers) simpleEndpoint(r *http.Request) (*tender.WebhookEndpoint, error) {
	t := api.Tenant(r)
	q := tender.ListQuery{Tenant: t, Limit: 100}
	for {
		page, err := h.s.WebhookStore().ListWebhookEndpoints(r.Context(), q)
		if err != nil {
			return nil, err
		}
		for _, ep := range page.Data {
			if ep.Format == tender.FormatSimple {
				return ep, nil
			}
		}
		if !page.HasMore {
			return nil, nil
		}
		q.StartingAfter = page.Data[len(page.Data)-1].ID
	}
}

func (h *handlers) putWebhook(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		WebhookURL string   `param:"webhook_url,required"`
		Events     []string `param:"events"`
	}
	if err := api.Decode(r, &p); err != nil {
		return err
	}
	events := p.Events
	if len(events) == 0 {
		events = []string{"*"}
	}
	wh := h.s.Webhooks()
	ep, err := h.simpleEndpoint(r)
	if err != nil {
		return err
	}
	params := webhook.EndpointParams{URL: &p.WebhookURL, EnabledEvents: events, Format: tender.FormatSimple}
	secret := ""
	if ep == nil {
		ep, secret, err = wh.CreateEndpoint(r.Context(), api.Tenant(r), params)
	} else {
		enabled := false
		params.Disabled = &enabled
		ep, err = wh.UpdateEndpoint(r.Context(), api.Tenant(r), ep.ID, params)
	}
	if err != nil {
		return renameParam(err, "url", "webhook_url")
	}
	api.MarkCommitted(r)
	api.WriteSimple(w, http.StatusOK, webhookJSON{ID: ep.ID, WebhookURL: ep.URL, Events: ep.EnabledEvents, Status: ep.Status, Secret: secret})
	return nil
}

func (h *handlers) getWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := api.Decode(r, &struct{}{}); err != nil {
		return err
	}
	ep, err := h.simpleEndpoint(r)
	if err != nil {
		return err
	}
	if ep == nil {
		return tender.NotFound("webhook", "merchant webhook")
	}
	api.WriteSimple(w, http.StatusOK, webhookJSON{ID: ep.ID, WebhookURL: ep.URL, Events: ep.EnabledEvents, Status: ep.Status})
	return nil
}

// renameParam rewrites an error's param to this face's name for it.
func renameParam(err error, from, to string) error {
	if te, ok := tender.AsError(err); ok && te.Param == from {
		c := *te
		c.Param = to
		return &c
	}
	return err
}
