package api

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/engine"
)

// caller describes the request to the engine. Calling it marks the point
// where the request starts changing things.
func (s *Server) caller(r *http.Request) engine.Caller {
	st := state(r.Context())
	c := engine.Caller{Tenant: tender.Tenant{MerchantID: st.auth.MerchantID, Livemode: st.auth.Livemode}, RequestID: st.id,
		OnCommit: func() { st.committed = true }}
	if st.idem != nil {
		c.IdempotencyKey, c.IdempotencyRecord = st.idem.Key, st.idem.ID
		if st.resumed {
			c.Resuming, c.Resume = true, st.idem.ResourceID
		}
	}
	c.Idem = st.inline
	return c
}

// intentCaller is caller for a call that ends with the intent the handler
// sends as is (no expansions): the engine can store that answer with the
// outcome.
func (s *Server) intentCaller(r *http.Request, expand []string) engine.Caller {
	c := s.caller(r)
	if c.Idem != nil && len(expand) == 0 {
		c.Idem.Render = func(pi *tender.PaymentIntent) []byte { return jsonBody(pi.JSON()) }
	}
	return c
}

func tenantOf(r *http.Request) tender.Tenant {
	a := authOf(r)
	return tender.Tenant{MerchantID: a.MerchantID, Livemode: a.Livemode}
}

// offSession accepts Stripe's forms: true/false, "one_off" or "recurring".
type offSession bool

func (o *offSession) UnmarshalParam(path string, raw any) error {
	switch v := raw.(type) {
	case bool:
		*o = offSession(v)
		return nil
	case string:
		switch v {
		case "true", "one_off", "recurring":
			*o = true
			return nil
		case "false":
			*o = false
			return nil
		}
	}
	return tender.InvalidParam(tender.CodeParameterInvalid, path, "Invalid off_session: must be true, false, one_off or recurring.")
}

type automaticPaymentMethods struct {
	Enabled        bool   `param:"enabled"`
	AllowRedirects string `param:"allow_redirects"`
}

type createIntentParams struct {
	Amount                  *int64                   `param:"amount,required"`
	Currency                string                   `param:"currency,required"`
	Customer                string                   `param:"customer"`
	Description             string                   `param:"description"`
	Metadata                map[string]string        `param:"metadata"`
	CaptureMethod           string                   `param:"capture_method"`
	ConfirmationMethod      string                   `param:"confirmation_method"`
	Confirm                 bool                     `param:"confirm"`
	PaymentMethod           string                   `param:"payment_method"`
	PaymentMethodTypes      []string                 `param:"payment_method_types"`
	AutomaticPaymentMethods *automaticPaymentMethods `param:"automatic_payment_methods"`
	ReturnURL               string                   `param:"return_url"`
	OffSession              offSession               `param:"off_session"`
	Provider                string                   `param:"provider"`
	ReceiptEmail            string                   `param:"receipt_email"`
	SetupFutureUsage        string                   `param:"setup_future_usage"`
	Expand                  []string                 `param:"expand"`
}

func checkConfirmationMethod(m string) error {
	if m != "" && m != "automatic" {
		return tender.InvalidParam(tender.CodeParameterInvalid, "confirmation_method", "Tender supports confirmation_method automatic only.")
	}
	return nil
}

func checkURL(u, param string) error {
	if u == "" {
		return nil
	}
	if len(u) > 2048 || !(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) {
		return tender.InvalidParam(tender.CodeParameterInvalid, param, "%s must be an absolute http(s) URL of at most 2048 characters.", param)
	}
	return nil
}

