package stripe

import (
	"context"
	"errors"

	stripeapi "github.com/stripe/stripe-go/v85"

	"github.com/tenderhq/tender"
)

// AttachPaymentMethod saves a card for off-session charges (seed 001's
// "Save a Card"): it creates the Stripe customer when req.CustomerRef is
// empty, then attaches the payment method to it. Both writes carry keys
// derived from req.IdempotencyKey, so a repeat finds the same customer and
// the same attachment instead of making new ones.
func (p *Provider) AttachPaymentMethod(ctx context.Context, req *tender.AttachRequest) (*tender.AttachResult, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	if req.IdempotencyKey == "" {
		return nil, errors.New("stripe: attach without an idempotency key")
	}
	if req.PaymentMethod == "" {
		return nil, tender.MissingParam("payment_method")
	}
	c, err := p.client(&req.ProviderCall)
	if err != nil {
		return nil, err
	}
	customer := req.CustomerRef
	if customer == "" {
		params := &stripeapi.CustomerCreateParams{}
		if req.Email != "" {
			params.Email = stripeapi.String(req.Email)
		}
		if req.Name != "" {
			params.Name = stripeapi.String(req.Name)
		}
		if req.Customer != "" {
			params.Metadata = map[string]string{MetaCustomer: req.Customer}
		}
		params.SetIdempotencyKey(req.IdempotencyKey + ":customer")
		cus, err := c.V1Customers.Create(ctx, params)
		if err != nil {
			return nil, classify("create customer", err)
		}
		customer = cus.ID
	}
	params := &stripeapi.PaymentMethodAttachParams{Customer: stripeapi.String(customer)}
	params.SetIdempotencyKey(req.IdempotencyKey + ":attach")
	pm, err := c.V1PaymentMethods.Attach(ctx, req.PaymentMethod, params)
	if err != nil {
		return nil, classify("attach payment method", err)
	}
	obj, err := decodeObject[apiPaymentMethod](rawJSON(pm.LastResponse, pm), "payment method")
	if err != nil {
		return nil, &unknownOutcome{op: "decode payment method", msg: err.Error(), err: err}
	}
	p.log.InfoContext(ctx, "stripe attach payment method", "merchant", req.MerchantID, "customer", customer, "payment_method", obj.ID)
	return &tender.AttachResult{CustomerRef: customer, PaymentMethod: obj.ID, Card: obj.Card.details()}, nil
}

// DetachPaymentMethod detaches a saved payment method from its customer;
// Stripe can no longer charge it.
func (p *Provider) DetachPaymentMethod(ctx context.Context, req *tender.DetachRequest) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	if req.PaymentMethod == "" {
		return tender.MissingParam("payment_method")
	}
	c, err := p.client(&req.ProviderCall)
	if err != nil {
		return err
	}
	params := &stripeapi.PaymentMethodDetachParams{}
	if req.IdempotencyKey != "" {
		params.SetIdempotencyKey(req.IdempotencyKey)
	}
	if _, err := c.V1PaymentMethods.Detach(ctx, req.PaymentMethod, params); err != nil {
		return classify("detach payment method", err)
	}
	p.log.InfoContext(ctx, "stripe detach payment method", "merchant", req.MerchantID, "payment_method", req.PaymentMethod)
	return nil
}

// DescribePaymentMethod returns a card payment method's details. A
// payment method that is not a card is refused: this provider charges
// cards only.
func (p *Provider) DescribePaymentMethod(ctx context.Context, req *tender.DescribeRequest) (*tender.CardDetails, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	if req.PaymentMethod == "" {
		return nil, tender.MissingParam("payment_method")
	}
	c, err := p.client(&req.ProviderCall)
	if err != nil {
		return nil, err
	}
	pm, err := c.V1PaymentMethods.Retrieve(ctx, req.PaymentMethod, nil)
	if err != nil {
		return nil, classify("retrieve payment method", err)
	}
	obj, err := decodeObject[apiPaymentMethod](rawJSON(pm.LastResponse, pm), "payment method")
	if err != nil {
		return nil, &unknownOutcome{op: "decode payment method", msg: err.Error(), err: err}
	}
	if obj.Card == nil {
		return nil, tender.InvalidParam("payment_method_unsupported_type", "payment_method",
			"The payment method %s is of type %s; only cards can be used with Stripe here.", obj.ID, obj.Type)
	}
	return obj.Card.details(), nil
}
