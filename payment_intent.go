package tender

import (
	"fmt"
	"time"
)

// PaymentIntentStatus is a PaymentIntent's status, as Stripe's.
type PaymentIntentStatus string

// The statuses of a PaymentIntent.
const (
	StatusRequiresPaymentMethod PaymentIntentStatus = "requires_payment_method"
	StatusRequiresConfirmation  PaymentIntentStatus = "requires_confirmation"
	StatusRequiresAction        PaymentIntentStatus = "requires_action"
	StatusProcessing            PaymentIntentStatus = "processing"
	StatusRequiresCapture       PaymentIntentStatus = "requires_capture"
	StatusSucceeded             PaymentIntentStatus = "succeeded"
	StatusCanceled              PaymentIntentStatus = "canceled"
)

// Final reports whether no further change is possible.
func (s PaymentIntentStatus) Final() bool { return s == StatusSucceeded || s == StatusCanceled }

// transitions is the state machine: from → the statuses it may move to.
// processing → processing is an async attempt whose in-flight phase was
// recorded as processing too; requires_action → requires_action is a new
// challenge for the same attempt.
var transitions = map[PaymentIntentStatus][]PaymentIntentStatus{
	StatusRequiresPaymentMethod: {StatusRequiresConfirmation, StatusProcessing, StatusCanceled},
	StatusRequiresConfirmation:  {StatusRequiresPaymentMethod, StatusProcessing, StatusCanceled},
	StatusProcessing:            {StatusProcessing, StatusRequiresAction, StatusRequiresCapture, StatusSucceeded, StatusRequiresPaymentMethod, StatusCanceled},
	StatusRequiresAction:        {StatusProcessing, StatusRequiresAction, StatusRequiresCapture, StatusSucceeded, StatusRequiresPaymentMethod, StatusCanceled},
	StatusRequiresCapture:       {StatusProcessing, StatusSucceeded, StatusCanceled},
}

// Transition moves pi to status to, or refuses with
// payment_intent_unexpected_state. It is the only way a PaymentIntent's
// status changes.
func (pi *PaymentIntent) Transition(to PaymentIntentStatus) error {
	for _, ok := range transitions[pi.Status] {
		if ok == to {
			pi.Status = to
			return nil
		}
	}
	return UnexpectedState(pi, fmt.Sprintf("move to %s", to))
}

// UnexpectedState is the error for an action that pi's status does not allow.
func UnexpectedState(pi *PaymentIntent, action string) *Error {
	snapshot := *pi
	return &Error{Type: InvalidRequestError, Code: CodeUnexpectedState, PaymentIntent: &snapshot,
		Message: fmt.Sprintf("You cannot %s this PaymentIntent because it has a status of %s.", action, pi.Status)}
}

// Capture methods.
const (
	CaptureAutomatic = "automatic"
	CaptureManual    = "manual"
)

// Cancellation reasons Stripe accepts from clients, and the ones Tender sets.
var CancellationReasons = []string{"duplicate", "fraudulent", "requested_by_customer", "abandoned"}

// PaymentIntent is a payment from one customer for one amount, tracked from
// creation through confirmation, authentication and capture (Stripe's model).
type PaymentIntent struct {
	ID                 string
	MerchantID         string
	Livemode           bool
	Amount             int64
	Currency           Currency
	Status             PaymentIntentStatus
	CaptureMethod      string
	Customer           string
	Description        string
	Metadata           map[string]string
	PaymentMethod      string
	PaymentMethodTypes []string
	Provider           string
	ReturnURL          string
	SetupFutureUsage   string
	ReceiptEmail       string
	AmountCapturable   int64
	AmountReceived     int64
	LatestCharge       string
	LastPaymentError   *PaymentError
	NextAction         *NextAction
	ClientSecret       string
	CanceledAt         *time.Time
	CancellationReason string
	Created            time.Time
	// IdempotencyKey is the key the intent was created with, if any
	// (seed 001's payment object shows it).
	IdempotencyKey string
	// CheckoutSession is the order this intent pays, if any.
	CheckoutSession string
	// Version increases with every write; storage refuses a stale update.
	Version int64
}

// PaymentError is a PaymentIntent's last_payment_error.
type PaymentError struct {
	Type        ErrorType `json:"type"`
	Code        string    `json:"code,omitempty"`
	DeclineCode string    `json:"decline_code,omitempty"`
	Message     string    `json:"message"`
	Charge      string    `json:"charge,omitempty"`
	// PaymentMethod is kept for Tender's own use; Stripe's field holds the
	// whole payment method object, which Tender does not embed.
	PaymentMethod string `json:"-"`
}

