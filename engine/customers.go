package engine

import (
	"context"
	"errors"
	"math/big"
	"net/mail"
	"strings"
	"unicode"

	"github.com/tenderhq/tender"
)

// CustomerParams are a customer's fields; nil keeps the current value.
type CustomerParams struct {
	Email                *string
	Name                 *string
	Description          *string
	Phone                *string
	Metadata             map[string]string
	DefaultPaymentMethod *string
	// PaymentMethod attaches a payment method when creating the customer.
	PaymentMethod string
}

func checkCustomerParams(p CustomerParams) error {
	if p.Email != nil && *p.Email != "" {
		if len(*p.Email) > 512 {
			return tender.InvalidParam(tender.CodeParameterInvalid, "email", "email can be at most 512 characters.")
		}
		if a, err := mail.ParseAddress(*p.Email); err != nil || a.Address != *p.Email {
			return tender.InvalidParam("email_invalid", "email", "Invalid email address: %s", truncate(*p.Email, 64))
		}
	}
	for param, v := range map[string]*string{"name": p.Name, "description": p.Description, "phone": p.Phone} {
		if v != nil {
			if err := checkText(*v, param, 350); err != nil {
				return err
			}
		}
	}
	return CheckMetadata(p.Metadata, "metadata")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// CreateCustomer creates a customer (and attaches a payment method, if given).
func (e *Engine) CreateCustomer(ctx context.Context, c Caller, p CustomerParams) (*tender.Customer, error) {
	if c.Resume != "" {
		return e.store.Customer(ctx, c.Tenant, c.Resume, false)
	}
	if err := checkCustomerParams(p); err != nil {
		return nil, err
	}
	cus := &tender.Customer{ID: tender.NewID(tender.PrefixCustomer), MerchantID: c.MerchantID, Livemode: c.Livemode,
		Email: deref(p.Email), Name: deref(p.Name), Description: deref(p.Description), Phone: deref(p.Phone),
		Metadata: dropEmpty(p.Metadata), Created: e.nowUTC()}
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		if err := tx.InsertCustomer(ctx, cus); err != nil {
			return err
		}
		if c.IdempotencyRecord != "" {
			if err := tx.BindIdempotency(ctx, c.Tenant, c.IdempotencyRecord, cus.ID); err != nil {
				return err
			}
		}
		return e.event(ctx, tx, c, tender.EventCustomerCreated, cus.ID, cus.JSON(), nil)
	})
	if err != nil {
		return nil, err
	}
	if p.PaymentMethod != "" {
		if _, err := e.AttachPaymentMethod(ctx, c, p.PaymentMethod, cus.ID); err != nil {
			return nil, err
		}
		if cus, err = e.store.Customer(ctx, c.Tenant, cus.ID, false); err != nil {
			return nil, err
		}
	}
	return cus, nil
}

// Customer returns a customer (a deleted one as its deleted stub).
func (e *Engine) Customer(ctx context.Context, t tender.Tenant, id string) (*tender.Customer, error) {
	cus, err := e.store.Customer(ctx, t, id, false)
	return cus, notFound(err, "customer", id)
}

// UpdateCustomer changes a customer.
func (e *Engine) UpdateCustomer(ctx context.Context, c Caller, id string, p CustomerParams) (*tender.Customer, error) {
	if err := checkCustomerParams(p); err != nil {
		return nil, err
	}
	var cus *tender.Customer
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		var err error
		cus, err = tx.Customer(ctx, c.Tenant, id, true)
		if err != nil || cus.Deleted {
			return notFound(tender.ErrNotFound, "customer", id)
		}
		before := cus.JSON().(*tender.CustomerJSON)
		prev := map[string]any{}
		set := func(field string, dst *string, v *string, old any) {
			if v != nil && *v != *dst {
				prev[field] = old
				*dst = *v
			}
		}
		set("email", &cus.Email, p.Email, before.Email)
		set("name", &cus.Name, p.Name, before.Name)
		set("description", &cus.Description, p.Description, before.Description)
		set("phone", &cus.Phone, p.Phone, before.Phone)
		if p.Metadata != nil {
			merged := MergeMetadata(cus.Metadata, p.Metadata)
			if len(merged) > maxMetadataKeys {
				return tender.InvalidParam(tender.CodeParameterInvalid, "metadata", "Metadata can have at most %d keys.", maxMetadataKeys)
			}
			prev["metadata"], cus.Metadata = before.Metadata, merged
		}
		if p.DefaultPaymentMethod != nil && *p.DefaultPaymentMethod != cus.DefaultPaymentMethod {
			if *p.DefaultPaymentMethod != "" {
				pm, err := tx.PaymentMethod(ctx, c.Tenant, *p.DefaultPaymentMethod, false)
				if err != nil || pm.Customer != cus.ID {
					return tender.InvalidParam(tender.CodeParameterInvalid, "invoice_settings[default_payment_method]",
						"The payment method %s is not attached to this customer.", *p.DefaultPaymentMethod)
				}
			}
			prev["invoice_settings"] = before.InvoiceSettings
			cus.DefaultPaymentMethod = *p.DefaultPaymentMethod
		}
		if len(prev) == 0 {
			return nil
		}
		if err := tx.UpdateCustomer(ctx, cus); err != nil {
			return err
		}
		return e.event(ctx, tx, c, tender.EventCustomerUpdated, cus.ID, cus.JSON(), prev)
	})
	return cus, err
}

