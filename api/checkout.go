package api

import (
	"net/http"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/engine"
)

type lineItemParams struct {
	Name       string `param:"name"`
	Quantity   *int64 `param:"quantity"`
	UnitAmount *int64 `param:"unit_amount"`
}

type createSessionParams struct {
	LineItems     []lineItemParams  `param:"line_items"`
	Amount        *int64            `param:"amount"`
	Currency      string            `param:"currency,required"`
	SuccessURL    string            `param:"success_url"`
	CancelURL     string            `param:"cancel_url"`
	CustomerEmail string            `param:"customer_email"`
	Metadata      map[string]string `param:"metadata"`
	ExpiresAt     *int64            `param:"expires_at"`
	Mode          string            `param:"mode"`
}

func (s *Server) createCheckoutSession(w http.ResponseWriter, r *http.Request) error {
	var p createSessionParams
	if err := Decode(r, &p); err != nil {
		return err
	}
	if p.Mode != "" && p.Mode != "payment" {
		return tender.InvalidParam(tender.CodeParameterInvalid, "mode", "Tender supports checkout sessions in payment mode.")
	}
	cur, err := tender.ParseCurrency(p.Currency, "currency")
	if err != nil {
		return err
	}
	for _, u := range []struct{ v, param string }{{p.SuccessURL, "success_url"}, {p.CancelURL, "cancel_url"}} {
		if err := checkURL(u.v, u.param); err != nil {
			return err
		}
	}
	sp := engine.SessionParams{Amount: p.Amount, Currency: cur, SuccessURL: p.SuccessURL, CancelURL: p.CancelURL,
		CustomerEmail: p.CustomerEmail, Metadata: p.Metadata}
	for i, li := range p.LineItems {
		item := tender.LineItem{Name: li.Name, Quantity: 1}
		if li.Quantity != nil {
			item.Quantity = *li.Quantity
		}
		if li.UnitAmount == nil {
			return tender.MissingParam("line_items[" + itoa(i) + "][unit_amount]")
		}
		item.UnitAmount = *li.UnitAmount
		sp.LineItems = append(sp.LineItems, item)
	}
	if p.ExpiresAt != nil {
		t := time.Unix(*p.ExpiresAt, 0)
		sp.ExpiresAt = &t
	}
	sess, err := s.engine.CreateCheckoutSession(r.Context(), s.caller(r), sp)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, s.sessionJSON(sess))
	return nil
}

func (s *Server) getCheckoutSession(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct {
		Expand []string `param:"expand"`
	}{}); err != nil {
		return err
	}
	sess, err := s.engine.CheckoutSession(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, s.sessionJSON(sess))
	return nil
}

func (s *Server) expireCheckoutSession(w http.ResponseWriter, r *http.Request) error {
	if err := Decode(r, &struct{}{}); err != nil {
		return err
	}
	sess, err := s.engine.ExpireCheckoutSession(r.Context(), s.caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, s.engine.SessionJSON(sess))
	return nil
}

func (s *Server) listCheckoutSessions(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		listParams
		Status string `param:"status"`
	}
	if err := Decode(r, &p); err != nil {
		return err
	}
	q, err := p.query(authOf(r))
	if err != nil {
		return err
	}
	q.Status = p.Status
	page, err := s.payments.ListCheckoutSessions(r.Context(), q)
	if err != nil {
		return err
	}
	writeList(w, "/v1/checkout/sessions", page, func(cs *tender.CheckoutSession) any { return s.engine.SessionJSON(cs) })
	return nil
}

// sessionJSON renders a session for its merchant: with the client token a
// storefront may act on the order with (not in events).
func (s *Server) sessionJSON(cs *tender.CheckoutSession) *tender.CheckoutSessionJSON {
	j := s.engine.SessionJSON(cs)
	j.ClientToken = cs.ClientToken
	return j
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
