package stripe

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tenderhq/tender"
)

// The objects below are the few fields Tender reads of Stripe's objects,
// decoded from the raw JSON of a response or a webhook. Decoding them
// ourselves, rather than into stripe-go's types, keeps webhooks working
// whatever API version the merchant's webhook endpoint is pinned to (a
// field that changed shape elsewhere in the object cannot break the
// decode), and gives the raw next_action that Stripe.js needs.

// expandable is a field that is an id or, when expanded, the object.
type expandable struct {
	ID  string
	Raw json.RawMessage // the object when expanded
}

func (e *expandable) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*e = expandable{}
		return nil
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &e.ID)
	}
	var obj struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	e.ID, e.Raw = obj.ID, append(json.RawMessage(nil), b...)
	return nil
}

type apiPaymentIntent struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	Status           string            `json:"status"`
	Amount           int64             `json:"amount"`
	AmountReceived   int64             `json:"amount_received"`
	AmountCapturable int64             `json:"amount_capturable"`
	Metadata         map[string]string `json:"metadata"`
	PaymentMethod    expandable        `json:"payment_method"`
	LatestCharge     expandable        `json:"latest_charge"`
	NextAction       json.RawMessage   `json:"next_action"`
	LastPaymentError *apiError         `json:"last_payment_error"`
	ClientSecret     string            `json:"client_secret"`
}

type apiError struct {
	Type        string `json:"type"`
	Code        string `json:"code"`
	DeclineCode string `json:"decline_code"`
	Message     string `json:"message"`
}

type apiCard struct {
	Brand       string `json:"brand"`
	Last4       string `json:"last4"`
	ExpMonth    int    `json:"exp_month"`
	ExpYear     int    `json:"exp_year"`
	Funding     string `json:"funding"`
	Country     string `json:"country"`
	Fingerprint string `json:"fingerprint"`
}

type apiCharge struct {
	ID                   string            `json:"id"`
	Object               string            `json:"object"`
	PaymentIntent        expandable        `json:"payment_intent"`
	Metadata             map[string]string `json:"metadata"`
	PaymentMethodDetails *struct {
		Card *apiCard `json:"card"`
	} `json:"payment_method_details"`
	Refunds *struct {
		Data []*apiRefund `json:"data"`
	} `json:"refunds"`
}

type apiRefund struct {
	ID            string            `json:"id"`
	Object        string            `json:"object"`
	Status        string            `json:"status"`
	Amount        int64             `json:"amount"`
	Created       int64             `json:"created"`
	FailureReason string            `json:"failure_reason"`
	PaymentIntent expandable        `json:"payment_intent"`
	Charge        expandable        `json:"charge"`
	Metadata      map[string]string `json:"metadata"`
}

type apiPaymentMethod struct {
	ID       string     `json:"id"`
	Type     string     `json:"type"`
	Card     *apiCard   `json:"card"`
	Customer expandable `json:"customer"`
}

func decodeObject[T any](raw []byte, what string) (*T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("stripe: decode %s: %w", what, err)
	}
	return &v, nil
}

func (c *apiCard) details() *tender.CardDetails {
	if c == nil {
		return nil
	}
	return &tender.CardDetails{Brand: c.Brand, Last4: c.Last4, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear,
		Funding: c.Funding, Country: c.Country, Fingerprint: c.Fingerprint}
}

// chargeCard is the card of an expanded latest_charge, if Stripe says.
func chargeCard(latest expandable) *tender.CardDetails {
	if len(latest.Raw) == 0 {
		return nil
	}
	var ch apiCharge
	if json.Unmarshal(latest.Raw, &ch) != nil || ch.PaymentMethodDetails == nil {
		return nil
	}
	return ch.PaymentMethodDetails.Card.details()
}