// DeleteCustomer deletes a customer; its payment methods are detached.
func (e *Engine) DeleteCustomer(ctx context.Context, c Caller, id string) (*tender.Customer, error) {
	var cus *tender.Customer
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		var err error
		cus, err = tx.Customer(ctx, c.Tenant, id, true)
		if err != nil || cus.Deleted {
			return notFound(tender.ErrNotFound, "customer", id)
		}
		for {
			page, err := tx.ListPaymentMethods(ctx, tender.ListQuery{Tenant: c.Tenant, Customer: cus.ID, Limit: 100})
			if err != nil {
				return err
			}
			for _, pm := range page.Data {
				pm.Customer = ""
				if err := tx.UpdatePaymentMethod(ctx, pm); err != nil {
					return err
				}
				if err := e.event(ctx, tx, c, tender.EventPaymentMethodDetached, pm.ID, pm.JSON(), map[string]any{"customer": cus.ID}); err != nil {
					return err
				}
			}
			if !page.HasMore {
				break
			}
		}
		snapshot := *cus
		cus.Deleted = true
		if err := tx.UpdateCustomer(ctx, cus); err != nil {
			return err
		}
		return e.event(ctx, tx, c, tender.EventCustomerDeleted, cus.ID, snapshot.JSON(), nil)
	})
	return cus, err
}

// RawCard is a card number as a client sent it (test mode, sandbox only).
type RawCard struct {
	Number   string
	ExpMonth int
	ExpYear  int
	CVC      string
}

// PaymentMethodParams create a payment method: from a raw test card, or by
// importing a provider's token (a Stripe pm_… made by Stripe.js).
type PaymentMethodParams struct {
	Type           string
	Card           *RawCard
	Provider       string
	Token          string
	BillingDetails *tender.BillingDetails
	Metadata       map[string]string
}

