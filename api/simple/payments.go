package simple

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/api"
	"github.com/tenderhq/tender/engine"
)

// decimal is an amount as seed 001 sends it: a JSON number or a string
// ("50.00"), kept as text until the currency says how to read it exactly.
type decimal struct {
	text string
	set  bool
}

func (d *decimal) UnmarshalParam(path string, raw any) error {
	switch v := raw.(type) {
	case string:
		d.text = v
	case json.Number:
		d.text = v.String()
	default:
		return tender.InvalidParam(tender.CodeParameterInvalid, path, "Invalid amount: send a decimal number such as 50.00.")
	}
	d.set = true
	return nil
}

// minor reads the amount exactly in cur's minor units.
func (d decimal) minor(cur tender.Currency, param string) (int64, error) {
	if !d.set {
		return 0, tender.MissingParam(param)
	}
	return tender.ParseDecimal(d.text, cur, param)
}

type createPaymentParams struct {
	Amount        decimal           `param:"amount"`
	Currency      string            `param:"currency,required"`
	Provider      string            `param:"provider"`
	PaymentMethod string            `param:"payment_method"`
	SavedCardID   string            `param:"saved_card_id"`
	ReturnURL     string            `param:"return_url"`
	Description   string            `param:"description"`
	Metadata      map[string]string `param:"metadata"`
	CaptureMethod string            `param:"capture_method"`
}

// payment renders an intent as seed 001's payment.
func (h *handlers) payment(r *http.Request, pi *tender.PaymentIntent) *tender.SimplePaymentJSON {
	ref := ""
	if pi.LatestCharge != "" {
		if ch, err := h.s.Payments().Charge(r.Context(), api.Tenant(r), pi.LatestCharge, false); err == nil {
			ref = ch.ProviderRef
		}
	}
	return tender.SimplePayment(pi, ref, pi.IdempotencyKey)
}

func (h *handlers) createPayment(w http.ResponseWriter, r *http.Request) error {
	var p createPaymentParams
	if err := api.Decode(r, &p); err != nil {
		return err
	}
	cur, err := tender.ParseCurrency(p.Currency, "currency")
	if err != nil {
		return err
	}
	amount, err := p.Amount.minor(cur, "amount")
	if err != nil {
		return err
	}
	if p.PaymentMethod != "" && p.SavedCardID != "" {
		return tender.InvalidParam(tender.CodeParameterInvalid, "saved_card_id", "Pass payment_method or saved_card_id, not both.")
	}
	cp := engine.CreateIntentParams{Amount: amount, Currency: cur, Provider: p.Provider, PaymentMethod: p.PaymentMethod,
		ReturnURL: p.ReturnURL, Description: p.Description, Metadata: p.Metadata, CaptureMethod: p.CaptureMethod, Confirm: true}
	t := api.Tenant(r)
	eng := h.s.Engine()
	if p.SavedCardID != "" {
		pm, err := eng.PaymentMethod(r.Context(), t, p.SavedCardID)
		if err != nil || pm.Customer == "" {
			return tender.InvalidParam(tender.CodeResourceMissing, "saved_card_id", "No such saved card: '%s'", p.SavedCardID)
		}
		// A saved card is charged without the customer present (seed 001).
		cp.PaymentMethod, cp.Customer, cp.OffSession = pm.ID, pm.Customer, true
		if cp.Provider == "" {
			cp.Provider = pm.Provider
		}
	}
	if cp.PaymentMethod == "" {
		if prov, ok := eng.Providers().Get(cp.Provider); !ok || !prov.Info().NoPaymentMethod {
			return tender.InvalidParam(tender.CodeParameterMissing, "payment_method", "Pass payment_method (a payment method token) or saved_card_id.")
		}
	}
	pi, err := eng.CreatePaymentIntent(r.Context(), h.s.Caller(r), cp)
	if err != nil {
		te, ok := tender.AsError(err)
		if ok && te.PaymentIntent != nil && te.Type == tender.CardError {
			// Declined: the error, and the payment as it stands (failed).
			return h.writeDecline(w, r, te)
		}
		return err
	}
	api.WriteSimple(w, http.StatusOK, h.payment(r, pi))
	return nil
}

func (h *handlers) writeDecline(w http.ResponseWriter, r *http.Request, te *tender.Error) error {
	body := struct {
		Success bool                      `json:"success"`
		Error   map[string]any            `json:"error"`
		Data    *tender.SimplePaymentJSON `json:"data"`
	}{false, map[string]any{"type": te.Type, "code": te.Code, "decline_code": te.DeclineCode, "message": te.Message,
		"param": te.Param, "request_id": api.RequestID(r.Context())}, h.payment(r, te.PaymentIntent)}
	api.WriteJSON(w, api.StatusOf(te), body)
	return nil
}