func (s *Server) createPaymentIntent(w http.ResponseWriter, r *http.Request) error {
	var p createIntentParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	cur, err := tender.ParseCurrency(p.Currency, "currency")
	if err != nil {
		return err
	}
	if err := checkConfirmationMethod(p.ConfirmationMethod); err != nil {
		return err
	}
	if err := checkURL(p.ReturnURL, "return_url"); err != nil {
		return err
	}
	if p.AutomaticPaymentMethods != nil && p.AutomaticPaymentMethods.Enabled && len(p.PaymentMethodTypes) > 0 {
		return tender.InvalidParam(tender.CodeParameterInvalid, "automatic_payment_methods", "You may pass either automatic_payment_methods or payment_method_types, not both.")
	}
	pi, err := s.engine.CreatePaymentIntent(r.Context(), s.intentCaller(r, p.Expand), engine.CreateIntentParams{
		Amount: *p.Amount, Currency: cur, Customer: p.Customer, Description: p.Description, Metadata: p.Metadata,
		CaptureMethod: p.CaptureMethod, PaymentMethod: p.PaymentMethod, PaymentMethodTypes: p.PaymentMethodTypes,
		Provider: p.Provider, ReceiptEmail: p.ReceiptEmail, SetupFutureUsage: p.SetupFutureUsage,
		Confirm: p.Confirm, ReturnURL: p.ReturnURL, OffSession: bool(p.OffSession),
	})
	if err != nil {
		return err
	}
	return s.writeIntent(w, r, http.StatusOK, pi, p.Expand)
}

// writeIntent renders an intent with any expansions asked for.
func (s *Server) writeIntent(w http.ResponseWriter, r *http.Request, status int, pi *tender.PaymentIntent, expand []string) error {
	obj, err := s.expand(r, pi.JSON(), expand, intentExpansions)
	if err != nil {
		return err
	}
	WriteJSON(w, status, obj)
	return nil
}

type retrieveParams struct {
	Expand       []string `param:"expand"`
	ClientSecret string   `param:"client_secret"`
}

// browserCheck lets a publishable key reach an intent only with its client
// secret, as Stripe.js does.
func browserCheck(r *http.Request, pi *tender.PaymentIntent, clientSecret string) error {
	if authOf(r).Key.Kind != tender.PublishableKey {
		return nil
	}
	if clientSecret == "" || subtle.ConstantTimeCompare([]byte(clientSecret), []byte(pi.ClientSecret)) != 1 {
		return tender.NotFound("payment_intent", pi.ID)
	}
	return nil
}