// CreatePaymentMethod creates a payment method. Raw card numbers are
// accepted only in test mode and only by a provider that tokenizes them
// (the sandbox); the number and CVC are never stored, only the provider's
// token, the card's public details and a fingerprint (a keyed hash: the
// same card has the same fingerprint within a merchant).
func (e *Engine) CreatePaymentMethod(ctx context.Context, c Caller, p PaymentMethodParams) (*tender.PaymentMethod, error) {
	if c.Resume != "" {
		return e.store.PaymentMethod(ctx, c.Tenant, c.Resume, false)
	}
	if p.Type != "card" {
		return nil, tender.InvalidParam(tender.CodeParameterInvalid, "type", "Invalid type: Tender supports payment methods of type card.")
	}
	if err := CheckMetadata(p.Metadata, "metadata"); err != nil {
		return nil, err
	}
	provKey := p.Provider
	if provKey == "" {
		if c.Livemode {
			return nil, tender.MissingParam("provider")
		}
		provKey = "sandbox"
	}
	prov, err := e.provider(provKey)
	if err != nil {
		return nil, err
	}
	if err := e.usable(ctx, c.Tenant, prov, tender.Currency{}, "", true); err != nil && !isCurrencyErr(err) {
		return nil, err
	}
	pm := &tender.PaymentMethod{ID: tender.NewID(tender.PrefixPaymentMethod), MerchantID: c.MerchantID, Livemode: c.Livemode,
		Type: "card", Provider: provKey, BillingDetails: p.BillingDetails, Metadata: dropEmpty(p.Metadata), Created: e.nowUTC()}
	switch {
	case p.Card != nil && p.Token != "":
		return nil, tender.InvalidParam(tender.CodeParameterInvalid, "card", "Pass either card details or a provider token, not both.")
	case p.Card != nil:
		if c.Livemode {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, "card",
				"Raw card numbers are not accepted in live mode. Collect card details with your provider's client-side library (for Stripe, Stripe.js or Elements) and pass the payment method it returns.")
		}
		tok, ok := prov.(tender.Tokenizer)
		if !ok {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, "card",
				"The %s provider does not accept raw card numbers; tokenize the card with its client-side library.", provKey)
		}
		token, card, err := tok.Tokenize(p.Card.Number, p.Card.ExpMonth, p.Card.ExpYear, p.Card.CVC, e.now())
		if err != nil {
			return nil, err
		}
		card.Fingerprint = e.fingerprint(c.MerchantID, p.Card.Number)
		pm.Token, pm.Card = token, card
	case p.Token != "":
		if err := e.describe(ctx, c.Tenant, prov, pm, p.Token); err != nil {
			return nil, err
		}
	default:
		return nil, tender.MissingParam("card")
	}
	err = e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		if err := tx.InsertPaymentMethod(ctx, pm); err != nil {
			return err
		}
		if c.IdempotencyRecord != "" {
			return tx.BindIdempotency(ctx, c.Tenant, c.IdempotencyRecord, pm.ID)
		}
		return nil
	})
	return pm, err
}

func isCurrencyErr(err error) bool {
	te, ok := tender.AsError(err)
	return ok && (te.Code == tender.CodeInvalidCurrency || te.Param == "capture_method")
}

// describe fills pm from a provider's token, which the provider must know.
func (e *Engine) describe(ctx context.Context, t tender.Tenant, prov tender.Provider, pm *tender.PaymentMethod, token string) error {
	saver, ok := prov.(tender.CardSaver)
	if !ok {
		return tender.InvalidParam(tender.CodeParameterInvalid, "provider", "The %s provider does not keep payment methods.", prov.Info().Key)
	}
	call, err := e.callData(ctx, t, pm.Provider, "")
	if err != nil {
		return err
	}
	cctx, cancel := e.withTimeout(ctx)
	defer cancel()
	card, err := saver.DescribePaymentMethod(cctx, &tender.DescribeRequest{ProviderCall: call, PaymentMethod: token})
	if err != nil {
		return err
	}
	pm.Token, pm.Card = token, card
	return nil
}

// fingerprint is a keyed hash of a card number, per merchant.
func (e *Engine) fingerprint(merchantID, number string) string {
	digits := strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return r
		}
		return -1
	}, number)
	mac := e.keyring.MAC("card-fingerprint", []byte(merchantID+"|"+digits))
	s := new(big.Int).SetBytes(mac[:12]).Text(62)
	return s
}

// PaymentMethod returns a payment method.
func (e *Engine) PaymentMethod(ctx context.Context, t tender.Tenant, id string) (*tender.PaymentMethod, error) {
	pm, err := e.store.PaymentMethod(ctx, t, id, false)
	return pm, notFound(err, "payment_method", id)
}

// UpdatePaymentMethodParams change a payment method.
type UpdatePaymentMethodParams struct {
	BillingDetails *tender.BillingDetails
	Metadata       map[string]string
	ExpMonth       *int
	ExpYear        *int
}

