package api

import (
	"net/http"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/webhook"
)

type endpointParams struct {
	URL           *string           `param:"url"`
	EnabledEvents []string          `param:"enabled_events"`
	Description   *string           `param:"description"`
	Metadata      map[string]string `param:"metadata"`
	Disabled      *bool             `param:"disabled"`
	APIVersion    string            `param:"api_version"`
	Connect       bool              `param:"connect"`
}

func (p *endpointParams) service() webhook.EndpointParams {
	return webhook.EndpointParams{URL: p.URL, EnabledEvents: p.EnabledEvents, Description: p.Description, Metadata: p.Metadata, Disabled: p.Disabled}
}

func (s *Server) createWebhookEndpoint(w http.ResponseWriter, r *http.Request) error {
	var p endpointParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	if p.Connect {
		return tender.InvalidParam(tender.CodeParameterInvalid, "connect", "Tender has no Connect accounts.")
	}
	ep, secret, err := s.webhooks.CreateEndpoint(r.Context(), tenantOf(r), p.service())
	if err != nil {
		return err
	}
	state(r.Context()).committed = true
	WriteJSON(w, http.StatusOK, webhook.View(ep, secret))
	return nil
}

func (s *Server) getWebhookEndpoint(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct{}{}); err != nil {
		return err
	}
	ep, err := s.webhooks.Endpoint(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, webhook.View(ep, ""))
	return nil
}

func (s *Server) updateWebhookEndpoint(w http.ResponseWriter, r *http.Request) error {
	var p endpointParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	ep, err := s.webhooks.UpdateEndpoint(r.Context(), tenantOf(r), r.PathValue("id"), p.service())
	if err != nil {
		return err
	}
	state(r.Context()).committed = true
	WriteJSON(w, http.StatusOK, webhook.View(ep, ""))
	return nil
}

func (s *Server) deleteWebhookEndpoint(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct{}{}); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := s.webhooks.DeleteEndpoint(r.Context(), tenantOf(r), id); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]any{"id": id, "object": "webhook_endpoint", "deleted": true})
	return nil
}

func (s *Server) listWebhookEndpoints(w http.ResponseWriter, r *http.Request) error {
	var p listParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	q, err := p.query(authOf(r))
	if err != nil {
		return err
	}
	page, err := s.webhookStore.ListWebhookEndpoints(r.Context(), q)
	if err != nil {
		return err
	}
	writeList(w, "/v1/webhook_endpoints", page, func(ep *tender.WebhookEndpoint) any { return webhook.View(ep, "") })
	return nil
}

// deliveryJSON is a delivery as GET …/deliveries shows it.
type deliveryJSON struct {
	ID                 string `json:"id"`
	Object             string `json:"object"`
	Event              string `json:"event"`
	WebhookEndpoint    string `json:"webhook_endpoint"`
	Status             string `json:"status"`
	Attempts           int    `json:"attempts"`
	LastAttemptAt      *int64 `json:"last_attempt_at"`
	LastResponseStatus *int   `json:"last_response_status"`
	LastError          string `json:"last_error,omitempty"`
	NextAttemptAt      *int64 `json:"next_attempt_at"`
	Created            int64  `json:"created"`
	Livemode           bool   `json:"livemode"`
}

func viewDelivery(d *tender.Delivery) any {
	v := deliveryJSON{ID: d.ID, Object: "webhook_delivery", Event: d.EventID, WebhookEndpoint: d.EndpointID, Status: d.Status,
		Attempts: d.Attempts, LastError: d.LastError, Created: d.Created.Unix(), Livemode: d.Livemode}
	if d.LastAttemptAt != nil {
		t := d.LastAttemptAt.Unix()
		v.LastAttemptAt = &t
	}
	if d.LastStatus != 0 {
		st := d.LastStatus
		v.LastResponseStatus = &st
	}
	if d.Status == tender.DeliveryPending {
		t := d.NextAttemptAt.Unix()
		v.NextAttemptAt = &t
	}
	return v
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	var p listParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	q, err := p.query(authOf(r))
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.webhooks.Endpoint(r.Context(), q.Tenant, id); err != nil {
		return err
	}
	page, err := s.webhookStore.ListDeliveries(r.Context(), q, id)
	if err != nil {
		return err
	}
	writeList(w, "/v1/webhook_endpoints/"+id+"/deliveries", page, viewDelivery)
	return nil
}

func (s *Server) redeliverEvent(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		WebhookEndpoint string `param:"webhook_endpoint"`
	}
	if err := Decode(r, &p); err != nil {
		return err
	}
	t := tenantOf(r)
	id := r.PathValue("id")
	if p.WebhookEndpoint != "" {
		if _, err := s.webhooks.Endpoint(r.Context(), t, p.WebhookEndpoint); err != nil {
			e := err.(*tender.Error)
			e.Param = "webhook_endpoint"
			return e
		}
	}
	n, err := s.webhookStore.Redeliver(r.Context(), t, id, p.WebhookEndpoint, s.now())
	if err != nil {
		return notFoundAs(err, "event", id)
	}
	state(r.Context()).committed = true
	s.webhooks.Wake()
	ev, err := s.payments.Event(r.Context(), t, id)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]any{"object": "event_redelivery", "event": ev.JSON(), "deliveries_scheduled": n})
	return nil
}
