package api

import (
	"net/http"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/engine"
)

type invoiceSettings struct {
	DefaultPaymentMethod *string `param:"default_payment_method"`
}

type customerParams struct {
	Email           *string           `param:"email"`
	Name            *string           `param:"name"`
	Description     *string           `param:"description"`
	Phone           *string           `param:"phone"`
	Metadata        map[string]string `param:"metadata"`
	PaymentMethod   string            `param:"payment_method"`
	InvoiceSettings *invoiceSettings  `param:"invoice_settings"`
	Expand          []string          `param:"expand"`
}

func (p *customerParams) engine() engine.CustomerParams {
	ep := engine.CustomerParams{Email: p.Email, Name: p.Name, Description: p.Description, Phone: p.Phone,
		Metadata: p.Metadata, PaymentMethod: p.PaymentMethod}
	if p.InvoiceSettings != nil {
		ep.DefaultPaymentMethod = p.InvoiceSettings.DefaultPaymentMethod
	}
	return ep
}

func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) error {
	var p customerParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	if len(p.Expand) > 0 {
		return tender.InvalidParam(tender.CodeParameterInvalid, "expand", "Customers have no expandable fields.")
	}
	ep := p.engine()
	if ep.DefaultPaymentMethod != nil {
		return tender.InvalidParam(tender.CodeParameterInvalid, "invoice_settings[default_payment_method]", "Set the default payment method after attaching it.")
	}
	cus, err := s.engine.CreateCustomer(r.Context(), s.caller(r), ep)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, cus.JSON())
	return nil
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct {
		Expand []string `param:"expand"`
	}{}); err != nil {
		return err
	}
	cus, err := s.engine.Customer(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, cus.JSON())
	return nil
}

func (s *Server) updateCustomer(w http.ResponseWriter, r *http.Request) error {
	var p customerParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	if p.PaymentMethod != "" {
		return tender.InvalidParam(tender.CodeParameterUnknown, "payment_method", "Attach payment methods with POST /v1/payment_methods/{id}/attach.")
	}
	cus, err := s.engine.UpdateCustomer(r.Context(), s.caller(r), r.PathValue("id"), p.engine())
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, cus.JSON())
	return nil
}

func (s *Server) deleteCustomer(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct{}{}); err != nil {
		return err
	}
	cus, err := s.engine.DeleteCustomer(r.Context(), s.caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, cus.JSON())
	return nil
}

type listCustomerParams struct {
	listParams
	Email string `param:"email"`
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) error {
	var p listCustomerParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	if len(p.Expand) > 0 {
		return tender.InvalidParam(tender.CodeParameterInvalid, "expand", "Customers have no expandable fields.")
	}
	q, err := p.query(authOf(r))
	if err != nil {
		return err
	}
	q.Email = p.Email
	page, err := s.payments.ListCustomers(r.Context(), q)
	if err != nil {
		return err
	}
	writeList(w, "/v1/customers", page, func(c *tender.Customer) any { return c.JSON() })
	return nil
}

// --- payment methods

type cardParams struct {
	Number   string `param:"number"`
	ExpMonth *int64 `param:"exp_month"`
	ExpYear  *int64 `param:"exp_year"`
	CVC      string `param:"cvc"`
	// Token imports a provider's payment method (a Stripe pm_… from Stripe.js).
	Token string `param:"token"`
}

type billingParams struct {
	Name    *string         `param:"name"`
	Email   *string         `param:"email"`
	Phone   *string         `param:"phone"`
	Address *tender.Address `param:"address"`
}

func (b *billingParams) details() *tender.BillingDetails {
	if b == nil {
		return nil
	}
	d := &tender.BillingDetails{Address: b.Address}
	if b.Name != nil {
		d.Name = *b.Name
	}
	if b.Email != nil {
		d.Email = *b.Email
	}
	if b.Phone != nil {
		d.Phone = *b.Phone
	}
	return d
}

type createPaymentMethodParams struct {
	Type           string            `param:"type,required"`
	Card           *cardParams       `param:"card"`
	BillingDetails *billingParams    `param:"billing_details"`
	Metadata       map[string]string `param:"metadata"`
	Provider       string            `param:"provider"`
	Expand         []string          `param:"expand"`
}

func (s *Server) createPaymentMethod(w http.ResponseWriter, r *http.Request) error {
	var p createPaymentMethodParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	ep := engine.PaymentMethodParams{Type: p.Type, Provider: p.Provider, BillingDetails: p.BillingDetails.details(), Metadata: p.Metadata}
	if p.Card != nil {
		if p.Card.Token != "" {
			if p.Card.Number != "" {
				return tender.InvalidParam(tender.CodeParameterInvalid, "card[token]", "Pass either card[token] or card[number], not both.")
			}
			ep.Token = p.Card.Token
		} else {
			if p.Card.Number == "" {
				return tender.MissingParam("card[number]")
			}
			if p.Card.ExpMonth == nil {
				return tender.MissingParam("card[exp_month]")
			}
			if p.Card.ExpYear == nil {
				return tender.MissingParam("card[exp_year]")
			}
			ep.Card = &engine.RawCard{Number: p.Card.Number, ExpMonth: int(*p.Card.ExpMonth), ExpYear: int(*p.Card.ExpYear), CVC: p.Card.CVC}
		}
	}
	pm, err := s.engine.CreatePaymentMethod(r.Context(), s.caller(r), ep)
	if err != nil {
		return err
	}
	return s.writePaymentMethod(w, r, pm, p.Expand)
}

