package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/tenderhq/tender"
)

// errorBody is Stripe's error object, seed 003's shape.
type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Type          tender.ErrorType          `json:"type"`
	Code          string                    `json:"code,omitempty"`
	Message       string                    `json:"message"`
	Param         string                    `json:"param,omitempty"`
	DeclineCode   string                    `json:"decline_code,omitempty"`
	Charge        string                    `json:"charge,omitempty"`
	PaymentIntent *tender.PaymentIntentJSON `json:"payment_intent,omitempty"`
	RequestID     string                    `json:"request_id"`
}

// Codes that only the HTTP layer produces.
const (
	codeRouteMissing     = "resource_missing"
	codeMethodNotAllowed = "method_not_allowed"
	codeUnavailable      = "service_unavailable"
)

// StatusOf is the one place that maps Tender's errors to HTTP statuses.
func StatusOf(e *tender.Error) int {
	switch e.Type {
	case tender.InvalidRequestError:
		switch e.Code {
		case tender.CodeResourceMissing:
			return http.StatusNotFound
		case tender.CodeIdempotencyKeyInUse:
			return http.StatusConflict
		case tender.CodeBodyTooLarge:
			return http.StatusRequestEntityTooLarge
		case tender.CodeUnsupportedContentType:
			return http.StatusUnsupportedMediaType
		case codeMethodNotAllowed:
			return http.StatusMethodNotAllowed
		}
		return http.StatusBadRequest
	case tender.IdempotencyError:
		return http.StatusBadRequest
	case tender.AuthenticationError:
		return http.StatusUnauthorized
	case tender.PermissionError:
		return http.StatusForbidden
	case tender.RateLimitError:
		return http.StatusTooManyRequests
	case tender.CardError:
		return http.StatusPaymentRequired
	}
	if e.Code == codeUnavailable {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// toError turns any error into the one a client may see. Storage sentinels
// that escaped a handler become api_error (unavailable: 503); anything
// unknown is an internal error whose cause stays in the log.
func toError(err error) *tender.Error {
	if e, ok := tender.AsError(err); ok {
		return e
	}
	if errors.Is(err, tender.ErrUnavailable) {
		return &tender.Error{Type: tender.APIError, Code: codeUnavailable,
			Message: "The service is temporarily unavailable. Please retry shortly.", Cause: err}
	}
	return tender.Internal(err)
}

// WriteError answers with the error object. Internal causes are logged
// with the request id and never written to the client.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	status := StatusOf(e)
	rid := RequestID(r.Context())
	if status >= 500 {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", rid), slog.String("route", r.Pattern), slog.Any("error", err))
	} else if e.Cause != nil {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request refused",
			slog.String("request_id", rid), slog.Any("error", err))
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	obj := errorObject{Type: e.Type, Code: e.Code, Message: e.Message, Param: e.Param,
		DeclineCode: e.DeclineCode, RequestID: rid}
	if e.PaymentIntent != nil {
		obj.PaymentIntent = e.PaymentIntent.JSON()
		if lpe := e.PaymentIntent.LastPaymentError; e.Type == tender.CardError && lpe != nil {
			obj.Charge = lpe.Charge
		}
	}
	if st := state(r.Context()); st != nil && st.simple {
		WriteJSON(w, status, struct {
			Success bool        `json:"success"`
			Error   errorObject `json:"error"`
		}{false, obj})
		return
	}
	WriteJSON(w, status, errorBody{Error: obj})
}