// UpdatePaymentMethod changes billing details, metadata or the card's expiry.
func (e *Engine) UpdatePaymentMethod(ctx context.Context, c Caller, id string, p UpdatePaymentMethodParams) (*tender.PaymentMethod, error) {
	if err := CheckMetadata(p.Metadata, "metadata"); err != nil {
		return nil, err
	}
	if p.ExpMonth != nil && (*p.ExpMonth < 1 || *p.ExpMonth > 12) {
		return nil, tender.InvalidParam("invalid_expiry_month", "card[exp_month]", "Your card's expiration month is invalid.")
	}
	if p.ExpYear != nil && (*p.ExpYear < e.now().Year() || *p.ExpYear > e.now().Year()+50) {
		return nil, tender.InvalidParam("invalid_expiry_year", "card[exp_year]", "Your card's expiration year is invalid.")
	}
	var pm *tender.PaymentMethod
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		var err error
		pm, err = tx.PaymentMethod(ctx, c.Tenant, id, true)
		if err != nil {
			return notFound(err, "payment_method", id)
		}
		if p.BillingDetails != nil {
			pm.BillingDetails = p.BillingDetails
		}
		if p.Metadata != nil {
			pm.Metadata = MergeMetadata(pm.Metadata, p.Metadata)
		}
		if pm.Card != nil {
			if p.ExpMonth != nil {
				pm.Card.ExpMonth = *p.ExpMonth
			}
			if p.ExpYear != nil {
				pm.Card.ExpYear = *p.ExpYear
			}
		}
		return tx.UpdatePaymentMethod(ctx, pm)
	})
	return pm, err
}

// AttachPaymentMethod saves a payment method to a customer, at the
// provider too (a Stripe customer is created the first time). The provider
// call happens outside any transaction and carries an idempotency key
// derived from the pair, so a retry after a crash attaches once.
func (e *Engine) AttachPaymentMethod(ctx context.Context, c Caller, pmID, customerID string) (*tender.PaymentMethod, error) {
	if customerID == "" {
		return nil, tender.MissingParam("customer")
	}
	pm, err := e.store.PaymentMethod(ctx, c.Tenant, pmID, false)
	if err != nil {
		return nil, notFound(err, "payment_method", pmID)
	}
	cus, err := e.store.Customer(ctx, c.Tenant, customerID, false)
	if err != nil || cus.Deleted {
		return nil, paramNotFound(tender.ErrNotFound, "customer", "customer", customerID)
	}
	if pm.Customer == cus.ID {
		return pm, nil
	}
	if pm.Customer != "" {
		return nil, tender.InvalidRequest(tender.CodeParameterInvalid,
			"The payment method %s is already attached to a customer; detach it first.", pm.ID)
	}
	var res *tender.AttachResult
	if prov, ok := e.providers.Get(pm.Provider); ok {
		if saver, ok := prov.(tender.CardSaver); ok {
			call, err := e.callData(ctx, c.Tenant, pm.Provider, "tender-attach-"+pm.ID+"-"+cus.ID)
			if err != nil {
				return nil, err
			}
			cctx, cancel := e.withTimeout(ctx)
			res, err = saver.AttachPaymentMethod(cctx, &tender.AttachRequest{ProviderCall: call, Customer: cus.ID,
				CustomerRef: cus.ProviderRefs[pm.Provider], Email: cus.Email, Name: cus.Name, PaymentMethod: pm.Token})
			cancel()
			if err != nil {
				return nil, err
			}
		}
	}
	err = e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		pm, err = tx.PaymentMethod(ctx, c.Tenant, pmID, true)
		if err != nil {
			return err
		}
		cus, err := tx.Customer(ctx, c.Tenant, customerID, true)
		if err != nil {
			return err
		}
		if pm.Customer == cus.ID {
			return nil
		}
		if pm.Customer != "" || cus.Deleted {
			return tender.InvalidRequest(tender.CodeParameterInvalid, "The payment method %s was attached elsewhere meanwhile.", pm.ID)
		}
		pm.Customer = cus.ID
		if res != nil {
			if res.PaymentMethod != "" {
				pm.Token = res.PaymentMethod
			}
			if res.Card != nil && pm.Card == nil {
				pm.Card = res.Card
			}
			if res.CustomerRef != "" && cus.ProviderRefs[pm.Provider] != res.CustomerRef {
				if cus.ProviderRefs == nil {
					cus.ProviderRefs = map[string]string{}
				}
				cus.ProviderRefs[pm.Provider] = res.CustomerRef
				if err := tx.UpdateCustomer(ctx, cus); err != nil {
					return err
				}
			}
		}
		if err := tx.UpdatePaymentMethod(ctx, pm); err != nil {
			return err
		}
		return e.event(ctx, tx, c, tender.EventPaymentMethodAttached, pm.ID, pm.JSON(), map[string]any{"customer": nil})
	})
	return pm, err
}

