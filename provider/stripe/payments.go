package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	stripeapi "github.com/stripe/stripe-go/v85"

	"github.com/tenderhq/tender"
)

// Metadata keys Tender sets on Stripe's objects, so that a webhook about
// an object can be traced back to Tender's (and to the merchant).
const (
	MetaPaymentIntent = "tender_payment_intent"
	MetaCharge        = "tender_charge"
	MetaRefund        = "tender_refund"
	MetaCustomer      = "tender_customer"
)

// rawJSON is the body Stripe answered with (what Tender decodes), or, if
// the SDK did not keep it, the SDK's object encoded again.
func rawJSON(resp *stripeapi.APIResponse, obj any) []byte {
	if resp != nil && len(resp.RawJSON) > 0 {
		return resp.RawJSON
	}
	b, _ := json.Marshal(obj)
	return b
}

func replayed(resp *stripeapi.APIResponse) bool {
	return resp != nil && resp.Header.Get("Idempotent-Replayed") == "true"
}

// createParams is the PaymentIntent for req, created and confirmed in one
// request. It is a pure function of req, so that re-sending a recorded
// request sends the same parameters and Stripe replays instead of refusing
// the key.
//
// payment_method_types=card: this provider takes cards only, and naming the
// type keeps Stripe from enabling automatic payment methods, which would
// require a return_url on every confirm. Without a return_url, a card that
// needs 3-D Secure answers next_action use_stripe_sdk, for Stripe.js.
//
// off_session: the customer is not there. Stripe then fails a payment that
// needs authentication (a card_error authentication_required) rather than
// leaving it in requires_action: error_on_requires_action's semantics,
// which off_session implies.
func createParams(req *tender.AuthorizeRequest) *stripeapi.PaymentIntentCreateParams {
	params := &stripeapi.PaymentIntentCreateParams{
		Amount:             stripeapi.Int64(req.Amount),
		Currency:           stripeapi.String(req.Currency.Code()),
		Confirm:            stripeapi.Bool(!req.ClientSide),
		PaymentMethodTypes: []*string{stripeapi.String("card")},
		CaptureMethod:      stripeapi.String(string(stripeapi.PaymentIntentCaptureMethodAutomatic)),
		Expand:             []*string{stripeapi.String("latest_charge")},
	}
	if !req.Capture {
		params.CaptureMethod = stripeapi.String(string(stripeapi.PaymentIntentCaptureMethodManual))
	}
	if req.PaymentMethod != "" {
		params.PaymentMethod = stripeapi.String(req.PaymentMethod)
	}
	if req.Customer != "" {
		params.Customer = stripeapi.String(req.Customer)
	}
	if req.OffSession && !req.ClientSide {
		params.OffSession = stripeapi.Bool(true)
	}
	if req.SaveMethod {
		params.SetupFutureUsage = stripeapi.String(string(stripeapi.PaymentIntentSetupFutureUsageOffSession))
	}
	if req.ReturnURL != "" {
		params.ReturnURL = stripeapi.String(req.ReturnURL)
	}
	if req.Description != "" {
		params.Description = stripeapi.String(req.Description)
	}
	params.Metadata = make(map[string]string, len(req.Metadata)+2)
	for k, v := range req.Metadata {
		params.Metadata[k] = v
	}
	// Tender's own keys win over a merchant's key of the same name: webhooks
	// are matched by them.
	if req.PaymentIntent != "" {
		params.Metadata[MetaPaymentIntent] = req.PaymentIntent
	}
	if req.Charge != "" {
		params.Metadata[MetaCharge] = req.Charge
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	return params
}

// Authorize creates and confirms a PaymentIntent with req's payment method:
// with req.Capture it charges, without it places a hold (capture_method
// manual). The idempotency key is always req.IdempotencyKey, so a repeat
// gets Stripe's first answer. A decline is a failed result, not an error.
func (p *Provider) Authorize(ctx context.Context, req *tender.AuthorizeRequest) (*tender.ProviderResult, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	if req.IdempotencyKey == "" {
		return nil, errors.New("stripe: authorize without an idempotency key")
	}
	c, err := p.client(&req.ProviderCall)
	if err != nil {
		return nil, err
	}
	if err := p.remember(ctx, req); err != nil {
		return nil, err
	}
	res, err := p.createPayment(ctx, c, req)
	p.logPayment(ctx, "stripe authorize", &req.ProviderCall, res, err, "amount", req.Amount, "capture", req.Capture, "off_session", req.OffSession)
	return res, err
}

// createPayment sends the create request and maps Stripe's answer.
func (p *Provider) createPayment(ctx context.Context, c *stripeapi.Client, req *tender.AuthorizeRequest) (*tender.ProviderResult, error) {
	pi, err := c.V1PaymentIntents.Create(ctx, createParams(req))
	if err != nil {
		if se, ok := cardError(err); ok {
			return declined(se), nil
		}
		return nil, classify("create PaymentIntent", err)
	}
	if req.ClientSide {
		return clientSidePayment(pi.LastResponse, pi)
	}
	return decodePayment(pi.LastResponse, pi)
}

// clientSidePayment maps a PaymentIntent created for Stripe.js to confirm:
// until the browser confirms it, it waits for the customer (requires_action)
// with Stripe's client secret, rather than counting as failed.
func clientSidePayment(resp *stripeapi.APIResponse, sdk *stripeapi.PaymentIntent) (*tender.ProviderResult, error) {
	obj, err := decodeObject[apiPaymentIntent](rawJSON(resp, sdk), "PaymentIntent")
	if err != nil {
		return nil, &unknownOutcome{op: "decode PaymentIntent", msg: err.Error(), err: err}
	}
	res, err := paymentResult(obj)
	if err != nil {
		return nil, err
	}
	waiting := obj.Status == "requires_confirmation" || (obj.Status == "requires_payment_method" && obj.LastPaymentError == nil)
	if waiting {
		res.Status, res.Error = tender.ProviderRequiresAction, nil
		res.NextAction = &tender.NextAction{Type: "use_stripe_sdk", UseStripeSDK: map[string]any{"type": "confirm_payment"}}
	}
	res.ClientSecret = obj.ClientSecret
	return res, nil
}

func decodePayment(resp *stripeapi.APIResponse, sdk *stripeapi.PaymentIntent) (*tender.ProviderResult, error) {
	obj, err := decodeObject[apiPaymentIntent](rawJSON(resp, sdk), "PaymentIntent")
	if err != nil {
		return nil, &unknownOutcome{op: "decode PaymentIntent", msg: err.Error(), err: err}
	}
	return paymentResult(obj)
}

// declined maps a card error (HTTP 402) to a failed result: the code,
// the issuer's decline code and message, and the PaymentIntent Stripe
// created (in requires_payment_method) as the reference.
func declined(se *stripeapi.Error) *tender.ProviderResult {
	res := &tender.ProviderResult{Status: tender.ProviderFailed,
		Error: &tender.ProviderError{Code: string(se.Code), DeclineCode: string(se.DeclineCode), Message: redact(se.Msg)}}
	if res.Error.Code == "" {
		res.Error.Code = tender.CodeCardDeclined
	}
	var body struct {
		Error struct {
			PaymentIntent *apiPaymentIntent `json:"payment_intent"`
			PaymentMethod *apiPaymentMethod `json:"payment_method"`
		} `json:"error"`
	}
	if se.LastResponse != nil && json.Unmarshal(se.LastResponse.RawJSON, &body) == nil {
		if pi := body.Error.PaymentIntent; pi != nil {
			res.Reference, res.PaymentMethod, res.Card = pi.ID, pi.PaymentMethod.ID, chargeCard(pi.LatestCharge)
		}
		if pm := body.Error.PaymentMethod; pm != nil {
			if res.PaymentMethod == "" {
				res.PaymentMethod = pm.ID
			}
			if res.Card == nil {
				res.Card = pm.Card.details()
			}
		}
	} else if se.PaymentIntent != nil {
		res.Reference = se.PaymentIntent.ID
	}
	return res
}

// Capture collects req.Amount of a held PaymentIntent (amount_to_capture;
// Stripe releases the rest). A repeated capture with the same key gets the
// first answer.
func (p *Provider) Capture(ctx context.Context, req *tender.CaptureRequest) (*tender.ProviderResult, error) {
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
	params := &stripeapi.PaymentIntentCaptureParams{Expand: []*string{stripeapi.String("latest_charge")}}
	if req.Amount > 0 {
		params.AmountToCapture = stripeapi.Int64(req.Amount)
	}
	if req.IdempotencyKey != "" {
		params.SetIdempotencyKey(req.IdempotencyKey)
	}
	var res *tender.ProviderResult
	pi, err := c.V1PaymentIntents.Capture(ctx, req.Reference, params)
	if err != nil {
		err = classify("capture PaymentIntent", err)
	} else {
		res, err = decodePayment(pi.LastResponse, pi)
	}
	p.logPayment(ctx, "stripe capture", &req.ProviderCall, res, err, "reference", req.Reference, "amount", req.Amount)
	return res, err
}

// cancellationReasons are the reasons Stripe accepts; another reason is
// not sent (Stripe would refuse the whole cancel for it).
var cancellationReasons = []string{"duplicate", "fraudulent", "requested_by_customer", "abandoned"}

// Cancel releases a PaymentIntent not captured.
func (p *Provider) Cancel(ctx context.Context, req *tender.CancelRequest) (*tender.ProviderResult, error) {
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
	params := &stripeapi.PaymentIntentCancelParams{Expand: []*string{stripeapi.String("latest_charge")}}
	if slices.Contains(cancellationReasons, req.Reason) {
		params.CancellationReason = stripeapi.String(req.Reason)
	}
	if req.IdempotencyKey != "" {
		params.SetIdempotencyKey(req.IdempotencyKey)
	}
	var res *tender.ProviderResult
	pi, err := c.V1PaymentIntents.Cancel(ctx, req.Reference, params)
	if err != nil {
		err = classify("cancel PaymentIntent", err)
	} else {
		res, err = decodePayment(pi.LastResponse, pi)
	}
	p.logPayment(ctx, "stripe cancel", &req.ProviderCall, res, err, "reference", req.Reference)
	return res, err
}

// Retrieve reports where a payment stands.
//
// With a Reference it reads the PaymentIntent; Stripe's 404 is
// tender.ErrNotFound.
//
// Without one (the authorize answer was lost), it re-sends the recorded
// authorize request with the same idempotency key. This is Stripe's own
// way to ask "what became of that request?": within 24 hours Stripe
// replays the first response (the same PaymentIntent, or the same decline)
// without charging again, and if the first request never arrived it
// performs it now — the payment Tender meant to make, once. The record
// comes from this process's memory or, after a restart, from
// Options.Ledger (see records.go). With a ledger, no record means the
// request was never sent: tender.ErrNotFound. Without a ledger and without
// a record in memory nobody can tell: a plain error (outcome unknown).
func (p *Provider) Retrieve(ctx context.Context, req *tender.RetrieveRequest) (*tender.ProviderResult, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	c, err := p.client(&req.ProviderCall)
	if err != nil {
		return nil, err
	}
	if req.Reference != "" {
		params := &stripeapi.PaymentIntentRetrieveParams{Expand: []*string{stripeapi.String("latest_charge")}}
		pi, err := c.V1PaymentIntents.Retrieve(ctx, req.Reference, params)
		if isNotFound(err) {
			return nil, notFound("payment", req.Reference)
		}
		if err != nil {
			return nil, classify("retrieve PaymentIntent", err)
		}
		return decodePayment(pi.LastResponse, pi)
	}
	if req.IdempotencyKey == "" {
		return nil, errors.New("stripe: retrieve without a reference or an idempotency key")
	}
	rec, err := p.recall(ctx, &req.ProviderCall)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("stripe: no authorize request was sent with this idempotency key: %w", tender.ErrNotFound)
	}
	if age := p.now().Sub(rec.Created); age > idempotencyWindow {
		return nil, fmt.Errorf("stripe: the authorize request of charge %s was sent %s ago, past Stripe's idempotency window: "+
			"re-sending it could charge twice; find the PaymentIntent in the Stripe dashboard (metadata %s)", rec.Charge, age.Round(time.Second), MetaCharge)
	}
	areq, err := rec.request(req.ProviderCall)
	if err != nil {
		return nil, err
	}
	res, err := p.createPayment(ctx, c, areq)
	p.logPayment(ctx, "stripe retrieve by idempotency key", &req.ProviderCall, res, err, "charge", rec.Charge)
	return res, err
}

// logPayment logs a payment call's outcome: never a key, a client secret
// or a card number (results hold none).
func (p *Provider) logPayment(ctx context.Context, msg string, call *tender.ProviderCall, res *tender.ProviderResult, err error, args ...any) {
	args = append(args, "merchant", call.MerchantID, "livemode", call.Livemode)
	switch {
	case err != nil:
		if _, definite := tender.AsError(err); definite {
			p.log.InfoContext(ctx, msg+" refused", append(args, "error", err.Error())...)
		} else {
			p.log.WarnContext(ctx, msg+": outcome unknown", append(args, "error", err.Error())...)
		}
	case res != nil:
		args = append(args, "ref", res.Reference, "status", res.Status)
		if res.Error != nil {
			args = append(args, "code", res.Error.Code, "decline_code", res.Error.DeclineCode)
		}
		p.log.InfoContext(ctx, msg, args...)
	}
}
