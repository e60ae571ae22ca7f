package engine

import (
	"context"

	"github.com/tenderhq/tender"
)

// RefundParams are a new refund's fields. PaymentIntent or Charge names
// what to refund; Amount defaults to everything not yet refunded.
type RefundParams struct {
	PaymentIntent string
	Charge        string
	Amount        *int64
	Reason        string
	Metadata      map[string]string
}

// CreateRefund refunds a captured charge. The sum of a charge's refunds can
// never exceed what it captured, even under concurrent requests: the check
// and the insert happen in one transaction that holds the charge's row.
func (e *Engine) CreateRefund(ctx context.Context, c Caller, p RefundParams) (*tender.Refund, error) {
	if c.Resume != "" {
		r, err := e.store.Refund(ctx, c.Tenant, c.Resume, false)
		if err != nil {
			return nil, err
		}
		if !r.InFlight {
			return r, nil
		}
		return e.finishRefund(ctx, c, r)
	}
	if p.Reason != "" && p.Reason != "duplicate" && p.Reason != "fraudulent" && p.Reason != "requested_by_customer" {
		return nil, tender.InvalidParam(tender.CodeParameterInvalid, "reason", "Invalid reason: must be one of duplicate, fraudulent or requested_by_customer.")
	}
	if err := CheckMetadata(p.Metadata, "metadata"); err != nil {
		return nil, err
	}
	if p.PaymentIntent == "" && p.Charge == "" {
		return nil, tender.InvalidParam(tender.CodeParameterMissing, "payment_intent", "One of payment_intent or charge is required.")
	}
	if p.Amount != nil && *p.Amount <= 0 {
		return nil, tender.InvalidParam(tender.CodeAmountTooSmall, "amount", "The refund amount must be positive.")
	}
	var r *tender.Refund
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		chargeID := p.Charge
		if p.PaymentIntent != "" {
			pi, err := tx.PaymentIntent(ctx, c.Tenant, p.PaymentIntent, false)
			if err != nil {
				return paramNotFound(err, "payment_intent", "payment_intent", p.PaymentIntent)
			}
			if p.Charge != "" && p.Charge != pi.LatestCharge {
				return tender.InvalidParam(tender.CodeParameterInvalid, "charge", "The charge %s does not belong to the PaymentIntent %s.", p.Charge, pi.ID)
			}
			if pi.LatestCharge == "" {
				return tender.InvalidParam(tender.CodeParameterInvalid, "payment_intent", "This PaymentIntent (%s) has no charge to refund; its status is %s.", pi.ID, pi.Status)
			}
			chargeID = pi.LatestCharge
		}
		ch, err := tx.Charge(ctx, c.Tenant, chargeID, true)
		if err != nil {
			return paramNotFound(err, "charge", "charge", chargeID)
		}
		if !ch.Captured || ch.AmountCaptured == 0 {
			return tender.InvalidParam(tender.CodeParameterInvalid, "payment_intent",
				"This payment has not been captured, so there is nothing to refund. Cancel the PaymentIntent to release an authorization.")
		}
		prov, err := e.provider(ch.Provider)
		if err != nil {
			return err
		}
		caps := prov.Info().Capabilities
		if !caps.SupportsRefund {
			return tender.InvalidRequest("refund_unsupported", "The %s provider does not support refunds; return the money to the customer by your own means.", ch.Provider)
		}
		refunded, err := tx.RefundedTotal(ctx, c.Tenant, ch.ID)
		if err != nil {
			return err
		}
		remaining := ch.AmountCaptured - refunded
		if remaining <= 0 {
			return tender.InvalidRequest("charge_already_refunded", "Charge %s has already been refunded.", ch.ID)
		}
		amount := remaining
		if p.Amount != nil {
			amount = *p.Amount
			if amount > remaining {
				return tender.InvalidParam(tender.CodeAmountTooLarge, "amount",
					"Refund amount (%d) is greater than the unrefunded amount on the charge (%d).", amount, remaining)
			}
		}
		if amount < ch.AmountCaptured && !caps.SupportsPartialRefund {
			return tender.InvalidParam(tender.CodeParameterInvalid, "amount", "The %s provider does not support partial refunds.", ch.Provider)
		}
		now := e.nowUTC()
		r = &tender.Refund{
			ID: tender.NewID(tender.PrefixRefund), MerchantID: c.MerchantID, Livemode: c.Livemode,
			PaymentIntent: ch.PaymentIntent, Charge: ch.ID, Amount: amount, Currency: ch.Currency,
			Status: tender.RefundPending, Reason: p.Reason, Metadata: dropEmpty(p.Metadata), Provider: ch.Provider,
			Created: now, InFlight: true, AttemptAt: now,
		}
		if err := tx.InsertRefund(ctx, r); err != nil {
			return err
		}
		// Touching the charge serializes concurrent refunds on it (its row
		// is locked until commit; a stale version fails the loser).
		if err := tx.UpdateCharge(ctx, ch); err != nil {
			return err
		}
		if c.IdempotencyRecord != "" {
			return tx.BindIdempotency(ctx, c.Tenant, c.IdempotencyRecord, r.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e.finishRefund(ctx, c, r)
}

func paramNotFound(err error, object, param, id string) error {
	if err == nil {
		return nil
	}
	if e := notFound(err, object, id); e != err {
		te := e.(*tender.Error)
		te.Param = param
		return te
	}
	return err
}

// finishRefund makes the provider call of an in-flight refund and records it.
func (e *Engine) finishRefund(ctx context.Context, c Caller, r *tender.Refund) (*tender.Refund, error) {
	res, callErr := e.refund(ctx, r)
	e.fault("after-refund")
	return e.settleRefund(ctx, c, r.ID, res, callErr)
}

func (e *Engine) refund(ctx context.Context, r *tender.Refund) (*tender.RefundResult, error) {
	prov, err := e.provider(r.Provider)
	if err != nil {
		return nil, err
	}
	t := tender.Tenant{MerchantID: r.MerchantID, Livemode: r.Livemode}
	ch, err := e.store.Charge(ctx, t, r.Charge, false)
	if err != nil {
		return nil, err
	}
	call, err := e.callData(ctx, t, r.Provider, refundKey(r.ID))
	if err != nil {
		return nil, err
	}
	cctx, cancel := e.withTimeout(ctx)
	defer cancel()
	return prov.Refund(cctx, &tender.RefundRequest{ProviderCall: call, Refund: r.ID, Reference: ch.ProviderRef,
		Amount: r.Amount, Currency: r.Currency, Reason: r.Reason})
}

// settleRefund records a refund's outcome (phase 3), or leaves it in flight
// when the outcome is unknown.
func (e *Engine) settleRefund(ctx context.Context, c Caller, refundID string, res *tender.RefundResult, callErr error) (*tender.Refund, error) {
	te, definite := isDefinite(callErr)
	if callErr != nil && !definite {
		e.log.Warn("refund outcome unknown; recovery will settle it", "refund", refundID, "error", callErr)
		return e.store.Refund(ctx, c.Tenant, refundID, false)
	}
	if definite {
		res = &tender.RefundResult{Status: tender.RefundFailed, FailureReason: te.Message}
	}
	var r *tender.Refund
	err := e.inTx(ctx, c, func(tx tender.PaymentTx) error {
		var err error
		r, err = tx.Refund(ctx, c.Tenant, refundID, true)
		if err != nil {
			return err
		}
		return e.applyRefundResult(ctx, tx, c, r, res)
	})
	if err != nil {
		return nil, err
	}
	if definite {
		return r, te
	}
	return r, nil
}

// applyRefundResult moves a refund forward: in flight → pending, succeeded
// or failed; pending → succeeded or failed. Nothing moves backwards.
func (e *Engine) applyRefundResult(ctx context.Context, tx tender.PaymentTx, c Caller, r *tender.Refund, res *tender.RefundResult) error {
	wasInFlight := r.InFlight
	if !wasInFlight && r.Status != tender.RefundPending {
		return nil // already final
	}
	if !wasInFlight && res.Status == tender.RefundPending {
		return nil // still pending
	}
	if res.Reference != "" {
		r.ProviderRef = res.Reference
	}
	r.InFlight, r.AttemptAt = false, e.nowUTC()
	var chargeEvent *tender.Charge
	switch res.Status {
	case tender.RefundSucceeded:
		r.Status = tender.RefundSucceeded
		ch, err := tx.Charge(ctx, c.Tenant, r.Charge, true)
		if err != nil {
			return err
		}
		ch.AmountRefunded += r.Amount
		if err := tx.UpdateCharge(ctx, ch); err != nil {
			return err
		}
		chargeEvent = ch
	case tender.RefundPending:
		r.Status = tender.RefundPending
	default:
		r.Status, r.FailureReason = tender.RefundFailed, res.FailureReason
		if r.FailureReason == "" {
			r.FailureReason = "unknown"
		}
	}
	if err := tx.UpdateRefund(ctx, r); err != nil {
		return err
	}
	first := tender.EventRefundUpdated
	if wasInFlight {
		first = tender.EventRefundCreated
	}
	if err := e.event(ctx, tx, c, first, r.ID, r.JSON(), nil); err != nil {
		return err
	}
	if r.Status == tender.RefundFailed {
		return e.event(ctx, tx, c, tender.EventRefundFailed, r.ID, r.JSON(), nil)
	}
	if chargeEvent != nil {
		return e.event(ctx, tx, c, tender.EventChargeRefunded, chargeEvent.ID, chargeEvent.JSON(), nil)
	}
	return nil
}