func (s *Server) writePaymentMethod(w http.ResponseWriter, r *http.Request, pm *tender.PaymentMethod, expand []string) error {
	obj, err := s.expand(r, pm.JSON(), expand, paymentMethodExpansions)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, obj)
	return nil
}

func (s *Server) getPaymentMethod(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		Expand []string `param:"expand"`
	}
	if err := Decode(r, &p); err != nil {
		return err
	}
	pm, err := s.engine.PaymentMethod(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writePaymentMethod(w, r, pm, p.Expand)
}

type updatePaymentMethodParams struct {
	BillingDetails *billingParams    `param:"billing_details"`
	Metadata       map[string]string `param:"metadata"`
	Card           *struct {
		ExpMonth *int64 `param:"exp_month"`
		ExpYear  *int64 `param:"exp_year"`
	} `param:"card"`
	Expand []string `param:"expand"`
}

func (s *Server) updatePaymentMethod(w http.ResponseWriter, r *http.Request) error {
	var p updatePaymentMethodParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	up := engine.UpdatePaymentMethodParams{BillingDetails: p.BillingDetails.details(), Metadata: p.Metadata}
	if p.Card != nil {
		if p.Card.ExpMonth != nil {
			m := int(*p.Card.ExpMonth)
			up.ExpMonth = &m
		}
		if p.Card.ExpYear != nil {
			y := int(*p.Card.ExpYear)
			up.ExpYear = &y
		}
	}
	pm, err := s.engine.UpdatePaymentMethod(r.Context(), s.caller(r), r.PathValue("id"), up)
	if err != nil {
		return err
	}
	return s.writePaymentMethod(w, r, pm, p.Expand)
}

func (s *Server) attachPaymentMethod(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		Customer string   `param:"customer,required"`
		Expand   []string `param:"expand"`
	}
	if err := Decode(r, &p); err != nil {
		return err
	}
	pm, err := s.engine.AttachPaymentMethod(r.Context(), s.caller(r), r.PathValue("id"), p.Customer)
	if err != nil {
		return err
	}
	return s.writePaymentMethod(w, r, pm, p.Expand)
}

func (s *Server) detachPaymentMethod(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		Expand []string `param:"expand"`
	}
	if err := Decode(r, &p); err != nil {
		return err
	}
	pm, err := s.engine.DetachPaymentMethod(r.Context(), s.caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writePaymentMethod(w, r, pm, p.Expand)
}

type listPaymentMethodParams struct {
	listParams
	Customer string `param:"customer"`
	Type     string `param:"type"`
}

func (s *Server) listPaymentMethods(w http.ResponseWriter, r *http.Request) error {
	var p listPaymentMethodParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	if id := r.PathValue("id"); id != "" {
		p.Customer = id
		if _, err := s.engine.Customer(r.Context(), tenantOf(r), id); err != nil {
			return err
		}
	}
	if p.Customer == "" {
		return tender.MissingParam("customer")
	}
	if p.Type != "" && p.Type != "card" {
		return tender.InvalidParam(tender.CodeParameterInvalid, "type", "Invalid type: Tender supports payment methods of type card.")
	}
	q, err := p.query(authOf(r))
	if err != nil {
		return err
	}
	q.Customer = p.Customer
	page, err := s.payments.ListPaymentMethods(r.Context(), q)
	if err != nil {
		return err
	}
	url := "/v1/payment_methods"
	if id := r.PathValue("id"); id != "" {
		url = "/v1/customers/" + id + "/payment_methods"
	}
	return s.writeExpandedList(w, r, url, page.HasMore, len(page.Data), func(i int) any { return page.Data[i].JSON() }, p.Expand, paymentMethodExpansions)
}

func expandCustomer(s *Server, r *http.Request, id string) (any, error) {
	cus, err := s.payments.Customer(r.Context(), tenantOf(r), id, false)
	if err != nil {
		return nil, err
	}
	return cus.JSON(), nil
}

func expandPaymentMethod(s *Server, r *http.Request, id string) (any, error) {
	if !tender.ValidID(id, tender.PrefixPaymentMethod) {
		return nil, tender.ErrNotFound // a provider's token: nothing to expand to
	}
	pm, err := s.payments.PaymentMethod(r.Context(), tenantOf(r), id, false)
	if err != nil {
		return nil, err
	}
	return pm.JSON(), nil
}

var paymentMethodExpansions = map[string]expansion{"customer": expandCustomer}

func init() {
	intentExpansions["customer"] = expandCustomer
	intentExpansions["payment_method"] = expandPaymentMethod
	chargeExpansions["customer"] = expandCustomer
}
