package engine

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/tenderhq/tender"
)

// SessionParams are a new checkout session's fields: line items or a bare
// amount, in one currency.
type SessionParams struct {
	LineItems     []tender.LineItem
	Amount        *int64
	Currency      tender.Currency
	SuccessURL    string
	CancelURL     string
	CustomerEmail string
	Metadata      map[string]string
	ExpiresAt     *time.Time
}

// Session lifetimes, as Stripe's: between 30 minutes and 24 hours.
const (
	minSessionLife = 30 * time.Minute
	maxSessionLife = 24 * time.Hour
)

// CheckoutURL is where a session's hosted checkout page is.
func (e *Engine) CheckoutURL(id string) string { return e.publicURL + "/checkout/" + id }

// SessionJSON renders a session with its page's URL.
func (e *Engine) SessionJSON(s *tender.CheckoutSession) *tender.CheckoutSessionJSON {
	return s.JSON(e.CheckoutURL(s.ID))
}

// CreateCheckoutSession creates an order to be paid on the hosted page.
func (e *Engine) CreateCheckoutSession(ctx context.Context, c Caller, p SessionParams) (*tender.CheckoutSession, error) {
	if c.Resume != "" {
		return e.store.CheckoutSession(ctx, c.Tenant, c.Resume, false)
	}
	if p.Currency.IsZero() {
		return nil, tender.MissingParam("currency")
	}
	if (len(p.LineItems) > 0) == (p.Amount != nil) {
		return nil, tender.InvalidParam(tender.CodeParameterMissing, "line_items", "Pass either line_items or amount.")
	}
	if len(p.LineItems) > 100 {
		return nil, tender.InvalidParam(tender.CodeParameterInvalid, "line_items", "A session can have at most 100 line items.")
	}
	var total int64
	for i, li := range p.LineItems {
		param := "line_items[" + itoa(i) + "]"
		if li.Name == "" || len(li.Name) > 250 {
			return nil, tender.InvalidParam(tender.CodeParameterMissing, param+"[name]", "Each line item needs a name of at most 250 characters.")
		}
		if li.Quantity < 1 || li.Quantity > 10000 {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, param+"[quantity]", "quantity must be between 1 and 10000.")
		}
		if li.UnitAmount < 0 || li.UnitAmount > tender.MaxAmount {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, param+"[unit_amount]", "unit_amount must be between 0 and %d.", tender.MaxAmount)
		}
		total += li.Quantity * li.UnitAmount
		if total > tender.MaxAmount {
			return nil, tender.InvalidParam(tender.CodeAmountTooLarge, "line_items", "The order's total is above the maximum amount (%d).", tender.MaxAmount)
		}
	}
	if p.Amount != nil {
		total = *p.Amount
	}
	if err := tender.CheckAmount(total, "amount"); err != nil {
		return nil, err
	}
	if p.SuccessURL == "" {
		return nil, tender.MissingParam("success_url")
	}
	if err := CheckMetadata(p.Metadata, "metadata"); err != nil {
		return nil, err
	}
	now := e.nowUTC()
	expires := now.Add(maxSessionLife)
	if p.ExpiresAt != nil {
		if d := p.ExpiresAt.Sub(now); d < minSessionLife-time.Minute || d > maxSessionLife+time.Minute {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, "expires_at", "expires_at must be between 30 minutes and 24 hours from now.")
		}
		expires = p.ExpiresAt.UTC()
	}
	s := &tender.CheckoutSession{ID: tender.NewID(tender.PrefixCheckout), MerchantID: c.MerchantID, Livemode: c.Livemode,
		Status: tender.SessionOpen, PaymentStatus: tender.SessionUnpaid, Currency: p.Currency, AmountTotal: total,
		LineItems: p.LineItems, SuccessURL: p.SuccessURL, CancelURL: p.CancelURL, CustomerEmail: p.CustomerEmail,
		Metadata: dropEmpty(p.Metadata), ClientToken: "cst_" + randomToken(32), ExpiresAt: expires, Created: now}
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		if err := tx.InsertCheckoutSession(ctx, s); err != nil {
			return err
		}
		if c.IdempotencyRecord != "" {
			return tx.BindIdempotency(ctx, c.Tenant, c.IdempotencyRecord, s.ID)
		}
		return nil
	})
	return s, err
}

