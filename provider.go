package tender

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Provider is a payment provider: Stripe, the manual (check / money order)
// provider, Tender's sandbox. It is seed 000's PaymentProvider and seed
// 004's lifecycle (authorize, capture, cancel, refund, retrieve status) in
// Go. A provider keeps no per-merchant state: every call carries the
// merchant's credentials and settings, and an idempotency key derived from
// Tender's attempt, so that a repeated call (a retry, a recovery) has the
// provider return the first outcome instead of charging again.
type Provider interface {
	Info() ProviderInfo
	// Authorize starts collecting a payment: with Capture, it charges;
	// without, it places a hold to capture later.
	Authorize(ctx context.Context, req *AuthorizeRequest) (*ProviderResult, error)
	// Capture collects some or all of an authorized payment.
	Capture(ctx context.Context, req *CaptureRequest) (*ProviderResult, error)
	// Cancel releases an authorized, not captured payment.
	Cancel(ctx context.Context, req *CancelRequest) (*ProviderResult, error)
	// Refund returns money from a captured payment.
	Refund(ctx context.Context, req *RefundRequest) (*RefundResult, error)
	// Retrieve asks where a payment stands: by Reference when the provider
	// gave one, else by the idempotency key of the authorize call. It
	// returns ErrNotFound when the provider never saw the payment.
	Retrieve(ctx context.Context, req *RetrieveRequest) (*ProviderResult, error)
	// RetrieveRefund asks where a refund stands, by reference or idempotency key.
	RetrieveRefund(ctx context.Context, req *RetrieveRequest) (*RefundResult, error)
}

// ProviderInfo describes a provider to merchants and storefronts (seed
// 000's JSON for GET /api/v1/payments/providers).
type ProviderInfo struct {
	Key          string              `json:"key"`
	Name         string              `json:"name"`
	Description  string              `json:"description"`
	Capabilities Capabilities        `json:"capabilities"`
	Credentials  []CredentialField   `json:"required_credentials,omitempty"`
	Settings     []CredentialField   `json:"settings,omitempty"`
	Modes        ProviderModeSupport `json:"-"`
	// NoPaymentMethod: payments need no payment method (the manual
	// provider: the customer pays by check).
	NoPaymentMethod bool                 `json:"-"`
	Validate        CredentialsValidator `json:"-"`
}

// ProviderModeSupport says in which modes a provider may be used.
type ProviderModeSupport struct {
	Test, Live bool
	// NeedsConfig: the merchant must configure (enable) it before use.
	NeedsConfig bool
}

// CredentialsValidator checks credentials with the provider before they are
// saved (seed 002: "keys are verified against Stripe before saving").
type CredentialsValidator func(ctx context.Context, livemode bool, creds Credentials) error

// Capabilities are what a provider can do (seed 000).
type Capabilities struct {
	SupportsRedirect      bool     `json:"supports_redirect"`
	SupportsWebhook       bool     `json:"supports_webhook"`
	SupportsRefund        bool     `json:"supports_refund"`
	SupportsPartialRefund bool     `json:"supports_partial_refund"`
	SupportsManualCapture bool     `json:"supports_manual_capture"`
	SupportsSavedCards    bool     `json:"supports_saved_cards"`
	RequiresClientSide    bool     `json:"requires_client_side"`
	SupportedCurrencies   []string `json:"supported_currencies"`
}

// SupportsCurrency reports whether c is accepted; an empty list means any.
func (c Capabilities) SupportsCurrency(cur Currency) bool {
	if len(c.SupportedCurrencies) == 0 {
		return true
	}
	for _, s := range c.SupportedCurrencies {
		if s == cur.Code() {
			return true
		}
	}
	return false
}

// CredentialField is one credential or setting a merchant provides.
type CredentialField struct {
	Key       string `json:"key"`
	Label     string `json:"label"`
	Required  bool   `json:"required"`
	Encrypted bool   `json:"encrypted,omitempty"`
	// Prefix, when set, is what a valid value starts with, such as "sk_"
	// (a test or live key's mode is checked separately).
	Prefix string `json:"-"`
}

// Credentials are a merchant's decrypted secrets for one provider, handed to
// the provider for one call and never stored in plaintext.
type Credentials map[string]string

// ProviderStatus is a provider's normalized outcome.
type ProviderStatus string

// The normalized outcomes of a provider call.
const (
	ProviderSucceeded       ProviderStatus = "succeeded"
	ProviderRequiresCapture ProviderStatus = "requires_capture"
	ProviderRequiresAction  ProviderStatus = "requires_action"
	ProviderProcessing      ProviderStatus = "processing"
	ProviderFailed          ProviderStatus = "failed"
	ProviderCanceled        ProviderStatus = "canceled"
)

// ProviderCall is what every provider call carries.
type ProviderCall struct {
	MerchantID  string
	Livemode    bool
	Credentials Credentials
	Settings    map[string]string
	// IdempotencyKey is derived from Tender's attempt: the same attempt
	// always sends the same key.
	IdempotencyKey string
}

// AuthorizeRequest asks a provider to charge or hold an amount.
type AuthorizeRequest struct {
	ProviderCall
	PaymentIntent string
	Charge        string
	Amount        int64
	Currency      Currency
	// PaymentMethod is the provider's token for the payment method.
	PaymentMethod string
	// Customer is the provider's customer reference, for saved cards.
	Customer   string
	Capture    bool
	OffSession bool
	SaveMethod bool
	// ClientSide starts a payment the customer's browser confirms with the
	// provider's own library (Stripe.js): no payment method yet; the
	// result is requires_action with the provider's client secret.
	ClientSide  bool
	ReturnURL   string
	Description string
	Metadata    map[string]string
}

