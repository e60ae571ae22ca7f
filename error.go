package tender

import (
	"errors"
	"fmt"
)

// ErrorType is the family of an Error, as in Stripe's error object.
type ErrorType string

// The error types of Stripe's API, which Tender keeps so that Stripe's SDKs
// raise the right exception class.
const (
	InvalidRequestError ErrorType = "invalid_request_error"
	AuthenticationError ErrorType = "authentication_error"
	PermissionError     ErrorType = "permission_error"
	RateLimitError      ErrorType = "rate_limit_error"
	IdempotencyError    ErrorType = "idempotency_error"
	CardError           ErrorType = "card_error"
	APIError            ErrorType = "api_error"
)

// Error codes used by more than one package. Codes are Stripe's where Stripe
// has one for the situation.
const (
	CodeParameterUnknown       = "parameter_unknown"
	CodeParameterMissing       = "parameter_missing"
	CodeParameterInvalid       = "parameter_invalid"
	CodeParameterInvalidInt    = "parameter_invalid_integer"
	CodeParameterInvalidEmpty  = "parameter_invalid_empty"
	CodeResourceMissing        = "resource_missing"
	CodeIdempotencyKeyInUse    = "idempotency_key_in_use"
	CodeAmountTooSmall         = "amount_too_small"
	CodeAmountTooLarge         = "amount_too_large"
	CodeInvalidCurrency        = "invalid_currency"
	CodeUnexpectedState        = "payment_intent_unexpected_state"
	CodeAPIKeyInvalid          = "api_key_invalid"
	CodeAPIKeyExpired          = "api_key_expired"
	CodeInsufficientScope      = "insufficient_permissions"
	CodeRateLimit              = "rate_limit"
	CodeBodyTooLarge           = "request_body_too_large"
	CodeUnsupportedContentType = "unsupported_content_type"
	CodeCardDeclined           = "card_declined"
	CodeProcessingError        = "processing_error"
)

// Error is the one error model of Tender. Every failure a client can see is
// an *Error; everything else is an internal error, logged and answered as a
// bare api_error. Cause carries the internal reason and is never sent.
type Error struct {
	Type        ErrorType
	Code        string
	Message     string
	Param       string
	DeclineCode string
	// PaymentIntent is the intent a card error happened on, returned inside
	// the error object as Stripe does.
	PaymentIntent *PaymentIntent
	Cause         error
}

func (e *Error) Error() string {
	s := string(e.Type)
	if e.Code != "" {
		s += "/" + e.Code
	}
	s += ": " + e.Message
	if e.Param != "" {
		s += " (param " + e.Param + ")"
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

// AsError reports whether err is (or wraps) an *Error and returns it.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// InvalidParam is an invalid_request_error about one parameter.
func InvalidParam(code, param, format string, args ...any) *Error {
	return &Error{Type: InvalidRequestError, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// MissingParam reports a required parameter that was not sent.
func MissingParam(param string) *Error {
	return &Error{Type: InvalidRequestError, Code: CodeParameterMissing, Param: param,
		Message: "Missing required param: " + param + "."}
}

// InvalidRequest is an invalid_request_error not tied to one parameter.
func InvalidRequest(code, format string, args ...any) *Error {
	return &Error{Type: InvalidRequestError, Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound is the error for an object that does not exist for the caller —
// including one that exists for another merchant or in the other mode, so
// that ids never leak across tenants.
func NotFound(object, id string) *Error {
	return &Error{Type: InvalidRequestError, Code: CodeResourceMissing, Param: "id",
		Message: fmt.Sprintf("No such %s: '%s'", object, id)}
}

// Internal wraps an unexpected failure. The client sees only a generic
// api_error; the cause is logged with the request id.
func Internal(cause error) *Error {
	return &Error{Type: APIError, Message: "An unexpected error occurred. Please retry; if it persists, contact support with the request id.", Cause: cause}
}

// Sentinel errors that storage adapters translate driver errors into, so
// that no package above storage inspects a driver's error type.
var (
	// ErrNotFound: no row matched (for the given tenant).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique constraint refused the write.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the database could not be reached or timed out.
	ErrUnavailable = errors.New("storage unavailable")
)
