package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tenderhq/tender"
)

// CreateIntentParams are a new payment intent's fields.
type CreateIntentParams struct {
	Amount             int64
	Currency           tender.Currency
	Customer           string
	Description        string
	Metadata           map[string]string
	CaptureMethod      string
	PaymentMethod      string
	PaymentMethodTypes []string
	Provider           string
	ReceiptEmail       string
	SetupFutureUsage   string
	// CheckoutSession links the intent to the order it pays.
	CheckoutSession string
	// Confirm confirms at once with the fields below.
	Confirm    bool
	ReturnURL  string
	OffSession bool
}

// ConfirmParams are what a confirmation may add.
type ConfirmParams struct {
	PaymentMethod    string
	ReturnURL        string
	OffSession       bool
	SetupFutureUsage string
}

// UpdateIntentParams change an intent before it is confirmed; nil = unchanged.
type UpdateIntentParams struct {
	Amount           *int64
	Currency         *tender.Currency
	Customer         *string
	Description      *string
	Metadata         map[string]string // merged; "" deletes a key
	PaymentMethod    *string
	ReceiptEmail     *string
	SetupFutureUsage *string
	CaptureMethod    *string
}

// Metadata limits, as Stripe's.
const (
	maxMetadataKeys   = 50
	maxMetadataKey    = 40
	maxMetadataValue  = 500
	maxDescriptionLen = 1000
)

// CheckMetadata validates metadata against Stripe's limits.
func CheckMetadata(m map[string]string, param string) error {
	if len(m) > maxMetadataKeys {
		return tender.InvalidParam(tender.CodeParameterInvalid, param, "Metadata can have at most %d keys; got %d.", maxMetadataKeys, len(m))
	}
	for k, v := range m {
		p := param + "[" + k + "]"
		if k == "" || utf8.RuneCountInString(k) > maxMetadataKey {
			return tender.InvalidParam(tender.CodeParameterInvalid, p, "Metadata keys must be 1 to %d characters.", maxMetadataKey)
		}
		if utf8.RuneCountInString(v) > maxMetadataValue {
			return tender.InvalidParam(tender.CodeParameterInvalid, p, "Metadata values can be at most %d characters.", maxMetadataValue)
		}
	}
	return nil
}

