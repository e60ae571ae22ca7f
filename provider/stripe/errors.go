package stripe

import (
	"errors"
	"fmt"
	"net/http"

	stripeapi "github.com/stripe/stripe-go/v85"

	"github.com/tenderhq/tender"
)

// unknownOutcome is a call whose answer Tender did not get (network
// failure, timeout, 5xx, 429, a body that is not JSON): the request may or
// may not have been performed. It is deliberately not a *tender.Error, which
// Tender reads as a definite refusal.
type unknownOutcome struct {
	op  string
	msg string // safe to log: redacted, no client secrets
	err error
}

func (e *unknownOutcome) Error() string {
	return "stripe: " + e.op + ": outcome unknown: " + e.msg
}

// Unwrap gives the cause, for errors.Is (context.DeadlineExceeded …).
func (e *unknownOutcome) Unwrap() error { return e.err }

// stripeCause keeps Stripe's refusal as a *tender.Error's Cause without
// its Error() string, which is the whole error object as JSON (including
// a PaymentIntent's client secret) and must not reach a log.
type stripeCause struct {
	op  string
	err *stripeapi.Error
}

func (c *stripeCause) Error() string {
	return fmt.Sprintf("stripe: %s: HTTP %d %s/%s (request %s): %s", c.op, c.err.HTTPStatusCode, c.err.Type, c.err.Code,
		c.err.RequestID, redact(c.err.Msg))
}

func (c *stripeCause) Unwrap() error { return c.err }

// classify maps an error from a Stripe call to what Tender must do with it:
//
//   - 401 (a key Stripe does not know, revoked or rolled): a definite
//     refusal, invalid_provider_credentials: the merchant must reconnect.
//   - 403 (a restricted key without the permission): the same.
//   - card_error (402): a *tender.Error of type card_error, with the
//     decline code. Authorize handles card errors before this, as a failed
//     result.
//   - invalid_request_error (400, 404): a definite refusal with Stripe's
//     code, param and message (resource_missing for a bad payment method,
//     amount_too_large for an over-refund …).
//   - everything else — 409 (a concurrent request with the same key), 429,
//     5xx, api_error, an idempotency_error (the key was used before with
//     other parameters: that earlier request's outcome is unknown), network
//     failures, timeouts, bodies that are not JSON: the outcome is unknown,
//     a plain error.
func classify(op string, err error) error {
	var se *stripeapi.Error
	if !errors.As(err, &se) {
		return &unknownOutcome{op: op, msg: redact(err.Error()), err: err}
	}
	cause := &stripeCause{op: op, err: se}
	switch {
	case se.HTTPStatusCode == http.StatusUnauthorized:
		return &tender.Error{Type: tender.InvalidRequestError, Code: CodeInvalidCredentials,
			Message: "Stripe rejected this merchant's Stripe key; reconnect Stripe.", Cause: cause}
	case se.HTTPStatusCode == http.StatusForbidden:
		return &tender.Error{Type: tender.InvalidRequestError, Code: CodeInvalidCredentials,
			Message: "Stripe refused this merchant's Stripe key access (" + redact(se.Msg) + "); reconnect Stripe with a key that has this permission.",
			Cause:   cause}
	case se.HTTPStatusCode == http.StatusConflict, se.HTTPStatusCode == http.StatusTooManyRequests,
		se.HTTPStatusCode >= 500, se.Type == stripeapi.ErrorTypeAPI, se.Type == stripeapi.ErrorTypeIdempotency:
		return &unknownOutcome{op: op, msg: cause.Error(), err: se}
	case se.Type == stripeapi.ErrorTypeCard:
		return &tender.Error{Type: tender.CardError, Code: string(se.Code), DeclineCode: string(se.DeclineCode),
			Message: redact(se.Msg), Param: se.Param, Cause: cause}
	case se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500:
		return &tender.Error{Type: tender.InvalidRequestError, Code: string(se.Code), Param: se.Param,
			Message: redact(se.Msg), Cause: cause}
	}
	return &unknownOutcome{op: op, msg: cause.Error(), err: se}
}

// isNotFound reports whether err is Stripe's 404 for the object asked for.
func isNotFound(err error) bool {
	var se *stripeapi.Error
	return errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound
}

// notFound is the error for a reference Stripe does not know: a definite
// refusal that also matches tender.ErrNotFound.
func notFound(object, ref string) error {
	e := tender.NotFound(object, ref)
	e.Param = "reference"
	e.Cause = tender.ErrNotFound
	return e
}

// cardError returns err's card error, if it is one.
func cardError(err error) (*stripeapi.Error, bool) {
	var se *stripeapi.Error
	if errors.As(err, &se) && se.Type == stripeapi.ErrorTypeCard {
		return se, true
	}
	return nil, false
}