// NextAction is what the customer must do next (Stripe's next_action).
type NextAction struct {
	Type string `json:"type"`
	// RedirectToURL is set for type "redirect_to_url" (3-D Secure).
	RedirectToURL *RedirectToURL `json:"redirect_to_url,omitempty"`
	// DisplayPaymentInstructions is set for type "display_payment_instructions" (manual payments).
	DisplayPaymentInstructions *PaymentInstructions `json:"display_payment_instructions,omitempty"`
	// UseStripeSDK passes Stripe's own next_action through for Stripe.js.
	UseStripeSDK map[string]any `json:"use_stripe_sdk,omitempty"`
}

// RedirectToURL sends the customer to a page and back to ReturnURL.
type RedirectToURL struct {
	URL       string `json:"url"`
	ReturnURL string `json:"return_url"`
}

// PaymentInstructions tell the customer how to pay by other means.
type PaymentInstructions struct {
	Instructions string `json:"instructions"`
	Reference    string `json:"reference,omitempty"`
}

// Charge statuses.
const (
	ChargePending   = "pending"
	ChargeSucceeded = "succeeded"
	ChargeFailed    = "failed"
)

// Attempt states: where a charge's provider call stands. They are Tender's
// recovery points: an attempt "in flight" was recorded before its provider
// call and not yet settled, so recovery must ask the provider.
const (
	AttemptNone        = ""                // settled; nothing outstanding
	AttemptAuthorizing = "authorizing"     // authorize call in flight
	AttemptAwaitAction = "awaiting_action" // the customer must act (3-D Secure)
	AttemptAsync       = "async"           // the provider settles later
	AttemptCapturing   = "capturing"       // capture call in flight
	AttemptCanceling   = "canceling"       // cancel (void) call in flight
)

// Charge is one attempt to collect a PaymentIntent's amount through a provider.
type Charge struct {
	ID             string
	MerchantID     string
	Livemode       bool
	PaymentIntent  string
	Amount         int64
	Currency       Currency
	Status         string
	Captured       bool
	AmountCaptured int64
	AmountRefunded int64
	Customer       string
	Description    string
	Metadata       map[string]string
	PaymentMethod  string
	Card           *CardDetails
	Provider       string
	ProviderRef    string
	FailureCode    string
	FailureMessage string
	DeclineCode    string
	Created        time.Time
	Attempt        string    // Attempt* state
	AttemptAt      time.Time // when the attempt state was last set (recovery age, backoff)
	AttemptTries   int       // recovery tries of the current attempt
	CaptureAmount  int64     // amount being captured while Attempt is capturing
	CancelReason   string    // cancellation_reason while Attempt is canceling
	// Request is the idempotency record of the request that started the
	// current (or last) attempt: its retry resumes the attempt instead of
	// starting another, and replays its outcome once it is settled.
	Request    string
	OffSession bool // charged without the customer present
	SaveMethod bool // save the payment method to the customer on success
	// ClientSide: confirmed by the customer's browser with the provider's library.
	ClientSide bool
	// ProviderClientSecret is the provider's client secret for its
	// browser library (Stripe.js), for client-side attempts.
	ProviderClientSecret string
	Version              int64
}

// Refunded reports whether the whole captured amount was refunded.
// An uncaptured hold that was released counts as refunded, as at Stripe.
func (c *Charge) Refunded() bool {
	if c.AmountRefunded == 0 {
		return false
	}
	if c.Captured {
		return c.AmountRefunded >= c.AmountCaptured
	}
	return c.AmountRefunded >= c.Amount
}

// CardDetails describe a card without its number.
type CardDetails struct {
	Brand       string `json:"brand"`
	Last4       string `json:"last4"`
	ExpMonth    int    `json:"exp_month"`
	ExpYear     int    `json:"exp_year"`
	Funding     string `json:"funding"`
	Country     string `json:"country,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Refund statuses.
const (
	RefundPending   = "pending"
	RefundSucceeded = "succeeded"
	RefundFailed    = "failed"
	RefundCanceled  = "canceled"
)

// RefundReasons are the reasons a client may give.
var RefundReasons = []string{"duplicate", "fraudulent", "requested_by_customer"}

// Refund returns some or all of a charge's captured amount.
type Refund struct {
	ID            string
	MerchantID    string
	Livemode      bool
	PaymentIntent string
	Charge        string
	Amount        int64
	Currency      Currency
	Status        string
	Reason        string
	Metadata      map[string]string
	FailureReason string
	Provider      string
	ProviderRef   string
	Created       time.Time
	InFlight      bool      // the provider call is outstanding (recovery point)
	AttemptAt     time.Time // when the attempt state was last set
	AttemptTries  int
	Version       int64
}