// CheckoutSession returns a session, expiring it first if its time is up.
func (e *Engine) CheckoutSession(ctx context.Context, t tender.Tenant, id string) (*tender.CheckoutSession, error) {
	s, err := e.store.CheckoutSession(ctx, t, id, false)
	if err != nil {
		return nil, notFound(err, "checkout.session", id)
	}
	if s.Status == tender.SessionOpen && !e.now().Before(s.ExpiresAt) {
		return e.ExpireCheckoutSession(ctx, Caller{Tenant: t}, id)
	}
	return s, nil
}

// SessionByToken finds a session by id for a storefront holding its
// client token; a wrong token is the same 404 as a missing session.
func (e *Engine) SessionByToken(ctx context.Context, id, token string) (*tender.CheckoutSession, error) {
	s, err := e.store.CheckoutSessionByID(ctx, id)
	if err != nil || subtle.ConstantTimeCompare([]byte(s.ClientToken), []byte(token)) != 1 {
		return nil, tender.NotFound("checkout.session", id)
	}
	return e.CheckoutSession(ctx, tender.Tenant{MerchantID: s.MerchantID, Livemode: s.Livemode}, id)
}

// ExpireCheckoutSession expires an open session and cancels its intent.
func (e *Engine) ExpireCheckoutSession(ctx context.Context, c Caller, id string) (*tender.CheckoutSession, error) {
	var s *tender.CheckoutSession
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		var err error
		s, err = tx.CheckoutSession(ctx, c.Tenant, id, true)
		if err != nil {
			return notFound(err, "checkout.session", id)
		}
		if s.Status != tender.SessionOpen {
			return tender.InvalidRequest("checkout_session_unexpected_state", "This checkout session is %s; only open sessions can expire.", s.Status)
		}
		s.Status = tender.SessionExpired
		if err := tx.UpdateCheckoutSession(ctx, s); err != nil {
			return err
		}
		return e.event(ctx, tx, c, tender.EventCheckoutSessionExpired, s.ID, e.SessionJSON(s), nil)
	})
	if err != nil {
		return nil, err
	}
	if s.PaymentIntent != "" {
		if _, err := e.CancelPaymentIntent(ctx, Caller{Tenant: c.Tenant, RequestID: c.RequestID}, s.PaymentIntent, "abandoned"); err != nil {
			if te, ok := tender.AsError(err); !ok || te.Code != tender.CodeUnexpectedState {
				e.log.Warn("expire session: cancel its intent", "session", s.ID, "intent", s.PaymentIntent, "error", err)
			}
		}
	}
	return s, nil
}

