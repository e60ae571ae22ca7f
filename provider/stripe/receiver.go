package stripe

import (
	"net/http"
	"time"

	"github.com/tenderhq/tender"
)

var _ tender.WebhookReceiver = (*Provider)(nil)

// WebhookSecretCredential is the credential that holds the webhook secret.
func (p *Provider) WebhookSecretCredential() string { return CredWebhookSecret }

// PeekWebhook reads which payment an unverified event is about.
func (p *Provider) PeekWebhook(payload []byte) (*tender.InboundEvent, error) {
	ev, err := PeekWebhook(payload)
	if err != nil {
		return nil, err
	}
	return &tender.InboundEvent{ID: ev.ID, Type: ev.Type, Livemode: ev.Livemode, PaymentRef: ev.PaymentIntentRef}, nil
}

// VerifyWebhook verifies the Stripe-Signature header and parses the event.
func (p *Provider) VerifyWebhook(payload []byte, header http.Header, secret string, now time.Time) (*tender.InboundEvent, error) {
	ev, err := VerifyWebhook(payload, header.Get("Stripe-Signature"), secret, now)
	if err != nil {
		return nil, err
	}
	in := &tender.InboundEvent{ID: ev.ID, Type: ev.Type, Livemode: ev.Livemode, PaymentRef: ev.PaymentIntentRef}
	switch {
	case len(ev.Refunds) > 0:
		in.Apply = ev.Refunds
	case ev.Apply != nil:
		in.Apply = []tender.ProviderEvent{*ev.Apply}
	}
	return in, nil
}