func (s *Server) getPaymentIntent(w http.ResponseWriter, r *http.Request) error {
	var p retrieveParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	pi, err := s.engine.RetrievePaymentIntent(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := browserCheck(r, pi, p.ClientSecret); err != nil {
		return err
	}
	return s.writeIntent(w, r, http.StatusOK, pi, p.Expand)
}

type updateIntentParams struct {
	Amount           *int64            `param:"amount"`
	Currency         *string           `param:"currency"`
	Customer         *string           `param:"customer"`
	Description      *string           `param:"description"`
	Metadata         map[string]string `param:"metadata"`
	PaymentMethod    *string           `param:"payment_method"`
	ReceiptEmail     *string           `param:"receipt_email"`
	SetupFutureUsage *string           `param:"setup_future_usage"`
	CaptureMethod    *string           `param:"capture_method"`
	Expand           []string          `param:"expand"`
}

func (s *Server) updatePaymentIntent(w http.ResponseWriter, r *http.Request) error {
	var p updateIntentParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	up := engine.UpdateIntentParams{Amount: p.Amount, Customer: p.Customer, Description: p.Description, Metadata: p.Metadata,
		PaymentMethod: p.PaymentMethod, ReceiptEmail: p.ReceiptEmail, SetupFutureUsage: p.SetupFutureUsage, CaptureMethod: p.CaptureMethod}
	if p.Currency != nil {
		cur, err := tender.ParseCurrency(*p.Currency, "currency")
		if err != nil {
			return err
		}
		up.Currency = &cur
	}
	pi, err := s.engine.UpdatePaymentIntent(r.Context(), s.caller(r), r.PathValue("id"), up)
	if err != nil {
		return err
	}
	return s.writeIntent(w, r, http.StatusOK, pi, p.Expand)
}

type confirmParams struct {
	PaymentMethod    string     `param:"payment_method"`
	ReturnURL        string     `param:"return_url"`
	OffSession       offSession `param:"off_session"`
	SetupFutureUsage string     `param:"setup_future_usage"`
	ClientSecret     string     `param:"client_secret"`
	UseStripeSDK     bool       `param:"use_stripe_sdk"`
	Expand           []string   `param:"expand"`
}

func (s *Server) confirmPaymentIntent(w http.ResponseWriter, r *http.Request) error {
	var p confirmParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	if err := checkURL(p.ReturnURL, "return_url"); err != nil {
		return err
	}
	if authOf(r).Key.Kind == tender.PublishableKey {
		pi, err := s.engine.RetrievePaymentIntent(r.Context(), tenantOf(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := browserCheck(r, pi, p.ClientSecret); err != nil {
			return err
		}
		if p.OffSession {
			return tender.InvalidParam(tender.CodeParameterInvalid, "off_session", "off_session cannot be used with a publishable key.")
		}
	}
	pi, err := s.engine.ConfirmPaymentIntent(r.Context(), s.intentCaller(r, p.Expand), r.PathValue("id"), engine.ConfirmParams{
		PaymentMethod: p.PaymentMethod, ReturnURL: p.ReturnURL, OffSession: bool(p.OffSession), SetupFutureUsage: p.SetupFutureUsage})
	if err != nil {
		return err
	}
	return s.writeIntent(w, r, http.StatusOK, pi, p.Expand)
}

type captureParams struct {
	AmountToCapture *int64   `param:"amount_to_capture"`
	Expand          []string `param:"expand"`
}

func (s *Server) capturePaymentIntent(w http.ResponseWriter, r *http.Request) error {
	var p captureParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	pi, err := s.engine.CapturePaymentIntent(r.Context(), s.caller(r), r.PathValue("id"), p.AmountToCapture)
	if err != nil {
		return err
	}
	return s.writeIntent(w, r, http.StatusOK, pi, p.Expand)
}

type cancelParams struct {
	CancellationReason string   `param:"cancellation_reason"`
	Expand             []string `param:"expand"`
}

func (s *Server) cancelPaymentIntent(w http.ResponseWriter, r *http.Request) error {
	var p cancelParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	pi, err := s.engine.CancelPaymentIntent(r.Context(), s.caller(r), r.PathValue("id"), p.CancellationReason)
	if err != nil {
		return err
	}
	return s.writeIntent(w, r, http.StatusOK, pi, p.Expand)
}

type listIntentParams struct {
	listParams
	Customer string `param:"customer"`
}

func (s *Server) listPaymentIntents(w http.ResponseWriter, r *http.Request) error {
	var p listIntentParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	q, err := p.query(authOf(r))
	if err != nil {
		return err
	}
	q.Customer = p.Customer
	page, err := s.payments.ListPaymentIntents(r.Context(), q)
	if err != nil {
		return err
	}
	return s.writeExpandedList(w, r, "/v1/payment_intents", page.HasMore, len(page.Data), func(i int) any { return page.Data[i].JSON() }, p.Expand, intentExpansions)
}

// --- charges

func (s *Server) getCharge(w http.ResponseWriter, r *http.Request) error {
	var p retrieveParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	if p.ClientSecret != "" {
		return tender.InvalidParam(tender.CodeParameterUnknown, "client_secret", "Received unknown parameter: client_secret")
	}
	ch, err := s.payments.Charge(r.Context(), tenantOf(r), r.PathValue("id"), false)
	if err != nil {
		return notFoundAs(err, "charge", r.PathValue("id"))
	}
	obj, err := s.expand(r, ch.JSON(), p.Expand, chargeExpansions)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, obj)
	return nil
}

type listChargeParams struct {
	listParams
	PaymentIntent string `param:"payment_intent"`
}

func (s *Server) listCharges(w http.ResponseWriter, r *http.Request) error {
	var p listChargeParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	q, err := p.query(authOf(r))
	if err != nil {
		return err
	}
	q.PaymentIntent = p.PaymentIntent
	page, err := s.payments.ListCharges(r.Context(), q)
	if err != nil {
		return err
	}
	return s.writeExpandedList(w, r, "/v1/charges", page.HasMore, len(page.Data), func(i int) any { return page.Data[i].JSON() }, p.Expand, chargeExpansions)
}

// --- refunds

type createRefundParams struct {
	PaymentIntent string            `param:"payment_intent"`
	Charge        string            `param:"charge"`
	Amount        *int64            `param:"amount"`
	Reason        string            `param:"reason"`
	Metadata      map[string]string `param:"metadata"`
	Expand        []string          `param:"expand"`
}

func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) error {
	if v, err := Params(r); err == nil && v["payment_id"] != nil && s.simpleRefunds != nil {
		// Seed 001's refund, on the same path (see README).
		UseSimpleEnvelope(r)
		return s.simpleRefunds(w, r)
	}
	var p createRefundParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	ref, err := s.engine.CreateRefund(r.Context(), s.caller(r), engine.RefundParams{PaymentIntent: p.PaymentIntent, Charge: p.Charge,
		Amount: p.Amount, Reason: p.Reason, Metadata: p.Metadata})
	if err != nil {
		return err
	}
	obj, err := s.expand(r, ref.JSON(), p.Expand, refundExpansions)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, obj)
	return nil
}