// CaptureRequest captures Amount of the payment Reference.
type CaptureRequest struct {
	ProviderCall
	Reference string
	Amount    int64
	Currency  Currency
}

// CancelRequest releases the payment Reference.
type CancelRequest struct {
	ProviderCall
	Reference string
	Reason    string
}

// RefundRequest refunds Amount of the payment Reference.
type RefundRequest struct {
	ProviderCall
	Refund    string
	Reference string
	Amount    int64
	Currency  Currency
	Reason    string
}

// RetrieveRequest looks a payment or refund up.
type RetrieveRequest struct {
	ProviderCall
	Reference string
}

// ProviderResult is a provider's answer about a payment.
type ProviderResult struct {
	Status ProviderStatus
	// Reference is the provider's id for the payment (Stripe's pi_…).
	Reference        string
	AmountCaptured   int64
	AmountCapturable int64
	NextAction       *NextAction
	// Error explains a failed status.
	Error *ProviderError
	// Card describes the card charged, when the provider says.
	Card *CardDetails
	// PaymentMethod is the provider's payment method reference, when it changed (saved cards).
	PaymentMethod string
	// ClientSecret is the provider's secret for its client-side library,
	// for payments started with ClientSide.
	ClientSecret string
}

// ProviderError is why a provider refused a payment.
type ProviderError struct {
	Code        string // card_declined, expired_card, processing_error, authentication_required …
	DeclineCode string // insufficient_funds, lost_card …
	Message     string
}

// RefundResult is a provider's answer about a refund.
type RefundResult struct {
	Status        string // RefundSucceeded, RefundPending, RefundFailed
	Reference     string
	FailureReason string
}

// ProviderEvent is news from a provider about a payment or refund that Tender
// did not ask for in the same request: a webhook, an asynchronous
// settlement, the end of a 3-D Secure challenge.
type ProviderEvent struct {
	Provider   string
	MerchantID string
	Livemode   bool
	// Reference of the payment (or, with Refund set, of the refund).
	Reference string
	Payment   *ProviderResult
	Refund    *RefundResult
	// PaymentReference is the payment a refund belongs to.
	PaymentReference string
}

// Registry holds the providers Tender knows, by key.
type Registry struct {
	mu        sync.RWMutex
	providers map[string]Provider
}

// NewRegistry makes an empty registry.
func NewRegistry() *Registry { return &Registry{providers: map[string]Provider{}} }

// Register adds a provider; a second provider with the same key is a bug.
func (r *Registry) Register(p Provider) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := p.Info().Key
	if _, dup := r.providers[key]; dup {
		panic(fmt.Sprintf("tender: provider %q registered twice", key))
	}
	r.providers[key] = p
}

// Get returns the provider with key.
func (r *Registry) Get(key string) (Provider, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.providers[key]
	return p, ok
}

// All lists the registered providers by key.
func (r *Registry) All() []Provider {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Provider, 0, len(r.providers))
	for _, p := range r.providers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info().Key < out[j].Info().Key })
	return out
}

// CardSaver is implemented by providers that keep saved cards: a customer
// at the provider with payment methods attached, charged later off-session.
type CardSaver interface {
	// AttachPaymentMethod attaches the payment method (provider token) to
	// the provider's customer CustomerRef, creating that customer first
	// when CustomerRef is empty.
	AttachPaymentMethod(ctx context.Context, req *AttachRequest) (*AttachResult, error)
	// DetachPaymentMethod detaches a payment method from its customer.
	DetachPaymentMethod(ctx context.Context, req *DetachRequest) error
	// DescribePaymentMethod returns a payment method's card details.
	DescribePaymentMethod(ctx context.Context, req *DescribeRequest) (*CardDetails, error)
}

// AttachRequest asks a provider to save a payment method to a customer.
type AttachRequest struct {
	ProviderCall
	// Customer is Tender's customer id (for the provider's metadata).
	Customer    string
	CustomerRef string
	Email       string
	Name        string
	// PaymentMethod is the provider's token for the method.
	PaymentMethod string
}

// AttachResult is where the method was saved.
type AttachResult struct {
	CustomerRef   string
	PaymentMethod string
	Card          *CardDetails
}

// DetachRequest asks a provider to forget a saved payment method.
type DetachRequest struct {
	ProviderCall
	PaymentMethod string
}

// DescribeRequest asks about a payment method token.
type DescribeRequest struct {
	ProviderCall
	PaymentMethod string
}

// Tokenizer is implemented by providers that accept raw card numbers (only
// Tender's sandbox, only in test mode): it turns a card into a token that
// does not contain the number.
type Tokenizer interface {
	Tokenize(number string, expMonth, expYear int, cvc string, now time.Time) (token string, card *CardDetails, err error)
}

// WebhookReceiver is implemented by providers that send webhooks. Tender
// serves POST /v1/webhooks/{provider}[/{merchant_id}] for them.
type WebhookReceiver interface {
	// PeekWebhook reads an event WITHOUT verifying it, only to learn which
	// payment it is about (to find the merchant whose secret must verify
	// it). Nothing it returns may be applied.
	PeekWebhook(payload []byte) (*InboundEvent, error)
	// VerifyWebhook checks the event's signature with secret and parses it.
	VerifyWebhook(payload []byte, header http.Header, secret string, now time.Time) (*InboundEvent, error)
	// WebhookSecretCredential names the credential holding the webhook secret.
	WebhookSecretCredential() string
}

// InboundEvent is a provider's webhook as Tender reads it.
type InboundEvent struct {
	// ID is the provider's event id, for de-duplication.
	ID       string
	Type     string
	Livemode bool
	// PaymentRef is the provider's reference of the payment the event is
	// about; its charge tells which merchant the event belongs to.
	PaymentRef string
	// Apply is what to apply, in order (MerchantID and Livemode unset).
	Apply []ProviderEvent
}
