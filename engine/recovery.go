package engine

import (
	"context"
	"errors"
	"time"

	"github.com/tenderhq/tender"
)

// ApplyProviderEvent applies news a provider sent on its own (a webhook, an
// asynchronous settlement, the end of a 3-D Secure challenge). It is
// idempotent and only moves objects forward: a duplicate or an older event
// changes nothing. An event about an object Tender does not know is
// ignored (reported as found=false), never an error.
func (e *Engine) ApplyProviderEvent(ctx context.Context, ev tender.ProviderEvent) (found bool, err error) {
	t := tender.Tenant{MerchantID: ev.MerchantID, Livemode: ev.Livemode}
	c := Caller{Tenant: t} // provider-made changes carry no request
	if ev.Refund != nil {
		r, err := e.store.RefundByProviderRef(ctx, t, ev.Provider, ev.Reference, false)
		if errors.Is(err, tender.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		_, err = e.settleRefund(ctx, c, r.ID, ev.Refund, nil)
		return true, err
	}
	if ev.Payment == nil {
		return false, nil
	}
	ch, err := e.store.ChargeByProviderRef(ctx, t, ev.Provider, ev.Reference, false)
	if errors.Is(err, tender.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, e.applyProviderPayment(ctx, c, ch, ev.Payment)
}

// applyProviderPayment applies a payment's status as the provider reports
// it, whatever Tender's attempt state.
func (e *Engine) applyProviderPayment(ctx context.Context, c Caller, ch *tender.Charge, res *tender.ProviderResult) error {
	return e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		ch, err := tx.Charge(ctx, c.Tenant, ch.ID, true)
		if err != nil {
			return err
		}
		pi, err := tx.PaymentIntent(ctx, c.Tenant, ch.PaymentIntent, true)
		if err != nil {
			return err
		}
		switch ch.Attempt {
		case tender.AttemptAuthorizing, tender.AttemptAwaitAction, tender.AttemptAsync:
			_, err := e.applyResult(ctx, tx, c, pi, ch, res, nil)
			return err
		case tender.AttemptNone:
			// An authorized hold captured at the provider (say, from its
			// dashboard): record the capture.
			if res.Status == tender.ProviderSucceeded && ch.Status == tender.ChargeSucceeded && !ch.Captured && pi.Status == tender.StatusRequiresCapture {
				ch.Attempt, ch.CaptureAmount = tender.AttemptCapturing, pi.AmountCapturable
				if res.AmountCaptured > 0 {
					ch.CaptureAmount = res.AmountCaptured
				}
				if err := pi.Transition(tender.StatusProcessing); err != nil {
					return err
				}
				return e.captureSettledIn(ctx, tx, c, pi, ch, res)
			}
			if res.Status == tender.ProviderCanceled && cancelable(pi.Status) {
				return e.markCanceled(ctx, tx, c, pi, nil, "")
			}
		case tender.AttemptCapturing:
			if res.Status == tender.ProviderSucceeded {
				return e.captureSettledIn(ctx, tx, c, pi, ch, res)
			}
		case tender.AttemptCanceling:
			if res.Status == tender.ProviderCanceled {
				wasHold := ch.Status == tender.ChargeSucceeded
				ch.Attempt = tender.AttemptNone
				if wasHold {
					ch.AmountRefunded = ch.Amount
				} else {
					ch.Status = tender.ChargeFailed
				}
				return e.markCanceled(ctx, tx, c, pi, ch, ch.CancelReason)
			}
		}
		return nil
	})
}

// captureSettledIn records a successful capture inside tx.
func (e *Engine) captureSettledIn(ctx context.Context, tx tender.PaymentTx, c Caller, pi *tender.PaymentIntent, ch *tender.Charge, res *tender.ProviderResult) error {
	ch.Attempt, ch.AttemptAt, ch.Captured = tender.AttemptNone, e.nowUTC(), true
	ch.AmountCaptured = ch.CaptureAmount
	if res.AmountCaptured > 0 {
		ch.AmountCaptured = res.AmountCaptured
	}
	if err := pi.Transition(tender.StatusSucceeded); err != nil {
		return err
	}
	pi.AmountReceived, pi.AmountCapturable, pi.NextAction = ch.AmountCaptured, 0, nil
	if err := tx.UpdateCharge(ctx, ch); err != nil {
		return err
	}
	if err := tx.UpdatePaymentIntent(ctx, pi); err != nil {
		return err
	}
	if err := e.event(ctx, tx, c, tender.EventChargeCaptured, ch.ID, ch.JSON(), nil); err != nil {
		return err
	}
	if err := e.event(ctx, tx, c, tender.EventPaymentIntentSucceeded, pi.ID, pi.JSON(), nil); err != nil {
		return err
	}
	return e.followSession(ctx, tx, c, pi)
}

// RecoveryStats counts what one recovery pass did.
type RecoveryStats struct {
	Charges, Refunds  int
	IdempotencyPurged int64
	Errors            int
}

// idempotencyTTL is how long Idempotency-Keys are kept (Stripe: 24 hours).
const idempotencyTTL = 24 * time.Hour