// DetachPaymentMethod removes a payment method from its customer.
func (e *Engine) DetachPaymentMethod(ctx context.Context, c Caller, pmID string) (*tender.PaymentMethod, error) {
	pm, err := e.store.PaymentMethod(ctx, c.Tenant, pmID, false)
	if err != nil {
		return nil, notFound(err, "payment_method", pmID)
	}
	if pm.Customer == "" {
		return nil, tender.InvalidRequest("payment_method_unexpected_state", "The payment method %s is not attached to a customer.", pm.ID)
	}
	if prov, ok := e.providers.Get(pm.Provider); ok {
		if saver, ok := prov.(tender.CardSaver); ok {
			call, err := e.callData(ctx, c.Tenant, pm.Provider, "tender-detach-"+pm.ID)
			if err != nil {
				return nil, err
			}
			cctx, cancel := e.withTimeout(ctx)
			err = saver.DetachPaymentMethod(cctx, &tender.DetachRequest{ProviderCall: call, PaymentMethod: pm.Token})
			cancel()
			if err != nil && !errors.Is(err, tender.ErrNotFound) {
				return nil, err
			}
		}
	}
	err = e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		pm, err = tx.PaymentMethod(ctx, c.Tenant, pmID, true)
		if err != nil || pm.Customer == "" {
			return err
		}
		old := pm.Customer
		pm.Customer = ""
		if err := tx.UpdatePaymentMethod(ctx, pm); err != nil {
			return err
		}
		if cus, err := tx.Customer(ctx, c.Tenant, old, true); err == nil && cus.DefaultPaymentMethod == pm.ID {
			cus.DefaultPaymentMethod = ""
			if err := tx.UpdateCustomer(ctx, cus); err != nil {
				return err
			}
		}
		return e.event(ctx, tx, c, tender.EventPaymentMethodDetached, pm.ID, pm.JSON(), map[string]any{"customer": old})
	})
	return pm, err
}

// resolver resolves payment_method values: Tender's pm_ ids to their
// provider token, customer and card; anything else is passed to the
// provider as its own token (pm_card_visa, a Stripe pm_…).
type resolver struct{ e *Engine }

func (r resolver) Resolve(ctx context.Context, t tender.Tenant, id string) (*ResolvedMethod, error) {
	if !tender.ValidID(id, tender.PrefixPaymentMethod) {
		return &ResolvedMethod{ID: id, Token: id}, nil
	}
	pm, err := r.e.store.PaymentMethod(ctx, t, id, false)
	if err != nil {
		return nil, paramNotFound(err, "payment_method", "payment_method", id)
	}
	m := &ResolvedMethod{ID: pm.ID, Token: pm.Token, Provider: pm.Provider, Customer: pm.Customer, Card: pm.Card}
	if pm.Customer != "" {
		cus, err := r.e.store.Customer(ctx, t, pm.Customer, false)
		if err == nil {
			m.CustomerRef = cus.ProviderRefs[pm.Provider]
		}
	}
	return m, nil
}

// savePaymentMethod prepares an on-session payment with
// setup_future_usage: the method is made a Tender payment method if it was
// a bare token, and attached to the customer before the charge (Stripe
// refuses to attach a method after it was used without a customer).
func (e *Engine) savePaymentMethod(ctx context.Context, c Caller, pi *tender.PaymentIntent, pmID string) (string, error) {
	// Providers are called next: the request's key must be ours first.
	if err := e.claim(ctx, c); err != nil {
		return "", err
	}
	m, err := e.methods.Resolve(ctx, c.Tenant, pmID)
	if err != nil {
		return "", err
	}
	if m.Customer == pi.Customer {
		return m.ID, nil
	}
	if m.Customer != "" {
		return "", tender.InvalidParam(tender.CodeParameterInvalid, "payment_method", "The payment method %s belongs to another customer.", pmID)
	}
	id := m.ID
	if !tender.ValidID(id, tender.PrefixPaymentMethod) {
		pm, err := e.CreatePaymentMethod(ctx, Caller{Tenant: c.Tenant, RequestID: c.RequestID, OnCommit: c.OnCommit},
			PaymentMethodParams{Type: "card", Provider: pi.Provider, Token: m.Token})
		if err != nil {
			return "", err
		}
		id = pm.ID
	}
	if _, err := e.AttachPaymentMethod(ctx, c, id, pi.Customer); err != nil {
		return "", err
	}
	return id, nil
}
