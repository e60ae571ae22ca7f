package tender

import (
	"encoding/json"
	"time"
)

// Seed 001's vocabulary: its payments API calls a PaymentIntent a payment
// and speaks of completed, pending and failed; its webhooks say
// payment.completed, payment.failed, payment.pending, refund.completed and
// refund.failed. These functions translate; the simple face and simple
// webhook endpoints use them.

// SimpleStatus is seed 001's status of a payment intent.
func SimpleStatus(s PaymentIntentStatus) string {
	switch s {
	case StatusSucceeded:
		return "completed"
	case StatusRequiresPaymentMethod, StatusCanceled:
		return "failed"
	}
	return "pending"
}

// SimpleRefundStatus is seed 001's status of a refund.
func SimpleRefundStatus(s string) string {
	switch s {
	case RefundSucceeded:
		return "completed"
	case RefundFailed, RefundCanceled:
		return "failed"
	}
	return "pending"
}

// SimpleEventType maps an event to seed 001's vocabulary, or "" if seed
// 001 has no word for it.
func SimpleEventType(e *Event) string {
	switch e.Type {
	case EventPaymentIntentSucceeded:
		return "payment.completed"
	case EventPaymentIntentPaymentFailed, EventPaymentIntentCanceled:
		return "payment.failed"
	case EventPaymentIntentProcessing, EventPaymentIntentRequiresAction:
		return "payment.pending"
	case EventRefundFailed:
		return "refund.failed"
	case EventRefundCreated, EventRefundUpdated:
		var obj struct{ Status string }
		if json.Unmarshal(e.Object, &obj) == nil && obj.Status == RefundSucceeded {
			return "refund.completed"
		}
	}
	return ""
}

// SimplePaymentJSON is seed 001's payment object.
type SimplePaymentJSON struct {
	ID             string `json:"id"`
	MerchantID     string `json:"merchant_id"`
	Amount         string `json:"amount"`
	Currency       string `json:"currency"`
	Provider       string `json:"provider"`
	Status         string `json:"status"`
	ProviderRef    string `json:"provider_ref"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	CreatedAt      string `json:"created_at"`
}

// SimplePayment renders an intent as seed 001's payment; providerRef is
// its charge's reference at the provider.
func SimplePayment(pi *PaymentIntent, providerRef, idempotencyKey string) *SimplePaymentJSON {
	return &SimplePaymentJSON{ID: pi.ID, MerchantID: pi.MerchantID, Amount: FormatDecimal(pi.Amount, pi.Currency),
		Currency: pi.Currency.Upper(), Provider: pi.Provider, Status: SimpleStatus(pi.Status), ProviderRef: providerRef,
		IdempotencyKey: idempotencyKey, CreatedAt: pi.Created.UTC().Format(time.RFC3339)}
}

// SimpleRefundJSON is seed 001's refund object.
type SimpleRefundJSON struct {
	ID          string `json:"id"`
	PaymentID   string `json:"payment_id"`
	Status      string `json:"status"`
	ProviderRef string `json:"provider_ref"`
	Amount      string `json:"amount"`
	CreatedAt   string `json:"created_at"`
}

// SimpleRefund renders a refund as seed 001's.
func SimpleRefund(r *Refund) *SimpleRefundJSON {
	return &SimpleRefundJSON{ID: r.ID, PaymentID: r.PaymentIntent, Status: SimpleRefundStatus(r.Status), ProviderRef: r.ProviderRef,
		Amount: FormatDecimal(r.Amount, r.Currency), CreatedAt: r.Created.UTC().Format(time.RFC3339)}
}
