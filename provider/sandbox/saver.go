package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/tenderhq/tender"
)

var (
	_ tender.CardSaver = (*Sandbox)(nil)
	_ tender.Tokenizer = (*Sandbox)(nil)
)

// Tokenize is the package's Tokenize, as the tender.Tokenizer the engine
// looks for.
func (s *Sandbox) Tokenize(number string, expMonth, expYear int, cvc string, now time.Time) (string, *tender.CardDetails, error) {
	return Tokenize(number, expMonth, expYear, cvc, now)
}

func noSuchMethod(token string) error {
	return &tender.Error{Type: tender.InvalidRequestError, Code: tender.CodeResourceMissing, Param: "payment_method",
		Message: "No such PaymentMethod: '" + token + "'", Cause: fmt.Errorf("%w: sandbox payment method", tender.ErrNotFound)}
}

// AttachPaymentMethod saves a card to a customer. The sandbox's tokens
// carry everything about the card, so saving is bookkeeping: the customer
// reference is derived from Tender's customer id, the token is unchanged.
func (s *Sandbox) AttachPaymentMethod(_ context.Context, req *tender.AttachRequest) (*tender.AttachResult, error) {
	card, ok := CardFor(req.PaymentMethod)
	if !ok {
		return nil, noSuchMethod(req.PaymentMethod)
	}
	ref := req.CustomerRef
	if ref == "" {
		sum := sha256.Sum256([]byte(req.MerchantID + "|" + req.Customer))
		ref = "sbx_cus_" + hex.EncodeToString(sum[:12])
	}
	return &tender.AttachResult{CustomerRef: ref, PaymentMethod: req.PaymentMethod, Card: card}, nil
}

// DetachPaymentMethod forgets nothing: the sandbox keeps no saved cards.
func (s *Sandbox) DetachPaymentMethod(_ context.Context, req *tender.DetachRequest) error {
	if _, ok := CardFor(req.PaymentMethod); !ok {
		return noSuchMethod(req.PaymentMethod)
	}
	return nil
}

// DescribePaymentMethod returns a token's card details.
func (s *Sandbox) DescribePaymentMethod(_ context.Context, req *tender.DescribeRequest) (*tender.CardDetails, error) {
	card, ok := CardFor(req.PaymentMethod)
	if !ok {
		return nil, noSuchMethod(req.PaymentMethod)
	}
	return card, nil
}