func (h *handlers) getPayment(w http.ResponseWriter, r *http.Request) error {
	if err := api.Decode(r, &struct{}{}); err != nil {
		return err
	}
	pi, err := h.s.Engine().RetrievePaymentIntent(r.Context(), api.Tenant(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	api.WriteSimple(w, http.StatusOK, h.payment(r, pi))
	return nil
}

type listPaymentsParams struct {
	Provider      string  `param:"provider"`
	Status        string  `param:"status"`
	Currency      string  `param:"currency"`
	MinAmount     decimal `param:"min_amount"`
	MaxAmount     decimal `param:"max_amount"`
	Since         string  `param:"since"`
	Until         string  `param:"until"`
	Limit         *int64  `param:"limit"`
	StartingAfter string  `param:"starting_after"`
	Cursor        string  `param:"cursor"`
}

// statusesFor maps seed 001's status to the intent statuses it covers.
var statusesFor = map[string][]string{
	"completed": {string(tender.StatusSucceeded)},
	"failed":    {string(tender.StatusRequiresPaymentMethod), string(tender.StatusCanceled)},
	"pending": {string(tender.StatusRequiresPaymentMethod), string(tender.StatusRequiresConfirmation), string(tender.StatusRequiresAction),
		string(tender.StatusProcessing), string(tender.StatusRequiresCapture)},
}

func parseTime(s, param string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, tender.InvalidParam(tender.CodeParameterInvalid, param, "Invalid %s: use an RFC 3339 time such as 2025-06-01T00:00:00Z.", param)
	}
	return &t, nil
}

func (h *handlers) listPayments(w http.ResponseWriter, r *http.Request) error {
	var p listPaymentsParams
	if err := api.Decode(r, &p); err != nil {
		return err
	}
	q := tender.ListQuery{Tenant: api.Tenant(r), Limit: 20, Provider: p.Provider, StartingAfter: p.StartingAfter}
	if p.Cursor != "" {
		q.StartingAfter = p.Cursor
	}
	if p.Limit != nil {
		if *p.Limit < 1 || *p.Limit > 100 {
			return tender.InvalidParam(tender.CodeParameterInvalidInt, "limit", "Invalid limit: must be between 1 and 100.")
		}
		q.Limit = int(*p.Limit)
	}
	if p.Status != "" {
		st, ok := statusesFor[p.Status]
		if !ok {
			return tender.InvalidParam(tender.CodeParameterInvalid, "status", "Invalid status: must be completed, pending or failed.")
		}
		q.Statuses = st
	}
	if p.Currency != "" {
		cur, err := tender.ParseCurrency(p.Currency, "currency")
		if err != nil {
			return err
		}
		q.Currency = cur.Code()
		if p.MinAmount.set {
			v, err := p.MinAmount.minor(cur, "min_amount")
			if err != nil {
				return err
			}
			q.AmountGTE = &v
		}
		if p.MaxAmount.set {
			v, err := p.MaxAmount.minor(cur, "max_amount")
			if err != nil {
				return err
			}
			q.AmountLTE = &v
		}
	} else if p.MinAmount.set || p.MaxAmount.set {
		return tender.InvalidParam(tender.CodeParameterMissing, "currency", "min_amount and max_amount need currency, to read the amounts in.")
	}
	var err error
	if q.CreatedGTE, err = parseTime(p.Since, "since"); err != nil {
		return err
	}
	if q.CreatedLTE, err = parseTime(p.Until, "until"); err != nil {
		return err
	}
	page, err := h.s.Payments().ListPaymentIntents(r.Context(), q)
	if err != nil {
		return err
	}
	out := []*tender.SimplePaymentJSON{}
	for _, pi := range page.Data {
		sp := h.payment(r, pi)
		if p.Status != "" && sp.Status != p.Status {
			continue // requires_payment_method is pending before a decline, failed after
		}
		out = append(out, sp)
	}
	var next *string
	if page.HasMore && len(page.Data) > 0 {
		next = &page.Data[len(page.Data)-1].ID
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "data": out, "has_more": page.HasMore, "next_cursor": next})
	return nil
}

// --- refunds

type refundParams struct {
	PaymentID string            `param:"payment_id,required"`
	Amount    decimal           `param:"amount"`
	Reason    string            `param:"reason"`
	Metadata  map[string]string `param:"metadata"`
}

func (h *handlers) createRefund(w http.ResponseWriter, r *http.Request) error {
	var p refundParams
	if err := api.Decode(r, &p); err != nil {
		return err
	}
	pi, err := h.s.Engine().RetrievePaymentIntent(r.Context(), api.Tenant(r), p.PaymentID)
	if err != nil {
		return renameParam(err, "id", "payment_id")
	}
	rp := engine.RefundParams{PaymentIntent: pi.ID, Reason: p.Reason, Metadata: p.Metadata}
	if p.Amount.set {
		v, err := p.Amount.minor(pi.Currency, "amount")
		if err != nil {
			return err
		}
		rp.Amount = &v
	}
	ref, err := h.s.Engine().CreateRefund(r.Context(), h.s.Caller(r), rp)
	if err != nil {
		return renameParam(err, "payment_intent", "payment_id")
	}
	api.WriteSimple(w, http.StatusOK, tender.SimpleRefund(ref))
	return nil
}

