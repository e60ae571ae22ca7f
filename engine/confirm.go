package engine

import (
	"context"
	"errors"

	"github.com/tenderhq/tender"
)

// ConfirmPaymentIntent confirms an intent: it charges (or, with manual
// capture, authorizes) its payment method through its provider.
func (e *Engine) ConfirmPaymentIntent(ctx context.Context, c Caller, id string, p ConfirmParams) (*tender.PaymentIntent, error) {
	if err := checkSetupFutureUsage(p.SetupFutureUsage); err != nil {
		return nil, err
	}
	if !c.Resuming {
		// Saving the card for later: attach it to the customer first.
		pre, err := e.store.PaymentIntent(ctx, c.Tenant, id, false)
		if err != nil {
			return nil, notFound(err, "payment_intent", id)
		}
		pm := pre.PaymentMethod
		if p.PaymentMethod != "" {
			pm = p.PaymentMethod
		}
		sfu := pre.SetupFutureUsage != "" || p.SetupFutureUsage != ""
		if sfu && pre.Customer != "" && pm != "" && (pre.Status == tender.StatusRequiresPaymentMethod || pre.Status == tender.StatusRequiresConfirmation) {
			saved, err := e.savePaymentMethod(ctx, c, pre, pm)
			if err != nil {
				return nil, err
			}
			p.PaymentMethod = saved
		}
	}
	// Phase 1: record the attempt.
	var pi *tender.PaymentIntent
	var at attempt
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		var err error
		pi, err = tx.PaymentIntent(ctx, c.Tenant, id, true)
		if err != nil {
			return notFound(err, "payment_intent", id)
		}
		at, err = e.beginConfirm(ctx, tx, c, pi, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return e.finishConfirm(ctx, c, pi, at)
}

// attempt is a confirmation's phase 1, for phases 2 and 3 to carry on.
type attempt struct {
	ch     *tender.Charge  // nil: nothing to do at the provider
	method *ResolvedMethod // nil when resuming an interrupted attempt
	replay error           // the answer of an interrupted attempt that ended
}

// beginConfirm records a confirmation's attempt on pi, locked in tx: a
// pending charge, and pi processing (phase 1). A retry of the same
// idempotent request resumes its own attempt instead.
func (e *Engine) beginConfirm(ctx context.Context, tx tender.PaymentTx, c Caller, pi *tender.PaymentIntent, p ConfirmParams) (attempt, error) {
	var at attempt
	if mine, ok, err := e.resumed(ctx, tx, c, pi); err != nil {
		return at, err
	} else if ok {
		// The same idempotent request, interrupted: finish its attempt if
		// it is still in flight, else answer as it ended.
		if mine.Attempt == tender.AttemptAuthorizing {
			at.ch = mine
			return at, nil
		}
		if lpe := pi.LastPaymentError; mine.Status == tender.ChargeFailed && lpe != nil && lpe.Charge == mine.ID {
			at.replay = &tender.Error{Type: lpe.Type, Code: lpe.Code, DeclineCode: lpe.DeclineCode, Message: lpe.Message,
				Param: "payment_method", PaymentIntent: pi}
		}
		return at, nil
	}
	if pi.Status != tender.StatusRequiresPaymentMethod && pi.Status != tender.StatusRequiresConfirmation {
		return at, tender.UnexpectedState(pi, "confirm")
	}
	pm := pi.PaymentMethod
	if p.PaymentMethod != "" {
		pm = p.PaymentMethod
	}
	prov, err := e.provider(pi.Provider)
	if err != nil {
		return at, err
	}
	var method *ResolvedMethod
	switch {
	case pm == "" && prov.Info().NoPaymentMethod:
		method = &ResolvedMethod{}
	case pm == "":
		return at, &tender.Error{Type: tender.InvalidRequestError, Code: tender.CodeParameterMissing, Param: "payment_method",
			Message: "You cannot confirm this PaymentIntent because it's missing a payment method. Pass payment_method or update the PaymentIntent with one first."}
	default:
		if method, err = e.resolveMethod(ctx, c.Tenant, pi, pm); err != nil {
			return at, err
		}
	}
	if p.ReturnURL != "" {
		pi.ReturnURL = p.ReturnURL
	}
	if p.SetupFutureUsage != "" {
		pi.SetupFutureUsage = p.SetupFutureUsage
	}
	if method.Customer != "" && pi.Customer != "" && method.Customer != pi.Customer {
		return at, tender.InvalidParam(tender.CodeParameterInvalid, "payment_method", "The payment method %s belongs to another customer.", method.ID)
	}
	if method.Customer != "" && pi.Customer == "" {
		pi.Customer = method.Customer
	}
	if p.OffSession && (pi.Customer == "" || method.Customer != pi.Customer) {
		return at, tender.InvalidParam(tender.CodeParameterInvalid, "off_session",
			"Off-session payments need a customer and a payment method saved to that customer.")
	}
	pi.PaymentMethod = method.ID
	now := e.nowUTC()
	ch := &tender.Charge{
		ID: tender.NewID(tender.PrefixCharge), MerchantID: c.MerchantID, Livemode: c.Livemode,
		PaymentIntent: pi.ID, Amount: pi.Amount, Currency: pi.Currency, Status: tender.ChargePending,
		Customer: pi.Customer, Description: pi.Description, Metadata: pi.Metadata, PaymentMethod: method.ID,
		Card: method.Card, Provider: pi.Provider, Created: now, Attempt: tender.AttemptAuthorizing, AttemptAt: now,
		Request:    c.IdempotencyRecord,
		OffSession: p.OffSession, SaveMethod: pi.SetupFutureUsage != "" && pi.Customer != "",
	}
	if err := pi.Transition(tender.StatusProcessing); err != nil {
		return at, err
	}
	pi.LatestCharge = ch.ID
	pi.LastPaymentError = nil
	pi.NextAction = nil
	if err := tx.InsertCharge(ctx, ch); err != nil {
		return at, err
	}
	if err := tx.UpdatePaymentIntent(ctx, pi); err != nil {
		return at, err
	}
	at.ch, at.method = ch, method
	return at, nil
}

// finishConfirm asks the provider (phase 2) and records its answer (phase 3).
func (e *Engine) finishConfirm(ctx context.Context, c Caller, pi *tender.PaymentIntent, at attempt) (*tender.PaymentIntent, error) {
	if at.ch == nil {
		return pi, at.replay
	}
	method := at.method
	if method == nil {
		// Resuming an interrupted attempt: resolve its method again.
		method = &ResolvedMethod{}
		if at.ch.PaymentMethod != "" {
			var err error
			if method, err = e.methods.Resolve(ctx, c.Tenant, at.ch.PaymentMethod); err != nil {
				return nil, err
			}
		}
	}
	res, callErr := e.authorize(ctx, pi, at.ch, method)
	e.fault("after-authorize")
	return e.settleCharge(ctx, c, at.ch.ID, res, callErr)
}

// authorize makes the provider call of an authorize attempt.
func (e *Engine) authorize(ctx context.Context, pi *tender.PaymentIntent, ch *tender.Charge, method *ResolvedMethod) (*tender.ProviderResult, error) {
	prov, err := e.provider(ch.Provider)
	if err != nil {
		return nil, err
	}
	call, err := e.callData(ctx, tender.Tenant{MerchantID: ch.MerchantID, Livemode: ch.Livemode}, ch.Provider, authorizeKey(ch.ID))
	if err != nil {
		return nil, err
	}
	cctx, cancel := e.withTimeout(ctx)
	defer cancel()
	return prov.Authorize(cctx, &tender.AuthorizeRequest{
		ProviderCall: call, PaymentIntent: pi.ID, Charge: ch.ID, Amount: ch.Amount, Currency: ch.Currency,
		PaymentMethod: method.Token, Customer: method.CustomerRef, Capture: pi.CaptureMethod == tender.CaptureAutomatic,
		OffSession: ch.OffSession, SaveMethod: ch.SaveMethod, ClientSide: ch.ClientSide, ReturnURL: pi.ReturnURL,
		Description: pi.Description, Metadata: pi.Metadata,
	})
}

// StartClientPayment starts an intent's payment for the provider's browser
// library (Stripe.js confirms it with the provider directly; the provider's
// webhook tells Tender the outcome). The intent waits in requires_action,
// and its charge holds the provider's client secret. Asking again returns
// the same attempt.
func (e *Engine) StartClientPayment(ctx context.Context, c Caller, id string) (*tender.PaymentIntent, *tender.Charge, error) {
	var pi *tender.PaymentIntent
	var ch *tender.Charge
	existing := false
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		var err error
		pi, err = tx.PaymentIntent(ctx, c.Tenant, id, true)
		if err != nil {
			return notFound(err, "payment_intent", id)
		}
		if pi.LatestCharge != "" {
			last, err := tx.Charge(ctx, c.Tenant, pi.LatestCharge, false)
			if err != nil {
				return err
			}
			if last.ClientSide && (last.Attempt == tender.AttemptAwaitAction || last.Attempt == tender.AttemptAuthorizing) {
				ch, existing = last, true
				return nil
			}
		}
		if pi.Status != tender.StatusRequiresPaymentMethod && pi.Status != tender.StatusRequiresConfirmation {
			return tender.UnexpectedState(pi, "start a client-side payment for")
		}
		now := e.nowUTC()
		ch = &tender.Charge{
			ID: tender.NewID(tender.PrefixCharge), MerchantID: c.MerchantID, Livemode: c.Livemode,
			PaymentIntent: pi.ID, Amount: pi.Amount, Currency: pi.Currency, Status: tender.ChargePending,
			Customer: pi.Customer, Description: pi.Description, Metadata: pi.Metadata, Provider: pi.Provider,
			Created: now, Attempt: tender.AttemptAuthorizing, AttemptAt: now, ClientSide: true, Request: c.IdempotencyRecord,
		}
		if err := pi.Transition(tender.StatusProcessing); err != nil {
			return err
		}
		pi.LatestCharge, pi.LastPaymentError, pi.NextAction = ch.ID, nil, nil
		if err := tx.InsertCharge(ctx, ch); err != nil {
			return err
		}
		return tx.UpdatePaymentIntent(ctx, pi)
	})
	if err != nil {
		return nil, nil, err
	}
	if existing && ch.Attempt == tender.AttemptAwaitAction {
		return pi, ch, nil
	}
	res, callErr := e.authorize(ctx, pi, ch, &ResolvedMethod{})
	pi, err = e.settleCharge(ctx, c, ch.ID, res, callErr)
	if err != nil {
		return pi, nil, err
	}
	ch, err = e.store.Charge(ctx, c.Tenant, ch.ID, false)
	return pi, ch, err
}