// Recover settles attempts left in flight (by a crash, a timeout, a lost
// webhook): authorizations are asked after by their idempotency key,
// captures and cancellations are repeated with the same key (the provider
// answers with the first outcome), asynchronous payments are polled. It
// also forgets Idempotency-Keys older than 24 hours. Several instances may
// run it at once: each claims different rows.
func (e *Engine) Recover(ctx context.Context) RecoveryStats {
	var st RecoveryStats
	now := e.nowUTC()
	olderThan := now.Add(-e.recover)
	charges, err := e.store.StaleCharges(ctx, []string{tender.AttemptAuthorizing, tender.AttemptCapturing, tender.AttemptCanceling, tender.AttemptAsync}, olderThan, now, 100)
	if err != nil {
		e.log.Error("recovery: claim charges", "error", err)
		st.Errors++
	}
	for _, ch := range charges {
		if err := e.recoverCharge(ctx, ch); err != nil {
			e.log.Warn("recovery: charge not settled yet", "charge", ch.ID, "attempt", ch.Attempt, "tries", ch.AttemptTries, "error", err)
			st.Errors++
			continue
		}
		st.Charges++
	}
	refunds, err := e.store.StaleRefunds(ctx, olderThan, now, 100)
	if err != nil {
		e.log.Error("recovery: claim refunds", "error", err)
		st.Errors++
	}
	for _, r := range refunds {
		if err := e.recoverRefund(ctx, r); err != nil {
			e.log.Warn("recovery: refund not settled yet", "refund", r.ID, "error", err)
			st.Errors++
			continue
		}
		st.Refunds++
	}
	if expired, err := e.store.ExpiredSessions(ctx, now, 100); err != nil {
		e.log.Error("recovery: list expired sessions", "error", err)
		st.Errors++
	} else {
		for _, s := range expired {
			if _, err := e.ExpireCheckoutSession(ctx, Caller{Tenant: tender.Tenant{MerchantID: s.MerchantID, Livemode: s.Livemode}}, s.ID); err != nil {
				if te, ok := tender.AsError(err); !ok || te.Code != "checkout_session_unexpected_state" {
					e.log.Warn("recovery: expire session", "session", s.ID, "error", err)
				}
			}
		}
	}
	if n, err := e.store.PurgeIdempotency(ctx, now.Add(-idempotencyTTL)); err != nil {
		e.log.Error("recovery: purge idempotency keys", "error", err)
		st.Errors++
	} else {
		st.IdempotencyPurged = n
	}
	return st
}

func (e *Engine) recoverCharge(ctx context.Context, ch *tender.Charge) error {
	c := Caller{Tenant: tender.Tenant{MerchantID: ch.MerchantID, Livemode: ch.Livemode}}
	switch ch.Attempt {
	case tender.AttemptAuthorizing, tender.AttemptAsync:
		prov, err := e.provider(ch.Provider)
		if err != nil {
			return err
		}
		call, err := e.callData(ctx, c.Tenant, ch.Provider, authorizeKey(ch.ID))
		if err != nil {
			return err
		}
		cctx, cancel := e.withTimeout(ctx)
		res, err := prov.Retrieve(cctx, &tender.RetrieveRequest{ProviderCall: call, Reference: ch.ProviderRef})
		cancel()
		if errors.Is(err, tender.ErrNotFound) && ch.Attempt == tender.AttemptAuthorizing {
			// The provider never saw the attempt: it failed, and the
			// customer may try again.
			e.log.Info("recovery: provider never received the attempt; failing it", "charge", ch.ID)
			res = &tender.ProviderResult{Status: tender.ProviderFailed, Error: &tender.ProviderError{Code: tender.CodeProcessingError,
				Message: "The payment could not be completed with the provider. No money was taken; please try again."}}
		} else if err != nil {
			return err
		}
		e.log.Info("recovery: settling attempt", "charge", ch.ID, "attempt", ch.Attempt, "status", res.Status)
		return e.applyProviderPayment(ctx, c, ch, res)
	case tender.AttemptCapturing:
		res, err := e.capture(ctx, ch)
		if _, definite := isDefinite(err); err != nil && !definite {
			return err
		}
		_, err = e.settleCapture(ctx, c, ch.ID, res, err)
		if _, definite := isDefinite(err); definite {
			return nil
		}
		return err
	case tender.AttemptCanceling:
		res, err := e.cancel(ctx, ch)
		if _, definite := isDefinite(err); err != nil && !definite {
			return err
		}
		_, err = e.settleCancel(ctx, c, ch.ID, res, err)
		if _, definite := isDefinite(err); definite {
			return nil
		}
		return err
	}
	return nil
}

func (e *Engine) recoverRefund(ctx context.Context, r *tender.Refund) error {
	c := Caller{Tenant: tender.Tenant{MerchantID: r.MerchantID, Livemode: r.Livemode}}
	prov, err := e.provider(r.Provider)
	if err != nil {
		return err
	}
	call, err := e.callData(ctx, c.Tenant, r.Provider, refundKey(r.ID))
	if err != nil {
		return err
	}
	cctx, cancel := e.withTimeout(ctx)
	res, err := prov.RetrieveRefund(cctx, &tender.RetrieveRequest{ProviderCall: call, Reference: r.ProviderRef})
	cancel()
	if errors.Is(err, tender.ErrNotFound) {
		// Never received: make the call now, with the same key.
		res, err = e.refund(ctx, r)
	}
	if _, definite := isDefinite(err); err != nil && !definite {
		return err
	}
	_, err = e.settleRefund(ctx, c, r.ID, res, err)
	if _, definite := isDefinite(err); definite {
		return nil
	}
	return err
}

// Run recovers every interval until ctx ends.
func (e *Engine) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st := e.Recover(ctx)
			if st.Charges+st.Refunds > 0 || st.IdempotencyPurged > 0 {
				e.log.Info("recovery pass", "charges", st.Charges, "refunds", st.Refunds, "idempotency_keys_purged", st.IdempotencyPurged, "errors", st.Errors)
			}
		}
	}
}