// --- provider settings

type providerSettings struct {
	Provider string            `param:"provider,required"`
	Enabled  *bool             `param:"enabled"`
	Priority *int64            `param:"priority"`
	Stripe   map[string]string `param:"stripe"`
	Manual   map[string]string `param:"manual"`
}

func (h *handlers) putProviders(w http.ResponseWriter, r *http.Request) error {
	var p providerSettings
	if err := api.Decode(r, &p); err != nil {
		return err
	}
	up := engine.ProviderConfigParams{Enabled: p.Enabled}
	if p.Priority != nil {
		n := int(*p.Priority)
		up.Priority = &n
	}
	switch p.Provider {
	case "stripe":
		if p.Stripe == nil {
			return tender.MissingParam("stripe")
		}
		up.Credentials = p.Stripe
	case "manual":
		if p.Manual != nil {
			up.Settings = p.Manual
		}
	}
	if p.Provider != "stripe" && p.Stripe != nil {
		return tender.InvalidParam(tender.CodeParameterUnknown, "stripe", "The stripe settings go with provider stripe.")
	}
	cfg, err := h.s.Engine().PutProviderConfig(r.Context(), api.Tenant(r), p.Provider, up)
	if err != nil {
		return renameCredentialParam(err)
	}
	api.MarkCommitted(r)
	api.WriteSimple(w, http.StatusOK, engine.ViewProviderConfig(cfg))
	return nil
}

// renameCredentialParam names parameters as seed 001 sends them (stripe[…]).
func renameCredentialParam(err error) error {
	te, ok := tender.AsError(err)
	if !ok || te.Param == "" {
		return err
	}
	c := *te
	if len(c.Param) > 12 && c.Param[:12] == "credentials[" {
		c.Param = "stripe[" + c.Param[12:]
	} else if len(c.Param) > 9 && c.Param[:9] == "settings[" {
		c.Param = "manual[" + c.Param[9:]
	}
	return &c
}

func (h *handlers) getProviders(w http.ResponseWriter, r *http.Request) error {
	if err := api.Decode(r, &struct{}{}); err != nil {
		return err
	}
	cfgs, err := h.s.Payments().ProviderConfigs(r.Context(), api.Tenant(r))
	if err != nil {
		return err
	}
	out := []*engine.ProviderConfigView{}
	for _, c := range cfgs {
		out = append(out, engine.ViewProviderConfig(c))
	}
	api.WriteSimple(w, http.StatusOK, out)
	return nil
}

// --- saved cards

// cardJSON is seed 001's saved card.
type cardJSON struct {
	ID        string `json:"id"`
	Provider  string `json:"provider"`
	Customer  string `json:"customer"`
	Brand     string `json:"brand"`
	Last4     string `json:"last4"`
	ExpMonth  int    `json:"exp_month"`
	ExpYear   int    `json:"exp_year"`
	IsDefault bool   `json:"is_default"`
	CreatedAt string `json:"created_at"`
}

func viewCard(pm *tender.PaymentMethod, isDefault bool) cardJSON {
	c := cardJSON{ID: pm.ID, Provider: pm.Provider, Customer: pm.Customer, IsDefault: isDefault, CreatedAt: pm.Created.UTC().Format(time.RFC3339)}
	if pm.Card != nil {
		c.Brand, c.Last4, c.ExpMonth, c.ExpYear = pm.Card.Brand, pm.Card.Last4, pm.Card.ExpMonth, pm.Card.ExpYear
	}
	return c
}

type saveCardParams struct {
	PaymentMethodID string `param:"payment_method_id,required"`
	CustomerEmail   string `param:"customer_email"`
	CustomerName    string `param:"customer_name"`
	CustomerID      string `param:"customer_id"`
	Provider        string `param:"provider"`
}

