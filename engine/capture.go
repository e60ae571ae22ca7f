package engine

import (
	"context"

	"github.com/tenderhq/tender"
)

// CapturePaymentIntent captures amountToCapture (default: all) of an
// authorized intent; the rest of the hold is released.
func (e *Engine) CapturePaymentIntent(ctx context.Context, c Caller, id string, amountToCapture *int64) (*tender.PaymentIntent, error) {
	var pi *tender.PaymentIntent
	var ch *tender.Charge
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		var err error
		pi, err = tx.PaymentIntent(ctx, c.Tenant, id, true)
		if err != nil {
			return notFound(err, "payment_intent", id)
		}
		if mine, ok, err := e.resumed(ctx, tx, c, pi); err != nil {
			return err
		} else if ok && (mine.Attempt == tender.AttemptCapturing || mine.Captured) {
			// A retry of this capture: finish it, or answer as it ended.
			if mine.Attempt == tender.AttemptCapturing {
				ch = mine
			}
			return nil
		}
		if pi.Status != tender.StatusRequiresCapture {
			return tender.UnexpectedState(pi, "capture")
		}
		amount := pi.AmountCapturable
		if amountToCapture != nil {
			amount = *amountToCapture
			if amount <= 0 {
				return tender.InvalidParam(tender.CodeAmountTooSmall, "amount_to_capture", "amount_to_capture must be positive.")
			}
			if amount > pi.AmountCapturable {
				return tender.InvalidParam(tender.CodeAmountTooLarge, "amount_to_capture",
					"amount_to_capture (%d) must be less than or equal to amount_capturable (%d).", amount, pi.AmountCapturable)
			}
		}
		ch, err = tx.Charge(ctx, c.Tenant, pi.LatestCharge, true)
		if err != nil {
			return err
		}
		ch.Attempt, ch.AttemptAt, ch.CaptureAmount, ch.AttemptTries = tender.AttemptCapturing, e.nowUTC(), amount, 0
		ch.Request = c.IdempotencyRecord
		if err := pi.Transition(tender.StatusProcessing); err != nil {
			return err
		}
		if err := tx.UpdateCharge(ctx, ch); err != nil {
			return err
		}
		return tx.UpdatePaymentIntent(ctx, pi)
	})
	if err != nil || ch == nil {
		return pi, err
	}
	res, callErr := e.capture(ctx, ch)
	e.fault("after-capture")
	return e.settleCapture(ctx, c, ch.ID, res, callErr)
}

func (e *Engine) capture(ctx context.Context, ch *tender.Charge) (*tender.ProviderResult, error) {
	prov, err := e.provider(ch.Provider)
	if err != nil {
		return nil, err
	}
	call, err := e.callData(ctx, tender.Tenant{MerchantID: ch.MerchantID, Livemode: ch.Livemode}, ch.Provider, captureKey(ch.ID))
	if err != nil {
		return nil, err
	}
	cctx, cancel := e.withTimeout(ctx)
	defer cancel()
	return prov.Capture(cctx, &tender.CaptureRequest{ProviderCall: call, Reference: ch.ProviderRef, Amount: ch.CaptureAmount, Currency: ch.Currency})
}

// settleCapture records a capture's outcome. A refused capture puts the
// intent back in requires_capture with the error; an unknown outcome stays
// in flight for recovery.
func (e *Engine) settleCapture(ctx context.Context, c Caller, chargeID string, res *tender.ProviderResult, callErr error) (*tender.PaymentIntent, error) {
	te, definite := isDefinite(callErr)
	if callErr != nil && !definite {
		e.log.Warn("capture outcome unknown; recovery will settle it", "charge", chargeID, "error", callErr)
		return e.intentOfCharge(ctx, c.Tenant, chargeID)
	}
	var pi *tender.PaymentIntent
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		ch, err := tx.Charge(ctx, c.Tenant, chargeID, true)
		if err != nil {
			return err
		}
		pi, err = tx.PaymentIntent(ctx, c.Tenant, ch.PaymentIntent, true)
		if err != nil || ch.Attempt != tender.AttemptCapturing {
			return err
		}
		ch.Attempt, ch.AttemptAt = tender.AttemptNone, e.nowUTC()
		if definite || res.Status != tender.ProviderSucceeded {
			// Refused: the hold stands; the merchant may try again or cancel.
			if err := pi.Transition(tender.StatusRequiresCapture); err != nil {
				return err
			}
			if err := tx.UpdateCharge(ctx, ch); err != nil {
				return err
			}
			return tx.UpdatePaymentIntent(ctx, pi)
		}
		ch.Captured = true
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
	})
	if err != nil {
		return nil, err
	}
	if definite {
		return pi, te
	}
	if res != nil && res.Status != tender.ProviderSucceeded {
		return pi, tender.InvalidRequest(tender.CodeProcessingError, "The provider did not capture the payment (status %s).", res.Status)
	}
	return pi, nil
}

