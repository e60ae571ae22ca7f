// Package manual is the check / money order provider (seed 000's "Manual
// Payment"): the customer mails a check, the order waits "awaiting payment",
// and the merchant confirms receipt by capturing.
//
// No processor is involved, so the provider keeps no state: a payment is a
// hold (requires_capture) that only the merchant's capture settles, and its
// reference is derived from the idempotency key, so that a repeated call —
// a retry, Tender's crash recovery — gets the same answer without storage.
package manual

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/tenderhq/tender"
)

// Key is the manual provider's key.
const Key = "manual"

// DefaultInstructions are shown when the merchant configured none (the
// setting is required, so only a misconfiguration gets here).
const DefaultInstructions = "Make your check or money order payable to the merchant and include your order reference."

// CodeRefundUnsupported is the error code of a refund through the manual provider.
const CodeRefundUnsupported = "refund_unsupported"

// Manual is the check / money order provider. It implements tender.Provider.
type Manual struct{}

var _ tender.Provider = (*Manual)(nil)

// New returns the manual provider.
func New() *Manual { return &Manual{} }

// Info describes the provider as seed 000 does.
func (*Manual) Info() tender.ProviderInfo {
	return tender.ProviderInfo{
		Key:         Key,
		Name:        "Check / Money Order",
		Description: "Pay by check or money order mailed to the merchant",
		Capabilities: tender.Capabilities{
			SupportsRedirect:      false,
			SupportsWebhook:       false,
			SupportsRefund:        false,
			SupportsPartialRefund: false,
			// Capture is how the merchant confirms the check arrived.
			SupportsManualCapture: true,
			SupportsSavedCards:    false,
			RequiresClientSide:    false,
			SupportedCurrencies:   []string{"usd"},
		},
		Settings: []tender.CredentialField{
			{Key: "instructions", Label: "Payment instructions shown to the customer", Required: true},
		},
		Modes: tender.ProviderModeSupport{Test: true, Live: true, NeedsConfig: true},
		// The customer pays by check: there is no card to charge.
		NoPaymentMethod: true,
	}
}

// Reference is the payment reference for an authorize idempotency key:
// "man_" and the first 24 hex digits of the key's SHA-256. Deriving it is
// what lets a stateless provider answer a repeated call the same way.
func Reference(idempotencyKey string) string {
	sum := sha256.Sum256([]byte(idempotencyKey))
	return "man_" + hex.EncodeToString(sum[:])[:24]
}

// awaiting is a payment waiting for the check: a hold of amount (0 when
// not known) and the instructions the customer needs.
func awaiting(ref string, amount int64, settings map[string]string) *tender.ProviderResult {
	instructions := settings["instructions"]
	if instructions == "" {
		instructions = DefaultInstructions
	}
	return &tender.ProviderResult{
		Status:           tender.ProviderRequiresCapture,
		Reference:        ref,
		AmountCapturable: amount,
		NextAction: &tender.NextAction{Type: "display_payment_instructions",
			DisplayPaymentInstructions: &tender.PaymentInstructions{Instructions: instructions, Reference: ref}},
	}
}

// Authorize records nothing and charges nothing: whether or not req.Capture
// asks to capture, the money has not arrived, so the payment waits in
// requires_capture with instructions for the customer.
func (*Manual) Authorize(ctx context.Context, req *tender.AuthorizeRequest) (*tender.ProviderResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.IdempotencyKey == "" {
		return nil, errors.New("manual: authorize without an idempotency key")
	}
	if req.Amount <= 0 {
		return nil, tender.InvalidParam(tender.CodeParameterInvalidInt, "amount", "Amount must be a positive integer.")
	}
	if req.Currency.Code() != "usd" {
		return nil, tender.InvalidParam(tender.CodeInvalidCurrency, "currency",
			"Check and money order payments are accepted in USD only, not %s.", currencyName(req.Currency))
	}
	return awaiting(Reference(req.IdempotencyKey), req.Amount, req.Settings), nil
}

// Capture is the merchant confirming that the check or money order arrived.
func (*Manual) Capture(ctx context.Context, req *tender.CaptureRequest) (*tender.ProviderResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Reference == "" {
		return nil, tender.MissingParam("reference")
	}
	if req.Amount <= 0 {
		return nil, tender.InvalidParam(tender.CodeParameterInvalidInt, "amount_to_capture",
			"The amount received must be a positive integer.")
	}
	return &tender.ProviderResult{Status: tender.ProviderSucceeded, Reference: req.Reference, AmountCaptured: req.Amount}, nil
}

// Cancel gives up waiting for the check.
func (*Manual) Cancel(ctx context.Context, req *tender.CancelRequest) (*tender.ProviderResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Reference == "" {
		return nil, tender.MissingParam("reference")
	}
	return &tender.ProviderResult{Status: tender.ProviderCanceled, Reference: req.Reference}, nil
}

// Refund is refused: Tender cannot send a check back. The merchant returns
// the money by their own means.
func (*Manual) Refund(ctx context.Context, req *tender.RefundRequest) (*tender.RefundResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, &tender.Error{Type: tender.InvalidRequestError, Code: CodeRefundUnsupported,
		Message: "The manual (check / money order) provider cannot refund payments. Return the money to the customer by your own means, such as a check."}
}

// Retrieve answers what Authorize answered: by idempotency key the same
// reference; by reference alone, that reference. Without state, the amount
// is not known, so AmountCapturable is 0 here.
func (*Manual) Retrieve(ctx context.Context, req *tender.RetrieveRequest) (*tender.ProviderResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ref := req.Reference
	if ref == "" {
		if req.IdempotencyKey == "" {
			return nil, fmt.Errorf("manual: retrieve without reference or key: %w", tender.ErrNotFound)
		}
		ref = Reference(req.IdempotencyKey)
	}
	return awaiting(ref, 0, req.Settings), nil
}

// RetrieveRefund finds nothing: the manual provider never makes refunds.
func (*Manual) RetrieveRefund(ctx context.Context, req *tender.RetrieveRequest) (*tender.RefundResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("manual: refunds are not supported: %w", tender.ErrNotFound)
}

func currencyName(c tender.Currency) string {
	if c.IsZero() {
		return "no currency"
	}
	return c.Upper()
}
