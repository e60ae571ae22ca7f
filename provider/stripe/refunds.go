package stripe

import (
	"context"
	"fmt"
	"slices"

	stripeapi "github.com/stripe/stripe-go/v85"

	"github.com/tenderhq/tender"
)

// refundReasons are the reasons Stripe accepts for a refund; another
// reason is not sent rather than have Stripe refuse the refund for it.
var refundReasons = []string{"duplicate", "fraudulent", "requested_by_customer"}

// Refund refunds req.Amount of the PaymentIntent req.Reference. Stripe
// refuses a refund beyond what is left of the captured amount
// (invalid_request_error): a definite refusal, returned as a *tender.Error.
func (p *Provider) Refund(ctx context.Context, req *tender.RefundRequest) (*tender.RefundResult, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	if req.Reference == "" {
		return nil, tender.MissingParam("reference")
	}
	c, err := p.client(&req.ProviderCall)
	if err != nil {
		return nil, err
	}
	params := &stripeapi.RefundCreateParams{PaymentIntent: stripeapi.String(req.Reference)}
	if req.Amount > 0 {
		params.Amount = stripeapi.Int64(req.Amount)
	}
	if slices.Contains(refundReasons, req.Reason) {
		params.Reason = stripeapi.String(req.Reason)
	}
	if req.Refund != "" {
		params.Metadata = map[string]string{MetaRefund: req.Refund}
	}
	if req.IdempotencyKey != "" {
		params.SetIdempotencyKey(req.IdempotencyKey)
	}
	var res *tender.RefundResult
	re, err := c.V1Refunds.Create(ctx, params)
	if err != nil {
		err = classify("create refund", err)
	} else {
		res, err = decodeRefund(re)
	}
	p.logRefund(ctx, "stripe refund", &req.ProviderCall, res, err, "reference", req.Reference, "amount", req.Amount)
	return res, err
}

// RetrieveRefund reports where a refund stands, by its reference (re_…).
// Without a reference it returns tender.ErrNotFound: Tender then repeats
// the refund with the same idempotency key, which Stripe answers with the
// first refund if it was made, or makes it if it was not.
func (p *Provider) RetrieveRefund(ctx context.Context, req *tender.RetrieveRequest) (*tender.RefundResult, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	if req.Reference == "" {
		return nil, fmt.Errorf("stripe: refund without a reference: %w", tender.ErrNotFound)
	}
	c, err := p.client(&req.ProviderCall)
	if err != nil {
		return nil, err
	}
	re, err := c.V1Refunds.Retrieve(ctx, req.Reference, nil)
	if isNotFound(err) {
		return nil, notFound("refund", req.Reference)
	}
	if err != nil {
		return nil, classify("retrieve refund", err)
	}
	return decodeRefund(re)
}

func decodeRefund(re *stripeapi.Refund) (*tender.RefundResult, error) {
	obj, err := decodeObject[apiRefund](rawJSON(re.LastResponse, re), "refund")
	if err != nil {
		return nil, &unknownOutcome{op: "decode refund", msg: err.Error(), err: err}
	}
	return refundResult(obj)
}

func (p *Provider) logRefund(ctx context.Context, msg string, call *tender.ProviderCall, res *tender.RefundResult, err error, args ...any) {
	args = append(args, "merchant", call.MerchantID, "livemode", call.Livemode)
	switch {
	case err != nil:
		if _, definite := tender.AsError(err); definite {
			p.log.InfoContext(ctx, msg+" refused", append(args, "error", err.Error())...)
		} else {
			p.log.WarnContext(ctx, msg+": outcome unknown", append(args, "error", err.Error())...)
		}
	case res != nil:
		p.log.InfoContext(ctx, msg, append(args, "refund", res.Reference, "status", res.Status)...)
	}
}