// settleCharge records a provider's answer to an attempt (phase 3). callErr
// that is not a *tender.Error means the answer is unknown (timeout, reset):
// the attempt stays in flight for recovery, and the intent is returned as
// processing. It is also how provider events and recovery apply outcomes.
func (e *Engine) settleCharge(ctx context.Context, c Caller, chargeID string, res *tender.ProviderResult, callErr error) (*tender.PaymentIntent, error) {
	if callErr != nil {
		if _, definite := isDefinite(callErr); !definite {
			e.log.Warn("provider outcome unknown; recovery will settle it", "charge", chargeID, "error", callErr)
			pi, err := e.intentOfCharge(ctx, c.Tenant, chargeID)
			if err != nil {
				return nil, err
			}
			return pi, nil
		}
	}
	var pi *tender.PaymentIntent
	var clientErr error
	var answer []byte
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		ch, err := tx.Charge(ctx, c.Tenant, chargeID, true)
		if err != nil {
			return err
		}
		pi, err = tx.PaymentIntent(ctx, c.Tenant, ch.PaymentIntent, true)
		if err != nil {
			return err
		}
		clientErr, err = e.applyResult(ctx, tx, c, pi, ch, res, callErr)
		if err != nil || clientErr != nil {
			return err
		}
		answer, err = respond(ctx, tx, c, pi)
		return err
	})
	if err != nil {
		return nil, err
	}
	if answer != nil {
		c.Idem.body = answer
	}
	if clientErr != nil {
		return pi, clientErr
	}
	return pi, nil
}