func (h *handlers) saveCard(w http.ResponseWriter, r *http.Request) error {
	var p saveCardParams
	if err := api.Decode(r, &p); err != nil {
		return err
	}
	t := api.Tenant(r)
	c := h.s.Caller(r)
	eng := h.s.Engine()
	ctx := r.Context()
	// The customer: the one named, else the one with this email, else a new one.
	var cus *tender.Customer
	if p.CustomerID != "" {
		var err error
		if cus, err = eng.Customer(ctx, t, p.CustomerID); err != nil || cus.Deleted {
			return tender.InvalidParam(tender.CodeResourceMissing, "customer_id", "No such customer: '%s'", p.CustomerID)
		}
	} else {
		if p.CustomerEmail == "" {
			return tender.MissingParam("customer_email")
		}
		page, err := h.s.Payments().ListCustomers(ctx, tender.ListQuery{Tenant: t, Email: p.CustomerEmail, Limit: 1})
		if err != nil {
			return err
		}
		if len(page.Data) > 0 {
			cus = page.Data[0]
		} else {
			name := p.CustomerName
			cus, err = eng.CreateCustomer(ctx, engine.Caller{Tenant: t, RequestID: c.RequestID, OnCommit: c.OnCommit},
				engine.CustomerParams{Email: &p.CustomerEmail, Name: &name})
			if err != nil {
				return renameParam(err, "email", "customer_email")
			}
		}
	}
	// The payment method: Tender's own id, or a provider's token to import.
	pmID := p.PaymentMethodID
	if !tender.ValidID(pmID, tender.PrefixPaymentMethod) {
		provider := p.Provider
		if provider == "" {
			provider = h.defaultCardProvider(r)
		}
		pm, err := eng.CreatePaymentMethod(ctx, engine.Caller{Tenant: t, RequestID: c.RequestID, OnCommit: c.OnCommit},
			engine.PaymentMethodParams{Type: "card", Provider: provider, Token: pmID})
		if err != nil {
			return renameParam(err, "payment_method", "payment_method_id")
		}
		pmID = pm.ID
	}
	pm, err := eng.AttachPaymentMethod(ctx, c, pmID, cus.ID)
	if err != nil {
		return renameParam(renameParam(err, "id", "payment_method_id"), "customer", "customer_id")
	}
	isDefault := cus.DefaultPaymentMethod == pm.ID
	if cus.DefaultPaymentMethod == "" {
		// The customer's first card is the default (seed 001).
		id := pm.ID
		if _, err := eng.UpdateCustomer(ctx, c, cus.ID, engine.CustomerParams{DefaultPaymentMethod: &id}); err != nil {
			return err
		}
		isDefault = true
	}
	api.WriteSimple(w, http.StatusOK, viewCard(pm, isDefault))
	return nil
}

// defaultCardProvider is where a bare token comes from: Stripe if the
// merchant enabled it, else (test mode) the sandbox.
func (h *handlers) defaultCardProvider(r *http.Request) string {
	cfg, err := h.s.Payments().ProviderConfig(r.Context(), api.Tenant(r), "stripe")
	if err == nil && cfg.Enabled {
		return "stripe"
	}
	if !api.Tenant(r).Livemode {
		return "sandbox"
	}
	return "stripe"
}

func (h *handlers) listCards(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		Limit         *int64 `param:"limit"`
		StartingAfter string `param:"starting_after"`
		CustomerID    string `param:"customer_id"`
	}
	if err := api.Decode(r, &p); err != nil {
		return err
	}
	t := api.Tenant(r)
	q := tender.ListQuery{Tenant: t, Limit: 20, Customer: tender.AnyCustomer, StartingAfter: p.StartingAfter}
	if p.CustomerID != "" {
		q.Customer = p.CustomerID
	}
	if p.Limit != nil {
		if *p.Limit < 1 || *p.Limit > 100 {
			return tender.InvalidParam(tender.CodeParameterInvalidInt, "limit", "Invalid limit: must be between 1 and 100.")
		}
		q.Limit = int(*p.Limit)
	}
	page, err := h.s.Payments().ListPaymentMethods(r.Context(), q)
	if err != nil {
		return err
	}
	defaults := map[string]string{}
	out := []cardJSON{}
	for _, pm := range page.Data {
		def, ok := defaults[pm.Customer]
		if !ok {
			if cus, err := h.s.Payments().Customer(r.Context(), t, pm.Customer, false); err == nil {
				def = cus.DefaultPaymentMethod
			}
			defaults[pm.Customer] = def
		}
		out = append(out, viewCard(pm, def == pm.ID))
	}
	var next *string
	if page.HasMore && len(page.Data) > 0 {
		next = &page.Data[len(page.Data)-1].ID
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "data": out, "has_more": page.HasMore, "next_cursor": next})
	return nil
}

func (h *handlers) deleteCard(w http.ResponseWriter, r *http.Request) error {
	if err := api.Decode(r, &struct{}{}); err != nil {
		return err
	}
	pm, err := h.s.Engine().DetachPaymentMethod(r.Context(), h.s.Caller(r), r.PathValue("id"))
	if err != nil {
		var te *tender.Error
		if errors.As(err, &te) && te.Code == "payment_method_unexpected_state" {
			return tender.NotFound("saved card", r.PathValue("id"))
		}
		return err
	}
	api.WriteSimple(w, http.StatusOK, map[string]any{"id": pm.ID, "deleted": true, "detached": true})
	return nil
}