func (s *Server) getRefund(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		Expand []string `param:"expand"`
	}
	if err := Decode(r, &p); err != nil {
		return err
	}
	ref, err := s.payments.Refund(r.Context(), tenantOf(r), r.PathValue("id"), false)
	if err != nil {
		return notFoundAs(err, "refund", r.PathValue("id"))
	}
	obj, err := s.expand(r, ref.JSON(), p.Expand, refundExpansions)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, obj)
	return nil
}

type listRefundParams struct {
	listParams
	PaymentIntent string `param:"payment_intent"`
	Charge        string `param:"charge"`
}

func (s *Server) listRefunds(w http.ResponseWriter, r *http.Request) error {
	var p listRefundParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	q, err := p.query(authOf(r))
	if err != nil {
		return err
	}
	q.PaymentIntent, q.Charge = p.PaymentIntent, p.Charge
	page, err := s.payments.ListRefunds(r.Context(), q)
	if err != nil {
		return err
	}
	return s.writeExpandedList(w, r, "/v1/refunds", page.HasMore, len(page.Data), func(i int) any { return page.Data[i].JSON() }, p.Expand, refundExpansions)
}

// --- events

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct{}{}); err != nil {
		return err
	}
	ev, err := s.payments.Event(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return notFoundAs(err, "event", r.PathValue("id"))
	}
	WriteJSON(w, http.StatusOK, ev.JSON())
	return nil
}

type listEventParams struct {
	listParams
	Type  string   `param:"type"`
	Types []string `param:"types"`
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	var p listEventParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	if len(p.Expand) > 0 {
		return tender.InvalidParam(tender.CodeParameterInvalid, "expand", "Events cannot be expanded.")
	}
	q, err := p.query(authOf(r))
	if err != nil {
		return err
	}
	if p.Type != "" && len(p.Types) > 0 {
		return tender.InvalidParam(tender.CodeParameterInvalid, "types", "You may pass type or types, not both.")
	}
	if p.Type != "" {
		q.Types = []string{p.Type}
	} else {
		q.Types = p.Types
	}
	if len(q.Types) > 20 {
		return tender.InvalidParam(tender.CodeParameterInvalid, "types", "You may filter by at most 20 types.")
	}
	page, err := s.payments.ListEvents(r.Context(), q)
	if err != nil {
		return err
	}
	writeList(w, "/v1/events", page, func(e *tender.Event) any { return e.JSON() })
	return nil
}

// notFoundAs turns a storage miss into the API's 404 for an object.
func notFoundAs(err error, object, id string) error {
	if errors.Is(err, tender.ErrNotFound) {
		return tender.NotFound(object, id)
	}
	return err
}