func (e *Engine) intentOfCharge(ctx context.Context, t tender.Tenant, chargeID string) (*tender.PaymentIntent, error) {
	ch, err := e.store.Charge(ctx, t, chargeID, false)
	if err != nil {
		return nil, err
	}
	return e.store.PaymentIntent(ctx, t, ch.PaymentIntent, false)
}

// applyResult moves a charge and its intent forward to what the provider
// said, writing the events; it returns the error the client should see (a
// decline) separately from a failure to write. A result that would move
// backwards (an old webhook after a newer outcome) changes nothing.
func (e *Engine) applyResult(ctx context.Context, tx tender.PaymentTx, c Caller, pi *tender.PaymentIntent, ch *tender.Charge, res *tender.ProviderResult, callErr error) (error, error) {
	if callErr != nil {
		te, _ := isDefinite(callErr)
		// The provider refused the request itself (an unknown payment method,
		// say): a failed attempt with the provider's reason.
		res = &tender.ProviderResult{Status: tender.ProviderFailed, Error: &tender.ProviderError{Code: te.Code, DeclineCode: te.DeclineCode, Message: te.Message}}
		if te.Type != tender.CardError && te.Code == "" {
			res.Error.Code = tender.CodeProcessingError
		}
	}
	switch ch.Attempt {
	case tender.AttemptAuthorizing, tender.AttemptAwaitAction, tender.AttemptAsync:
	default:
		// Already settled (by another request, a webhook or recovery).
		return nil, nil
	}
	now := e.nowUTC()
	if res.Reference != "" {
		ch.ProviderRef = res.Reference
	}
	if res.Card != nil {
		ch.Card = res.Card
	}
	if res.ClientSecret != "" {
		ch.ProviderClientSecret = res.ClientSecret
	}
	ch.AttemptAt = now
	var events []func() error
	emit := func(typ string, obj func() any, id string) {
		events = append(events, func() error { return e.event(ctx, tx, c, typ, id, obj(), nil) })
	}
	chargeJSON := func() any { return ch.JSON() }
	intentJSON := func() any { return pi.JSON() }
	var clientErr error

	switch res.Status {
	case tender.ProviderSucceeded:
		ch.Status, ch.Captured, ch.Attempt = tender.ChargeSucceeded, true, tender.AttemptNone
		ch.AmountCaptured = ch.Amount
		if res.AmountCaptured > 0 {
			ch.AmountCaptured = res.AmountCaptured
		}
		if err := pi.Transition(tender.StatusSucceeded); err != nil {
			return nil, err
		}
		pi.AmountReceived, pi.AmountCapturable, pi.NextAction = ch.AmountCaptured, 0, nil
		emit(tender.EventChargeSucceeded, chargeJSON, ch.ID)
		emit(tender.EventPaymentIntentSucceeded, intentJSON, pi.ID)
	case tender.ProviderRequiresCapture:
		ch.Status, ch.Captured, ch.Attempt = tender.ChargeSucceeded, false, tender.AttemptNone
		if err := pi.Transition(tender.StatusRequiresCapture); err != nil {
			return nil, err
		}
		pi.AmountCapturable = ch.Amount
		if res.AmountCapturable > 0 {
			pi.AmountCapturable = res.AmountCapturable
		}
		pi.NextAction = res.NextAction
		emit(tender.EventChargeSucceeded, chargeJSON, ch.ID)
		emit(tender.EventPaymentIntentCapturableUpdated, intentJSON, pi.ID)
	case tender.ProviderRequiresAction:
		if ch.Attempt == tender.AttemptAwaitAction && pi.Status == tender.StatusRequiresAction {
			return nil, nil // the same challenge again
		}
		ch.Attempt = tender.AttemptAwaitAction
		if err := pi.Transition(tender.StatusRequiresAction); err != nil {
			return nil, err
		}
		pi.NextAction = res.NextAction
		emit(tender.EventPaymentIntentRequiresAction, intentJSON, pi.ID)
	case tender.ProviderProcessing:
		if ch.Attempt == tender.AttemptAsync {
			return nil, nil // still processing
		}
		ch.Attempt = tender.AttemptAsync
		if err := pi.Transition(tender.StatusProcessing); err != nil {
			return nil, err
		}
		pi.NextAction = nil
		emit(tender.EventChargePending, chargeJSON, ch.ID)
		emit(tender.EventPaymentIntentProcessing, intentJSON, pi.ID)
	case tender.ProviderFailed, tender.ProviderCanceled:
		pe := res.Error
		if pe == nil {
			pe = &tender.ProviderError{Code: tender.CodeProcessingError, Message: "The payment failed."}
		}
		ch.Status, ch.Attempt = tender.ChargeFailed, tender.AttemptNone
		ch.FailureCode, ch.FailureMessage, ch.DeclineCode = pe.Code, pe.Message, pe.DeclineCode
		if err := pi.Transition(tender.StatusRequiresPaymentMethod); err != nil {
			return nil, err
		}
		pi.LastPaymentError = &tender.PaymentError{Type: tender.CardError, Code: pe.Code, DeclineCode: pe.DeclineCode,
			Message: pe.Message, Charge: ch.ID, PaymentMethod: pi.PaymentMethod}
		pi.PaymentMethod, pi.NextAction, pi.AmountCapturable = "", nil, 0
		emit(tender.EventChargeFailed, chargeJSON, ch.ID)
		emit(tender.EventPaymentIntentPaymentFailed, intentJSON, pi.ID)
		clientErr = &tender.Error{Type: tender.CardError, Code: pe.Code, DeclineCode: pe.DeclineCode, Message: pe.Message,
			Param: "payment_method", PaymentIntent: pi}
		if te, ok := isDefinite(callErr); ok && te.Type != tender.CardError {
			pi.LastPaymentError.Type = te.Type
			clientErr = &tender.Error{Type: te.Type, Code: te.Code, Param: te.Param, Message: te.Message, PaymentIntent: pi}
		}
	default:
		return nil, errors.New("provider returned an unknown status: " + string(res.Status))
	}
	if err := tx.UpdateCharge(ctx, ch); err != nil {
		return nil, err
	}
	if err := tx.UpdatePaymentIntent(ctx, pi); err != nil {
		return nil, err
	}
	for _, ev := range events {
		if err := ev(); err != nil {
			return nil, err
		}
	}
	if err := e.followSession(ctx, tx, c, pi); err != nil {
		return nil, err
	}
	return clientErr, nil
}

// resumed finds the attempt a request with the same idempotency key
// started on pi's latest charge before it was interrupted (ok=false when
// this is not a retry, or the latest attempt is someone else's). The charge
// is locked for the rest of tx.
func (e *Engine) resumed(ctx context.Context, tx tender.PaymentTx, c Caller, pi *tender.PaymentIntent) (*tender.Charge, bool, error) {
	if !c.Resuming || c.IdempotencyRecord == "" || pi.LatestCharge == "" {
		return nil, false, nil
	}
	ch, err := tx.Charge(ctx, c.Tenant, pi.LatestCharge, true)
	if err != nil {
		return nil, false, err
	}
	return ch, ch.Request == c.IdempotencyRecord, nil
}