// CancelPaymentIntent cancels an intent that has not succeeded, releasing
// any hold at the provider.
func (e *Engine) CancelPaymentIntent(ctx context.Context, c Caller, id, reason string) (*tender.PaymentIntent, error) {
	if reason != "" && reason != "duplicate" && reason != "fraudulent" && reason != "requested_by_customer" && reason != "abandoned" {
		return nil, tender.InvalidParam(tender.CodeParameterInvalid, "cancellation_reason",
			"Invalid cancellation_reason: must be one of duplicate, fraudulent, requested_by_customer or abandoned.")
	}
	var pi *tender.PaymentIntent
	var ch *tender.Charge
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		var err error
		pi, err = tx.PaymentIntent(ctx, c.Tenant, id, true)
		if err != nil {
			return notFound(err, "payment_intent", id)
		}
		if mine, ok, err := e.resumed(ctx, tx, c, pi); err != nil {
			return err
		} else if ok && (mine.Attempt == tender.AttemptCanceling || pi.Status == tender.StatusCanceled) {
			// A retry of this cancellation: finish it, or answer as it ended.
			if mine.Attempt == tender.AttemptCanceling {
				ch = mine
			}
			return nil
		}
		if !cancelable(pi.Status) {
			return tender.UnexpectedState(pi, "cancel")
		}
		if pi.LatestCharge != "" {
			last, err := tx.Charge(ctx, c.Tenant, pi.LatestCharge, true)
			if err != nil {
				return err
			}
			// A hold or a pending challenge at the provider must be released there first.
			if (last.Status == tender.ChargeSucceeded && !last.Captured) || last.Attempt == tender.AttemptAwaitAction {
				last.Attempt, last.AttemptAt, last.CancelReason, last.AttemptTries = tender.AttemptCanceling, e.nowUTC(), reason, 0
				last.Request = c.IdempotencyRecord
				if err := pi.Transition(tender.StatusProcessing); err != nil {
					return err
				}
				ch = last
				if err := tx.UpdateCharge(ctx, ch); err != nil {
					return err
				}
				return tx.UpdatePaymentIntent(ctx, pi)
			}
		}
		return e.markCanceled(ctx, tx, c, pi, nil, reason)
	})
	if err != nil || ch == nil {
		return pi, err
	}
	res, callErr := e.cancel(ctx, ch)
	e.fault("after-cancel")
	return e.settleCancel(ctx, c, ch.ID, res, callErr)
}

func (e *Engine) markCanceled(ctx context.Context, tx tender.PaymentTx, c Caller, pi *tender.PaymentIntent, ch *tender.Charge, reason string) error {
	if err := pi.Transition(tender.StatusCanceled); err != nil {
		return err
	}
	now := e.nowUTC()
	pi.CanceledAt, pi.CancellationReason = &now, reason
	pi.AmountCapturable, pi.NextAction = 0, nil
	if ch != nil {
		if err := tx.UpdateCharge(ctx, ch); err != nil {
			return err
		}
	}
	if err := tx.UpdatePaymentIntent(ctx, pi); err != nil {
		return err
	}
	return e.event(ctx, tx, c, tender.EventPaymentIntentCanceled, pi.ID, pi.JSON(), nil)
}

func (e *Engine) cancel(ctx context.Context, ch *tender.Charge) (*tender.ProviderResult, error) {
	prov, err := e.provider(ch.Provider)
	if err != nil {
		return nil, err
	}
	call, err := e.callData(ctx, tender.Tenant{MerchantID: ch.MerchantID, Livemode: ch.Livemode}, ch.Provider, cancelKey(ch.ID))
	if err != nil {
		return nil, err
	}
	cctx, cancel := e.withTimeout(ctx)
	defer cancel()
	return prov.Cancel(cctx, &tender.CancelRequest{ProviderCall: call, Reference: ch.ProviderRef, Reason: ch.CancelReason})
}

func (e *Engine) settleCancel(ctx context.Context, c Caller, chargeID string, res *tender.ProviderResult, callErr error) (*tender.PaymentIntent, error) {
	te, definite := isDefinite(callErr)
	if callErr != nil && !definite {
		e.log.Warn("cancel outcome unknown; recovery will settle it", "charge", chargeID, "error", callErr)
		return e.intentOfCharge(ctx, c.Tenant, chargeID)
	}
	var pi *tender.PaymentIntent
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		ch, err := tx.Charge(ctx, c.Tenant, chargeID, true)
		if err != nil {
			return err
		}
		pi, err = tx.PaymentIntent(ctx, c.Tenant, ch.PaymentIntent, true)
		if err != nil || ch.Attempt != tender.AttemptCanceling {
			return err
		}
		wasHold := ch.Status == tender.ChargeSucceeded
		ch.Attempt, ch.AttemptAt = tender.AttemptNone, e.nowUTC()
		if definite {
			// The provider would not cancel: back to where the intent was.
			back := tender.StatusRequiresAction
			if wasHold {
				back = tender.StatusRequiresCapture
			} else {
				ch.Attempt = tender.AttemptAwaitAction
			}
			if err := pi.Transition(back); err != nil {
				return err
			}
			if err := tx.UpdateCharge(ctx, ch); err != nil {
				return err
			}
			return tx.UpdatePaymentIntent(ctx, pi)
		}
		if wasHold {
			// Stripe shows a canceled hold as refunded in full.
			ch.AmountRefunded = ch.Amount
		} else {
			ch.Status, ch.FailureCode, ch.FailureMessage = tender.ChargeFailed, "payment_intent_canceled", "The PaymentIntent was canceled before the payment completed."
		}
		return e.markCanceled(ctx, tx, c, pi, ch, ch.CancelReason)
	})
	if err != nil {
		return nil, err
	}
	if definite {
		return pi, te
	}
	return pi, nil
}