// StoreOptions lists a store's payment options, by priority: its enabled
// providers, and the sandbox last in test mode.
func (e *Engine) StoreOptions(ctx context.Context, t tender.Tenant) ([]tender.ProviderInfo, []int, error) {
	cfgs, err := e.store.ProviderConfigs(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	var infos []tender.ProviderInfo
	var prios []int
	for _, cfg := range cfgs {
		p, ok := e.providers.Get(cfg.Provider)
		if !ok || !cfg.Enabled {
			continue
		}
		info := p.Info()
		if (t.Livemode && !info.Modes.Live) || (!t.Livemode && !info.Modes.Test) {
			continue
		}
		infos, prios = append(infos, info), append(prios, cfg.Priority)
	}
	if !t.Livemode {
		if p, ok := e.providers.Get("sandbox"); ok {
			last := 0
			for _, pr := range prios {
				last = max(last, pr+10)
			}
			infos, prios = append(infos, p.Info()), append(prios, last)
		}
	}
	return infos, prios, nil
}

// SessionIntent is seed 000's create-intent: the payment intent that pays
// an order through a provider. Asking again with the same provider returns
// the same intent; another provider cancels the previous one. The manual
// provider's intent is confirmed at once (there is nothing to collect): the
// order is placed and awaits the check.
func (e *Engine) SessionIntent(ctx context.Context, c Caller, id, provider string) (*tender.CheckoutSession, *tender.PaymentIntent, error) {
	s, err := e.CheckoutSession(ctx, c.Tenant, id)
	if err != nil {
		return nil, nil, err
	}
	if provider == "" {
		opts, _, err := e.StoreOptions(ctx, c.Tenant)
		if err != nil {
			return nil, nil, err
		}
		for _, o := range opts {
			if o.Capabilities.SupportsCurrency(s.Currency) {
				provider = o.Key
				break
			}
		}
		if provider == "" {
			return nil, nil, tender.InvalidParam(tender.CodeParameterMissing, "provider", "This store has no payment option for %s.", s.Currency.Code())
		}
	}
	if s.PaymentIntent != "" {
		pi, err := e.store.PaymentIntent(ctx, c.Tenant, s.PaymentIntent, false)
		if err != nil {
			return nil, nil, err
		}
		if pi.Provider == provider && pi.Status != tender.StatusCanceled {
			return s, pi, nil
		}
		if s.Status != tender.SessionOpen {
			return nil, nil, tender.InvalidRequest("checkout_session_unexpected_state", "This order is %s; it cannot change provider.", s.Status)
		}
		if cancelable(pi.Status) {
			if _, err := e.CancelPaymentIntent(ctx, c, pi.ID, "abandoned"); err != nil {
				return nil, nil, err
			}
		} else if pi.Status != tender.StatusCanceled {
			return nil, nil, tender.InvalidRequest("checkout_session_unexpected_state",
				"This order's payment is %s; it cannot change provider now.", pi.Status)
		}
	}
	if s.Status != tender.SessionOpen {
		return nil, nil, tender.InvalidRequest("checkout_session_unexpected_state", "This order is %s.", s.Status)
	}
	prov, err := e.provider(provider)
	if err != nil {
		return nil, nil, err
	}
	cp := CreateIntentParams{Amount: s.AmountTotal, Currency: s.Currency, Provider: provider, Description: "Order " + s.ID,
		Metadata: map[string]string{"checkout_session": s.ID}, CheckoutSession: s.ID, ReceiptEmail: s.CustomerEmail}
	pi, err := e.CreatePaymentIntent(ctx, Caller{Tenant: c.Tenant, RequestID: c.RequestID, OnCommit: c.OnCommit}, cp)
	if err != nil {
		return nil, nil, err
	}
	prev := s.PaymentIntent
	err = e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		cur, err := tx.CheckoutSession(ctx, c.Tenant, s.ID, true)
		if err != nil {
			return err
		}
		if cur.PaymentIntent != prev {
			return errSessionRace
		}
		cur.PaymentIntent = pi.ID
		return tx.UpdateCheckoutSession(ctx, cur)
	})
	if errors.Is(err, errSessionRace) {
		// Another request chose an intent first: use it, drop ours.
		e.CancelPaymentIntent(ctx, Caller{Tenant: c.Tenant}, pi.ID, "duplicate")
		return e.SessionIntent(ctx, c, id, provider)
	}
	if err != nil {
		return nil, nil, err
	}
	if prov.Info().NoPaymentMethod {
		// Nothing to collect in the browser: place the order now.
		if _, err := e.ConfirmPaymentIntent(ctx, Caller{Tenant: c.Tenant, RequestID: c.RequestID, OnCommit: c.OnCommit}, pi.ID, ConfirmParams{}); err != nil {
			return nil, nil, err
		}
	}
	// Confirmation may have completed the order.
	s, err = e.store.CheckoutSession(ctx, c.Tenant, s.ID, false)
	if err != nil {
		return nil, nil, err
	}
	pi, err = e.store.PaymentIntent(ctx, c.Tenant, pi.ID, false)
	return s, pi, err
}

var errSessionRace = errors.New("checkout session changed meanwhile")

// followSession keeps a checkout session in step with the intent paying it:
// called in the transaction that changed the intent.
func (e *Engine) followSession(ctx context.Context, tx tender.PaymentTx, c Caller, pi *tender.PaymentIntent) error {
	if pi.CheckoutSession == "" {
		return nil
	}
	s, err := tx.CheckoutSession(ctx, c.Tenant, pi.CheckoutSession, true)
	if errors.Is(err, tender.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if s.PaymentIntent != "" && s.PaymentIntent != pi.ID {
		return nil // an abandoned intent of this order
	}
	event := ""
	switch {
	case pi.Status == tender.StatusSucceeded && s.PaymentStatus != tender.SessionPaid:
		if s.Status == tender.SessionComplete {
			event = tender.EventCheckoutSessionAsyncSucceeded
		} else {
			event = tender.EventCheckoutSessionCompleted
		}
		s.Status, s.PaymentStatus = tender.SessionComplete, tender.SessionPaid
	case pi.Status == tender.StatusRequiresCapture && s.Status == tender.SessionOpen:
		// The order is placed; the money comes later (a check, a capture).
		s.Status, s.PaymentStatus = tender.SessionComplete, tender.SessionAwaitingPayment
		event = tender.EventCheckoutSessionCompleted
	default:
		return nil
	}
	s.PaymentIntent = pi.ID
	if err := tx.UpdateCheckoutSession(ctx, s); err != nil {
		return err
	}
	return e.event(ctx, tx, c, event, s.ID, e.SessionJSON(s), nil)
}
