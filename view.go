package tender

import (
	"encoding/json"
	"time"
)

// The API representations of Tender's objects, Stripe's shape field for
// field where Stripe has the field. They live beside the domain because
// events carry them too: an event's data.object is exactly what the API
// returned for the object at that moment. Fields Tender adds to Stripe's
// objects are listed in Extensions.

// Extensions are the fields Tender adds to Stripe's objects.
var Extensions = map[string][]string{
	"payment_intent": {"provider"},
	"charge":         {"provider", "provider_reference"},
	"refund":         {"provider"},
	"payment_method": {"provider"},
	// The error object carries the request id (seed 003).
	"api_errors": {"request_id"},
	// The manual provider's next action.
	"payment_intent_next_action": {"display_payment_instructions"},
}

// ErrorTypeExtensions are the error types Tender uses beyond Stripe's four
// (seed 003 names them): where Stripe answers invalid_request_error for a
// bad key, a missing permission or a rate limit, Tender is more specific.
var ErrorTypeExtensions = []string{string(AuthenticationError), string(PermissionError), string(RateLimitError)}

// PaymentIntentJSON is the payment_intent object.
type PaymentIntentJSON struct {
	ID                        string            `json:"id"`
	Object                    string            `json:"object"`
	Amount                    int64             `json:"amount"`
	AmountCapturable          int64             `json:"amount_capturable"`
	AmountReceived            int64             `json:"amount_received"`
	Application               *string           `json:"application"`
	ApplicationFeeAmount      *int64            `json:"application_fee_amount"`
	AutomaticPaymentMethods   any               `json:"automatic_payment_methods"`
	CanceledAt                *int64            `json:"canceled_at"`
	CancellationReason        *string           `json:"cancellation_reason"`
	CaptureMethod             string            `json:"capture_method"`
	ClientSecret              string            `json:"client_secret"`
	ConfirmationMethod        string            `json:"confirmation_method"`
	Created                   int64             `json:"created"`
	Currency                  string            `json:"currency"`
	Customer                  any               `json:"customer"`
	Description               *string           `json:"description"`
	LastPaymentError          *PaymentError     `json:"last_payment_error"`
	LatestCharge              any               `json:"latest_charge"`
	Livemode                  bool              `json:"livemode"`
	Metadata                  map[string]string `json:"metadata"`
	NextAction                *NextAction       `json:"next_action"`
	OnBehalfOf                *string           `json:"on_behalf_of"`
	PaymentMethod             any               `json:"payment_method"`
	PaymentMethodConfigDetail any               `json:"payment_method_configuration_details"`
	PaymentMethodOptions      map[string]any    `json:"payment_method_options"`
	PaymentMethodTypes        []string          `json:"payment_method_types"`
	Processing                any               `json:"processing"`
	ReceiptEmail              *string           `json:"receipt_email"`
	Review                    *string           `json:"review"`
	SetupFutureUsage          *string           `json:"setup_future_usage"`
	Shipping                  any               `json:"shipping"`
	StatementDescriptor       *string           `json:"statement_descriptor"`
	StatementDescriptorSuffix *string           `json:"statement_descriptor_suffix"`
	Status                    string            `json:"status"`
	TransferData              any               `json:"transfer_data"`
	TransferGroup             *string           `json:"transfer_group"`
	Provider                  string            `json:"provider"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	u := t.Unix()
	return &u
}

func idOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func metadataOf(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// JSON renders the payment intent.
func (pi *PaymentIntent) JSON() *PaymentIntentJSON {
	types := pi.PaymentMethodTypes
	if len(types) == 0 {
		types = []string{"card"}
	}
	return &PaymentIntentJSON{
		ID: pi.ID, Object: "payment_intent", Amount: pi.Amount,
		AmountCapturable: pi.AmountCapturable, AmountReceived: pi.AmountReceived,
		CanceledAt: unixPtr(pi.CanceledAt), CancellationReason: strPtr(pi.CancellationReason),
		CaptureMethod: pi.CaptureMethod, ClientSecret: pi.ClientSecret, ConfirmationMethod: "automatic",
		Created: pi.Created.Unix(), Currency: pi.Currency.Code(), Customer: idOrNil(pi.Customer),
		Description: strPtr(pi.Description), LastPaymentError: pi.LastPaymentError,
		LatestCharge: idOrNil(pi.LatestCharge), Livemode: pi.Livemode, Metadata: metadataOf(pi.Metadata),
		NextAction: pi.NextAction, PaymentMethod: idOrNil(pi.PaymentMethod),
		PaymentMethodOptions: map[string]any{}, PaymentMethodTypes: types,
		ReceiptEmail: strPtr(pi.ReceiptEmail), SetupFutureUsage: strPtr(pi.SetupFutureUsage),
		Status: string(pi.Status), Provider: pi.Provider,
	}
}

// ChargeJSON is the charge object.
type ChargeJSON struct {
	ID                            string              `json:"id"`
	Object                        string              `json:"object"`
	Amount                        int64               `json:"amount"`
	AmountCaptured                int64               `json:"amount_captured"`
	AmountRefunded                int64               `json:"amount_refunded"`
	Application                   *string             `json:"application"`
	ApplicationFee                *string             `json:"application_fee"`
	ApplicationFeeAmount          *int64              `json:"application_fee_amount"`
	BalanceTransaction            *string             `json:"balance_transaction"`
	BillingDetails                map[string]any      `json:"billing_details"`
	CalculatedStatementDescriptor *string             `json:"calculated_statement_descriptor"`
	Captured                      bool                `json:"captured"`
	Created                       int64               `json:"created"`
	Currency                      string              `json:"currency"`
	Customer                      any                 `json:"customer"`
	Description                   *string             `json:"description"`
	Disputed                      bool                `json:"disputed"`
	FailureBalanceTransaction     *string             `json:"failure_balance_transaction"`
	FailureCode                   *string             `json:"failure_code"`
	FailureMessage                *string             `json:"failure_message"`
	FraudDetails                  map[string]string   `json:"fraud_details"`
	Livemode                      bool                `json:"livemode"`
	Metadata                      map[string]string   `json:"metadata"`
	OnBehalfOf                    *string             `json:"on_behalf_of"`
	Outcome                       *ChargeOutcome      `json:"outcome"`
	Paid                          bool                `json:"paid"`
	PaymentIntent                 any                 `json:"payment_intent"`
	PaymentMethod                 *string             `json:"payment_method"`
	PaymentMethodDetails          *PaymentMethodBrief `json:"payment_method_details"`
	ReceiptEmail                  *string             `json:"receipt_email"`
	ReceiptNumber                 *string             `json:"receipt_number"`
	ReceiptURL                    *string             `json:"receipt_url"`
	Refunded                      bool                `json:"refunded"`
	Review                        *string             `json:"review"`
	Shipping                      any                 `json:"shipping"`
	SourceTransfer                *string             `json:"source_transfer"`
	StatementDescriptor           *string             `json:"statement_descriptor"`
	StatementDescriptorSuffix     *string             `json:"statement_descriptor_suffix"`
	Status                        string              `json:"status"`
	TransferData                  any                 `json:"transfer_data"`
	TransferGroup                 *string             `json:"transfer_group"`
	Provider                      string              `json:"provider"`
	ProviderReference             *string             `json:"provider_reference"`
}

// ChargeOutcome is Stripe's charge outcome, in brief.
type ChargeOutcome struct {
	NetworkStatus string  `json:"network_status"`
	Reason        *string `json:"reason"`
	RiskLevel     string  `json:"risk_level"`
	SellerMessage string  `json:"seller_message"`
	Type          string  `json:"type"`
}

// PaymentMethodBrief is a charge's payment_method_details.
type PaymentMethodBrief struct {
	Type string       `json:"type"`
	Card *CardDetails `json:"card,omitempty"`
}

// JSON renders the charge.
func (c *Charge) JSON() *ChargeJSON {
	j := &ChargeJSON{
		ID: c.ID, Object: "charge", Amount: c.Amount, AmountCaptured: c.AmountCaptured,
		AmountRefunded: c.AmountRefunded, BillingDetails: map[string]any{"address": nil, "email": nil, "name": nil, "phone": nil},
		Captured: c.Captured, Created: c.Created.Unix(), Currency: c.Currency.Code(),
		Customer: idOrNil(c.Customer), Description: strPtr(c.Description),
		FailureCode: strPtr(c.FailureCode), FailureMessage: strPtr(c.FailureMessage),
		FraudDetails: map[string]string{}, Livemode: c.Livemode, Metadata: metadataOf(c.Metadata),
		Paid: c.Status == ChargeSucceeded, PaymentIntent: idOrNil(c.PaymentIntent),
		PaymentMethod: strPtr(c.PaymentMethod), Refunded: c.Refunded(), Status: c.Status,
		Provider: c.Provider, ProviderReference: strPtr(c.ProviderRef),
	}
	if c.Card != nil {
		j.PaymentMethodDetails = &PaymentMethodBrief{Type: "card", Card: c.Card}
	}
	switch c.Status {
	case ChargeSucceeded:
		j.Outcome = &ChargeOutcome{NetworkStatus: "approved_by_network", RiskLevel: "normal", SellerMessage: "Payment complete.", Type: "authorized"}
	case ChargeFailed:
		reason := c.DeclineCode
		if reason == "" {
			reason = c.FailureCode
		}
		j.Outcome = &ChargeOutcome{NetworkStatus: "declined_by_network", Reason: strPtr(reason), RiskLevel: "normal",
			SellerMessage: "The bank did not return any further details with this decline.", Type: "issuer_declined"}
	}
	return j
}

// RefundJSON is the refund object.
type RefundJSON struct {
	ID                     string            `json:"id"`
	Object                 string            `json:"object"`
	Amount                 int64             `json:"amount"`
	BalanceTransaction     *string           `json:"balance_transaction"`
	Charge                 any               `json:"charge"`
	Created                int64             `json:"created"`
	Currency               string            `json:"currency"`
	FailureReason          *string           `json:"failure_reason,omitempty"`
	Metadata               map[string]string `json:"metadata"`
	PaymentIntent          any               `json:"payment_intent"`
	Reason                 *string           `json:"reason"`
	ReceiptNumber          *string           `json:"receipt_number"`
	SourceTransferReversal *string           `json:"source_transfer_reversal"`
	Status                 string            `json:"status"`
	TransferReversal       *string           `json:"transfer_reversal"`
	Provider               string            `json:"provider"`
}

// JSON renders the refund.
func (r *Refund) JSON() *RefundJSON {
	return &RefundJSON{
		ID: r.ID, Object: "refund", Amount: r.Amount, Charge: idOrNil(r.Charge), Created: r.Created.Unix(),
		Currency: r.Currency.Code(), FailureReason: strPtr(r.FailureReason), Metadata: metadataOf(r.Metadata),
		PaymentIntent: idOrNil(r.PaymentIntent), Reason: strPtr(r.Reason), Status: r.Status, Provider: r.Provider,
	}
}

// MustJSON marshals an API object for an event; our objects always marshal.
func MustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("tender: marshal API object: " + err.Error())
	}
	return b
}