// paymentResult maps a PaymentIntent to Tender's outcome:
//
//	succeeded               → succeeded, AmountCaptured = amount_received
//	requires_capture        → requires_capture, AmountCapturable = amount_capturable
//	requires_action         → requires_action, with the next action
//	processing              → processing
//	requires_payment_method → failed, with last_payment_error (a decline, a failed 3-D Secure)
//	requires_confirmation   → failed (never confirmed: nothing was charged)
//	canceled                → canceled
//
// Any other status is an error: Tender cannot know what it means for money.
func paymentResult(pi *apiPaymentIntent) (*tender.ProviderResult, error) {
	res := &tender.ProviderResult{Reference: pi.ID, PaymentMethod: pi.PaymentMethod.ID, Card: chargeCard(pi.LatestCharge)}
	switch pi.Status {
	case "succeeded":
		res.Status, res.AmountCaptured = tender.ProviderSucceeded, pi.AmountReceived
	case "requires_capture":
		res.Status, res.AmountCapturable = tender.ProviderRequiresCapture, pi.AmountCapturable
	case "requires_action":
		res.Status, res.NextAction = tender.ProviderRequiresAction, nextAction(pi.NextAction)
	case "processing":
		res.Status = tender.ProviderProcessing
	case "requires_payment_method":
		res.Status, res.Error = tender.ProviderFailed, paymentFailure(pi)
	case "requires_confirmation":
		res.Status = tender.ProviderFailed
		res.Error = &tender.ProviderError{Code: tender.CodeProcessingError, Message: "Stripe did not confirm the payment; nothing was charged."}
	case "canceled":
		res.Status = tender.ProviderCanceled
	default:
		return nil, fmt.Errorf("stripe: PaymentIntent %s has status %q, unknown to Tender", pi.ID, pi.Status)
	}
	return res, nil
}

// paymentFailure is why a PaymentIntent failed: its last_payment_error.
func paymentFailure(pi *apiPaymentIntent) *tender.ProviderError {
	e := pi.LastPaymentError
	if e == nil {
		return &tender.ProviderError{Code: "payment_intent_payment_attempt_failed", Message: "The payment was not completed; try another payment method."}
	}
	pe := &tender.ProviderError{Code: e.Code, DeclineCode: e.DeclineCode, Message: redact(e.Message)}
	if pe.Code == "" {
		pe.Code = tender.CodeProcessingError
	}
	return pe
}

// nextAction passes Stripe's next_action through: a redirect (3-D Secure
// with a return_url) as redirect_to_url, anything else as use_stripe_sdk for
// Stripe.js to handle (stripe.handleNextAction). For Stripe's own
// use_stripe_sdk type the object passed is Stripe's use_stripe_sdk object;
// for any other type it is the whole next_action (its type included), so
// that nothing Stripe said is lost.
func nextAction(raw json.RawMessage) *tender.NextAction {
	var na map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &na) != nil || na == nil {
		return &tender.NextAction{Type: "use_stripe_sdk", UseStripeSDK: map[string]any{}}
	}
	typ, _ := na["type"].(string)
	if typ == "redirect_to_url" {
		if r, ok := na["redirect_to_url"].(map[string]any); ok {
			url, _ := r["url"].(string)
			ret, _ := r["return_url"].(string)
			return &tender.NextAction{Type: "redirect_to_url", RedirectToURL: &tender.RedirectToURL{URL: url, ReturnURL: ret}}
		}
	}
	obj := na
	if typ == "use_stripe_sdk" {
		if m, ok := na["use_stripe_sdk"].(map[string]any); ok {
			obj = m
		}
	}
	return &tender.NextAction{Type: "use_stripe_sdk", UseStripeSDK: obj}
}

// refundResult maps a Refund: succeeded → succeeded; pending and
// requires_action → pending (Stripe settles it later and says so by
// webhook); failed → failed with Stripe's failure_reason; canceled →
// failed, reason "canceled" (no money was returned).
func refundResult(r *apiRefund) (*tender.RefundResult, error) {
	res := &tender.RefundResult{Reference: r.ID}
	switch r.Status {
	case "succeeded":
		res.Status = tender.RefundSucceeded
	case "pending", "requires_action":
		res.Status = tender.RefundPending
	case "failed":
		res.Status, res.FailureReason = tender.RefundFailed, r.FailureReason
		if res.FailureReason == "" {
			res.FailureReason = "unknown"
		}
	case "canceled":
		res.Status, res.FailureReason = tender.RefundFailed, "canceled"
	default:
		return nil, fmt.Errorf("stripe: refund %s has status %q, unknown to Tender", r.ID, r.Status)
	}
	return res, nil
}
