package tender

import (
	"encoding/json"
	"time"
)

// APIVersion is the version stamped on events (Stripe's api_version field).
const APIVersion = "2026-11-01.tender"

// Event types Tender emits.
const (
	EventPaymentIntentCreated           = "payment_intent.created"
	EventPaymentIntentRequiresAction    = "payment_intent.requires_action"
	EventPaymentIntentProcessing        = "payment_intent.processing"
	EventPaymentIntentCapturableUpdated = "payment_intent.amount_capturable_updated"
	EventPaymentIntentSucceeded         = "payment_intent.succeeded"
	EventPaymentIntentPaymentFailed     = "payment_intent.payment_failed"
	EventPaymentIntentCanceled          = "payment_intent.canceled"
	EventChargeSucceeded                = "charge.succeeded"
	EventChargeFailed                   = "charge.failed"
	EventChargeCaptured                 = "charge.captured"
	EventChargeRefunded                 = "charge.refunded"
	EventChargePending                  = "charge.pending"
	EventRefundCreated                  = "refund.created"
	EventRefundUpdated                  = "refund.updated"
	EventRefundFailed                   = "refund.failed"
	EventCustomerCreated                = "customer.created"
	EventCustomerUpdated                = "customer.updated"
	EventCustomerDeleted                = "customer.deleted"
	EventPaymentMethodAttached          = "payment_method.attached"
	EventPaymentMethodDetached          = "payment_method.detached"
	EventCheckoutSessionCompleted       = "checkout.session.completed"
	EventCheckoutSessionExpired         = "checkout.session.expired"
	EventWebhookEndpointDisabled        = "webhook_endpoint.disabled"
)

// EventTypes lists every event type Tender emits, for validating
// webhook subscriptions.
var EventTypes = []string{
	EventPaymentIntentCreated, EventPaymentIntentRequiresAction, EventPaymentIntentProcessing,
	EventPaymentIntentCapturableUpdated, EventPaymentIntentSucceeded, EventPaymentIntentPaymentFailed,
	EventPaymentIntentCanceled, EventChargeSucceeded, EventChargeFailed, EventChargeCaptured,
	EventChargeRefunded, EventChargePending, EventRefundCreated, EventRefundUpdated, EventRefundFailed,
	EventCustomerCreated, EventCustomerUpdated, EventCustomerDeleted, EventPaymentMethodAttached,
	EventPaymentMethodDetached, EventCheckoutSessionCompleted, EventCheckoutSessionExpired, EventCheckoutSessionAsyncSucceeded,
	EventWebhookEndpointDisabled,
}

// SimpleEventTypes are seed 001's webhook event types.
var SimpleEventTypes = []string{"payment.completed", "payment.failed", "payment.pending", "refund.completed", "refund.failed"}

// Event records a change, with the object as it was right after it (Stripe's
// event). Events are written in the same transaction as the change, so the
// event log is exactly the history of what happened (transactional outbox).
type Event struct {
	ID         string
	MerchantID string
	Livemode   bool
	Type       string
	Created    time.Time
	ObjectID   string
	// Object is the API representation of the object after the change.
	Object json.RawMessage
	// PreviousAttributes holds the changed fields' earlier values, for *.updated events.
	PreviousAttributes json.RawMessage
	// RequestID and IdempotencyKey name the API request that caused the
	// change; both are empty for changes a provider or Tender itself made.
	RequestID      string
	IdempotencyKey string
	// PendingWebhooks counts deliveries not yet made.
	PendingWebhooks int
}

// EventJSON is Stripe's event object.
type EventJSON struct {
	ID              string       `json:"id"`
	Object          string       `json:"object"`
	APIVersion      string       `json:"api_version"`
	Created         int64        `json:"created"`
	Data            EventData    `json:"data"`
	Livemode        bool         `json:"livemode"`
	PendingWebhooks int          `json:"pending_webhooks"`
	Request         EventRequest `json:"request"`
	Type            string       `json:"type"`
}

// EventData is an event's data.
type EventData struct {
	Object             json.RawMessage `json:"object"`
	PreviousAttributes json.RawMessage `json:"previous_attributes,omitempty"`
}

// EventRequest names the request behind an event; both fields null when none.
type EventRequest struct {
	ID             *string `json:"id"`
	IdempotencyKey *string `json:"idempotency_key"`
}

// JSON renders the event as Stripe does.
func (e *Event) JSON() *EventJSON {
	prev := e.PreviousAttributes
	if string(prev) == "null" {
		prev = nil // absent, not null: Stripe's schema has no null here
	}
	j := &EventJSON{ID: e.ID, Object: "event", APIVersion: APIVersion, Created: e.Created.Unix(),
		Data: EventData{Object: e.Object, PreviousAttributes: prev}, Livemode: e.Livemode,
		PendingWebhooks: e.PendingWebhooks, Type: e.Type}
	if e.RequestID != "" {
		id := e.RequestID
		j.Request.ID = &id
	}
	if e.IdempotencyKey != "" {
		k := e.IdempotencyKey
		j.Request.IdempotencyKey = &k
	}
	return j
}