// MergeMetadata applies an update: a key with an empty value is deleted; an
// empty non-nil update clears everything (Stripe's metadata= ).
func MergeMetadata(old, upd map[string]string) map[string]string {
	if upd == nil {
		return old
	}
	if len(upd) == 0 {
		return nil
	}
	out := make(map[string]string, len(old)+len(upd))
	for k, v := range old {
		out[k] = v
	}
	for k, v := range upd {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func dropEmpty(m map[string]string) map[string]string {
	var out map[string]string
	for k, v := range m {
		if v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func checkText(s, param string, max int) error {
	if utf8.RuneCountInString(s) > max {
		return tender.InvalidParam(tender.CodeParameterInvalid, param, "%s can be at most %d characters.", param, max)
	}
	return nil
}

func checkCaptureMethod(m string) error {
	if m != tender.CaptureAutomatic && m != tender.CaptureManual {
		return tender.InvalidParam(tender.CodeParameterInvalid, "capture_method", "Invalid capture_method: must be one of automatic or manual.")
	}
	return nil
}

func checkSetupFutureUsage(s string) error {
	if s != "" && s != "on_session" && s != "off_session" {
		return tender.InvalidParam(tender.CodeParameterInvalid, "setup_future_usage", "Invalid setup_future_usage: must be one of on_session or off_session.")
	}
	return nil
}

// chooseProvider picks the provider for a new intent: the one asked for,
// else the tenant's highest-priority enabled provider that accepts the
// currency, else (test mode only) the sandbox.
func (e *Engine) chooseProvider(ctx context.Context, t tender.Tenant, asked string, cur tender.Currency, capture string) (tender.Provider, error) {
	if asked != "" {
		p, err := e.provider(asked)
		if err != nil {
			return nil, err
		}
		if err := e.usable(ctx, t, p, cur, capture, true); err != nil {
			return nil, err
		}
		return p, nil
	}
	cfgs, err := e.store.ProviderConfigs(ctx, t)
	if err != nil {
		return nil, err
	}
	for _, cfg := range cfgs {
		p, ok := e.providers.Get(cfg.Provider)
		if !ok || !cfg.Enabled {
			continue
		}
		if e.usable(ctx, t, p, cur, capture, false) == nil {
			return p, nil
		}
	}
	if !t.Livemode {
		if p, ok := e.providers.Get("sandbox"); ok && e.usable(ctx, t, p, cur, capture, false) == nil {
			return p, nil
		}
	}
	mode := "test"
	if t.Livemode {
		mode = "live"
	}
	return nil, tender.InvalidParam(tender.CodeParameterMissing, "provider",
		"No payment provider is enabled in %s mode for %s payments. Enable one with PUT /v1/provider_configs/{provider}.", mode, cur.Code())
}

// usable checks that p may take a payment for the tenant.
func (e *Engine) usable(ctx context.Context, t tender.Tenant, p tender.Provider, cur tender.Currency, capture string, explicit bool) error {
	info := p.Info()
	if t.Livemode && !info.Modes.Live {
		return tender.InvalidParam(tender.CodeParameterInvalid, "provider", "The %s provider is not available in live mode.", info.Key)
	}
	if !t.Livemode && !info.Modes.Test {
		return tender.InvalidParam(tender.CodeParameterInvalid, "provider", "The %s provider is not available in test mode.", info.Key)
	}
	if info.Modes.NeedsConfig && explicit {
		cfg, err := e.store.ProviderConfig(ctx, t, info.Key)
		if err != nil && !errors.Is(err, tender.ErrNotFound) {
			return err
		}
		if cfg == nil || !cfg.Enabled {
			return tender.InvalidParam(tender.CodeParameterInvalid, "provider",
				"The %s provider is not enabled for this account in this mode. Enable it with PUT /v1/provider_configs/%s.", info.Key, info.Key)
		}
	}
	if !info.Capabilities.SupportsCurrency(cur) {
		return tender.InvalidParam(tender.CodeInvalidCurrency, "currency", "The %s provider does not accept %s; it accepts %s.",
			info.Key, cur.Code(), strings.Join(info.Capabilities.SupportedCurrencies, ", "))
	}
	if capture == tender.CaptureManual && !info.Capabilities.SupportsManualCapture {
		return tender.InvalidParam(tender.CodeParameterInvalid, "capture_method", "The %s provider does not support manual capture.", info.Key)
	}
	return nil
}

// CreatePaymentIntent creates an intent, and confirms it if asked.
func (e *Engine) CreatePaymentIntent(ctx context.Context, c Caller, p CreateIntentParams) (*tender.PaymentIntent, error) {
	if c.Resume != "" {
		// A retry of a create whose first attempt was interrupted: carry on
		// with the intent it made instead of making another.
		pi, err := e.store.PaymentIntent(ctx, c.Tenant, c.Resume, false)
		if err != nil {
			return nil, err
		}
		if !p.Confirm {
			return pi, nil
		}
		// Confirm knows whether the interrupted request's attempt is still
		// to finish, ended (its outcome is answered again), or never began.
		return e.ConfirmPaymentIntent(ctx, c, pi.ID, ConfirmParams{PaymentMethod: p.PaymentMethod, ReturnURL: p.ReturnURL, OffSession: p.OffSession, SetupFutureUsage: p.SetupFutureUsage})
	}
	if p.Currency.IsZero() {
		return nil, tender.MissingParam("currency")
	}
	if err := tender.CheckAmount(p.Amount, "amount"); err != nil {
		return nil, err
	}
	if p.CaptureMethod == "" {
		p.CaptureMethod = tender.CaptureAutomatic
	}
	if err := checkCaptureMethod(p.CaptureMethod); err != nil {
		return nil, err
	}
	if err := checkSetupFutureUsage(p.SetupFutureUsage); err != nil {
		return nil, err
	}
	if err := CheckMetadata(p.Metadata, "metadata"); err != nil {
		return nil, err
	}
	if err := checkText(p.Description, "description", maxDescriptionLen); err != nil {
		return nil, err
	}
	for i, t := range p.PaymentMethodTypes {
		if t != "card" {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, "payment_method_types["+itoa(i)+"]", "Tender supports the payment method type card; got %s.", t)
		}
	}
	if p.ReturnURL != "" && !p.Confirm {
		return nil, tender.InvalidParam(tender.CodeParameterInvalid, "return_url", "return_url can only be passed when confirm is true.")
	}
	if p.OffSession && !p.Confirm {
		return nil, tender.InvalidParam(tender.CodeParameterInvalid, "off_session", "off_session can only be passed when confirm is true.")
	}
	prov, err := e.chooseProvider(ctx, c.Tenant, p.Provider, p.Currency, p.CaptureMethod)
	if err != nil {
		return nil, err
	}
	if p.Customer != "" {
		if err := e.checkCustomer(ctx, c.Tenant, p.Customer); err != nil {
			return nil, err
		}
	}
	now := e.nowUTC()
	id := tender.NewID(tender.PrefixPaymentIntent)
	pi := &tender.PaymentIntent{
		ID: id, MerchantID: c.MerchantID, Livemode: c.Livemode, Amount: p.Amount, Currency: p.Currency,
		Status: tender.StatusRequiresPaymentMethod, CaptureMethod: p.CaptureMethod, Customer: p.Customer,
		Description: p.Description, Metadata: dropEmpty(p.Metadata), PaymentMethodTypes: p.PaymentMethodTypes,
		Provider: prov.Info().Key, ReceiptEmail: p.ReceiptEmail, SetupFutureUsage: p.SetupFutureUsage,
		ClientSecret: id + "_secret_" + randomToken(24), Created: now, IdempotencyKey: c.IdempotencyKey,
		CheckoutSession: p.CheckoutSession,
	}
	if len(pi.PaymentMethodTypes) == 0 {
		pi.PaymentMethodTypes = []string{"card"}
	}
	if p.Confirm && p.SetupFutureUsage != "" && p.Customer != "" && p.PaymentMethod != "" {
		// Saving the card for later: attach it to the customer first.
		saved, err := e.savePaymentMethod(ctx, c, pi, p.PaymentMethod)
		if err != nil {
			return nil, err
		}
		p.PaymentMethod = saved
	}
	if p.PaymentMethod != "" {
		m, err := e.resolveMethod(ctx, c.Tenant, pi, p.PaymentMethod)
		if err != nil {
			return nil, err
		}
		pi.PaymentMethod = m.ID
		if err := pi.Transition(tender.StatusRequiresConfirmation); err != nil {
			return nil, err
		}
	}
	// With confirm, the creation and the attempt's first phase are one
	// transaction: one commit fewer on the hottest path.
	var at attempt
	claim := c.pending()
	if claim {
		c.Idem.Record.ResourceID = pi.ID // written with the intent, bound from the start
	}
	err = e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		if err := tx.InsertPaymentIntent(ctx, pi); err != nil {
			return err
		}
		if c.IdempotencyRecord != "" && !claim {
			if err := tx.BindIdempotency(ctx, c.Tenant, c.IdempotencyRecord, pi.ID); err != nil {
				return err
			}
		}
		if err := e.event(ctx, tx, c, tender.EventPaymentIntentCreated, pi.ID, pi.JSON(), nil); err != nil {
			return err
		}
		if !p.Confirm {
			return nil
		}
		at, err = e.beginConfirm(ctx, tx, c, pi, ConfirmParams{ReturnURL: p.ReturnURL, OffSession: p.OffSession, SetupFutureUsage: p.SetupFutureUsage})
		return err
	})
	if err != nil {
		return nil, err
	}
	if p.Confirm {
		return e.finishConfirm(ctx, c, pi, at)
	}
	return pi, nil
}

// checkCustomer checks that a customer exists for the tenant.
func (e *Engine) checkCustomer(ctx context.Context, t tender.Tenant, id string) error {
	cus, err := e.store.Customer(ctx, t, id, false)
	if errors.Is(err, tender.ErrNotFound) || (err == nil && cus.Deleted) {
		return paramNotFound(tender.ErrNotFound, "customer", "customer", id)
	}
	return err
}

// resolveMethod checks a payment method can be used on pi.
func (e *Engine) resolveMethod(ctx context.Context, t tender.Tenant, pi *tender.PaymentIntent, pm string) (*ResolvedMethod, error) {
	m, err := e.methods.Resolve(ctx, t, pm)
	if err != nil {
		return nil, err
	}
	if m.Provider != "" && m.Provider != pi.Provider {
		return nil, tender.InvalidParam(tender.CodeParameterInvalid, "payment_method",
			"The payment method %s belongs to the %s provider and cannot be used with this PaymentIntent's provider (%s).", pm, m.Provider, pi.Provider)
	}
	return m, nil
}

// RetrievePaymentIntent returns one intent.
func (e *Engine) RetrievePaymentIntent(ctx context.Context, t tender.Tenant, id string) (*tender.PaymentIntent, error) {
	pi, err := e.store.PaymentIntent(ctx, t, id, false)
	return pi, notFound(err, "payment_intent", id)
}

// UpdatePaymentIntent changes an intent that is not processing or final.
func (e *Engine) UpdatePaymentIntent(ctx context.Context, c Caller, id string, p UpdateIntentParams) (*tender.PaymentIntent, error) {
	if p.Amount != nil {
		if err := tender.CheckAmount(*p.Amount, "amount"); err != nil {
			return nil, err
		}
	}
	if err := CheckMetadata(p.Metadata, "metadata"); err != nil {
		return nil, err
	}
	if p.Description != nil {
		if err := checkText(*p.Description, "description", maxDescriptionLen); err != nil {
			return nil, err
		}
	}
	if p.CaptureMethod != nil {
		if err := checkCaptureMethod(*p.CaptureMethod); err != nil {
			return nil, err
		}
	}
	if p.SetupFutureUsage != nil {
		if err := checkSetupFutureUsage(*p.SetupFutureUsage); err != nil {
			return nil, err
		}
	}
	if p.Customer != nil && *p.Customer != "" {
		if err := e.checkCustomer(ctx, c.Tenant, *p.Customer); err != nil {
			return nil, err
		}
	}
	var out *tender.PaymentIntent
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		pi, err := tx.PaymentIntent(ctx, c.Tenant, id, true)
		if err != nil {
			return notFound(err, "payment_intent", id)
		}
		switch pi.Status {
		case tender.StatusRequiresPaymentMethod, tender.StatusRequiresConfirmation, tender.StatusRequiresAction:
		default:
			// Like Stripe: descriptive fields change at any time; what
			// the payment is made of does not once it is under way.
			for param, set := range map[string]bool{"amount": p.Amount != nil, "currency": p.Currency != nil,
				"customer": p.Customer != nil, "payment_method": p.PaymentMethod != nil,
				"setup_future_usage": p.SetupFutureUsage != nil, "capture_method": p.CaptureMethod != nil} {
				if set {
					e := tender.UnexpectedState(pi, "update "+param+" on")
					e.Param = param
					return e
				}
			}
		}
		before := pi.JSON()
		prev := map[string]any{}
		if p.Amount != nil && *p.Amount != pi.Amount {
			prev["amount"], pi.Amount = pi.Amount, *p.Amount
		}
		if p.Currency != nil && *p.Currency != pi.Currency {
			prov, _ := e.providers.Get(pi.Provider)
			if prov != nil && !prov.Info().Capabilities.SupportsCurrency(*p.Currency) {
				return tender.InvalidParam(tender.CodeInvalidCurrency, "currency", "The %s provider does not accept %s.", pi.Provider, p.Currency.Code())
			}
			prev["currency"], pi.Currency = pi.Currency.Code(), *p.Currency
		}
		if p.Customer != nil && *p.Customer != pi.Customer {
			prev["customer"], pi.Customer = before.Customer, *p.Customer
		}
		if p.Description != nil && *p.Description != pi.Description {
			prev["description"], pi.Description = before.Description, *p.Description
		}
		if p.ReceiptEmail != nil && *p.ReceiptEmail != pi.ReceiptEmail {
			prev["receipt_email"], pi.ReceiptEmail = before.ReceiptEmail, *p.ReceiptEmail
		}
		if p.SetupFutureUsage != nil && *p.SetupFutureUsage != pi.SetupFutureUsage {
			prev["setup_future_usage"], pi.SetupFutureUsage = before.SetupFutureUsage, *p.SetupFutureUsage
		}
		if p.CaptureMethod != nil && *p.CaptureMethod != pi.CaptureMethod {
			prov, _ := e.providers.Get(pi.Provider)
			if *p.CaptureMethod == tender.CaptureManual && prov != nil && !prov.Info().Capabilities.SupportsManualCapture {
				return tender.InvalidParam(tender.CodeParameterInvalid, "capture_method", "The %s provider does not support manual capture.", pi.Provider)
			}
			prev["capture_method"], pi.CaptureMethod = pi.CaptureMethod, *p.CaptureMethod
		}
		if p.Metadata != nil {
			merged := MergeMetadata(pi.Metadata, p.Metadata)
			if len(merged) > maxMetadataKeys {
				return tender.InvalidParam(tender.CodeParameterInvalid, "metadata", "Metadata can have at most %d keys.", maxMetadataKeys)
			}
			prev["metadata"], pi.Metadata = before.Metadata, merged
		}
		if p.PaymentMethod != nil && *p.PaymentMethod != pi.PaymentMethod {
			prev["payment_method"] = before.PaymentMethod
			if *p.PaymentMethod == "" {
				pi.PaymentMethod = ""
				if pi.Status == tender.StatusRequiresConfirmation {
					if err := pi.Transition(tender.StatusRequiresPaymentMethod); err != nil {
						return err
					}
				}
			} else {
				m, err := e.resolveMethod(ctx, c.Tenant, pi, *p.PaymentMethod)
				if err != nil {
					return err
				}
				pi.PaymentMethod = m.ID
				if pi.Status == tender.StatusRequiresPaymentMethod {
					if err := pi.Transition(tender.StatusRequiresConfirmation); err != nil {
						return err
					}
				}
			}
			if before.Status != string(pi.Status) {
				prev["status"] = before.Status
			}
		}
		out = pi
		if len(prev) == 0 {
			return nil
		}
		// Stripe has no payment_intent.updated event; neither does Tender.
		return tx.UpdatePaymentIntent(ctx, pi)
	})
	return out, err
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

var cancelableStatuses = []tender.PaymentIntentStatus{tender.StatusRequiresPaymentMethod, tender.StatusRequiresConfirmation,
	tender.StatusRequiresAction, tender.StatusRequiresCapture}

func cancelable(s tender.PaymentIntentStatus) bool { return slices.Contains(cancelableStatuses, s) }
