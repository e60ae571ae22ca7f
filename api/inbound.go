package api

import (
	"errors"
	"io"
	"net/http"

	"github.com/tenderhq/tender"
)

// maxWebhookBody caps an inbound webhook's body; Stripe's are far smaller.
const maxWebhookBody = 512 << 10

// receiveWebhook serves POST /v1/webhooks/{provider} (seed 001: the
// merchant is found from the payment the event is about) and
// /v1/webhooks/{provider}/{merchant_id}. Nothing in the body is trusted
// before its signature verifies with that merchant's webhook secret. It
// answers 2xx for applied, duplicate and unknown-object events (so the
// provider stops resending), 400 for bad signatures.
func (s *Server) receiveWebhook(w http.ResponseWriter, r *http.Request) error {
	provKey := r.PathValue("provider")
	prov, ok := s.engine.Providers().Get(provKey)
	recv, canReceive := prov.(tender.WebhookReceiver)
	if !ok || !canReceive {
		return tender.InvalidRequest(codeRouteMissing, "Unrecognized request URL (POST: %s).", r.URL.Path)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		return tender.InvalidRequest(tender.CodeBodyTooLarge, "The webhook body is too large or unreadable.")
	}
	var candidates []tender.Tenant
	if mid := r.PathValue("merchant_id"); mid != "" {
		if _, err := s.store.Merchant(r.Context(), mid); err != nil {
			if errors.Is(err, tender.ErrNotFound) {
				return webhookRefused("No merchant %s.", mid)
			}
			return err
		}
		candidates = []tender.Tenant{{MerchantID: mid}, {MerchantID: mid, Livemode: true}}
	} else {
		peek, err := recv.PeekWebhook(body)
		if err != nil {
			return webhookRefused("The body is not a %s event.", provKey)
		}
		t, err := s.inbound.ChargeTenant(r.Context(), provKey, peek.PaymentRef)
		if errors.Is(err, tender.ErrNotFound) {
			// Not a payment Tender made: nothing to verify it with or apply it to.
			WriteJSON(w, http.StatusOK, map[string]any{"received": true, "applied": false, "reason": "unknown object"})
			return nil
		}
		if err != nil {
			return err
		}
		candidates = []tender.Tenant{t}
	}
	var verified *tender.InboundEvent
	var tenant tender.Tenant
	tried := false
	for _, t := range candidates {
		creds, err := s.engine.ProviderCredentials(r.Context(), t, provKey)
		if err != nil {
			return err
		}
		secret := creds[recv.WebhookSecretCredential()]
		if secret == "" {
			continue
		}
		tried = true
		if ev, err := recv.VerifyWebhook(body, r.Header, secret, s.now()); err == nil {
			verified, tenant = ev, t
			break
		}
	}
	if !tried {
		return webhookRefused("This merchant has no %s webhook secret configured.", provKey)
	}
	if verified == nil {
		return webhookRefused("The webhook signature is missing, stale or does not verify.")
	}
	if verified.Livemode != tenant.Livemode {
		return webhookRefused("The event's mode does not match the secret that signed it.")
	}
	if seen, err := s.inbound.ProviderEventSeen(r.Context(), provKey, verified.ID, tenant); err != nil {
		return err
	} else if seen {
		WriteJSON(w, http.StatusOK, map[string]any{"received": true, "applied": false, "reason": "duplicate"})
		return nil
	}
	applied := false
	for _, ev := range verified.Apply {
		ev.Provider, ev.MerchantID, ev.Livemode = provKey, tenant.MerchantID, tenant.Livemode
		found, err := s.engine.ApplyProviderEvent(r.Context(), ev)
		if err != nil {
			return err
		}
		applied = applied || found
	}
	// Only applied events are remembered: one that found nothing (a payment
	// whose provider reference Tender has not recorded yet) may apply when
	// the provider sends it again.
	if applied {
		if err := s.inbound.RecordProviderEvent(r.Context(), provKey, verified.ID, tenant, s.now()); err != nil {
			return err
		}
		if s.webhooks != nil {
			s.webhooks.Wake()
		}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"received": true, "applied": applied})
	return nil
}

func webhookRefused(format string, args ...any) error {
	return tender.InvalidRequest("webhook_signature_invalid", format, args...)
}
