package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tenderhq/tender"
)

// dueBatch is how many due records one step takes at most.
const dueBatch = 100

// maxBackoff caps the wait between notification retries.
const maxBackoff = time.Minute

// Run does the sandbox's work that nobody asks for, until ctx ends: it
// settles async payments whose time has come and delivers notifications,
// retrying failed ones with exponential backoff (1s, 2s, 4s … 1 min). It
// may run in several processes at once: each delivery is claimed in the
// ledger before it is attempted.
func (s *Sandbox) Run(ctx context.Context) {
	t := time.NewTicker(s.opt.PollInterval)
	defer t.Stop()
	for {
		if err := s.step(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "sandbox run", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maxBatches bounds one step, so that records that keep failing cannot
// keep it from returning.
const maxBatches = 10

// step handles the records due now, in batches until none are left.
func (s *Sandbox) step(ctx context.Context) error {
	for range maxBatches {
		keys, err := s.ledger.LedgerDue(ctx, Key, s.now(), dueBatch)
		if err != nil {
			return fmt.Errorf("sandbox: due records: %w", err)
		}
		for _, key := range keys {
			if err := ctx.Err(); err != nil {
				return err
			}
			ref, ok := strings.CutPrefix(key, "payment:")
			if !ok {
				continue
			}
			if err := s.runDue(ctx, ref); err != nil {
				s.log.ErrorContext(ctx, "sandbox due payment", "ref", ref, "err", err)
			}
		}
		// A full batch may have left more behind; a short one did not. The
		// records just handled are no longer due (they were rescheduled).
		if len(keys) < dueBatch {
			return nil
		}
	}
	return nil
}

// runDue settles a due payment and delivers its pending notification.
func (s *Sandbox) runDue(ctx context.Context, ref string) error {
	now := s.now()
	var ev *tender.ProviderEvent
	var seq, tries int
	err := s.ledger.LedgerUpdate(ctx, Key, paymentKey(ref), func(old []byte) ([]byte, time.Time, error) {
		ev = nil
		if old == nil {
			return nil, time.Time{}, nil
		}
		var p payment
		if err := json.Unmarshal(old, &p); err != nil {
			return nil, time.Time{}, fmt.Errorf("decode payment: %w", err)
		}
		p.advance(now)
		if p.NotifyPending && !p.NotifyAt.After(now) {
			// Claim the delivery: the next try is due only after the
			// backoff, so that another process does not deliver it too.
			p.NotifyTries++
			p.NotifyAt = now.Add(backoff(p.NotifyTries))
			seq, tries = p.NotifySeq, p.NotifyTries
			ev = s.event(&p)
		}
		// Always written back: it reschedules the record from its state, so
		// a stale schedule cannot keep it due for ever.
		b, err := json.Marshal(&p)
		return b, p.dueAt(), err
	})
	if err != nil || ev == nil {
		return err
	}
	s.deliver(ctx, ref, ev, seq, tries)
	return nil
}

// deliver calls Notify and, when it succeeds, marks the notification done.
// On failure the notification stays pending and due at its backoff.
func (s *Sandbox) deliver(ctx context.Context, ref string, ev *tender.ProviderEvent, seq, tries int) {
	if s.opt.Notify != nil {
		if err := s.opt.Notify(ctx, *ev); err != nil {
			s.log.WarnContext(ctx, "sandbox notify failed; will retry", "ref", ref, "status", ev.Payment.Status,
				"tries", tries, "retry_in", backoff(tries+1), "err", err)
			return
		}
	}
	err := s.ledger.LedgerUpdate(ctx, Key, paymentKey(ref), func(old []byte) ([]byte, time.Time, error) {
		if old == nil {
			return nil, time.Time{}, nil
		}
		var p payment
		if err := json.Unmarshal(old, &p); err != nil {
			return nil, time.Time{}, fmt.Errorf("decode payment: %w", err)
		}
		if !p.NotifyPending || p.NotifySeq != seq {
			return nil, time.Time{}, nil // a newer notification is pending
		}
		p.NotifyPending, p.NotifyTries, p.NotifyAt = false, 0, time.Time{}
		b, err := json.Marshal(&p)
		return b, p.dueAt(), err
	})
	if err != nil {
		// Delivered but not marked: it will be delivered again, which the
		// engine must (and does, as for any webhook) tolerate.
		s.log.ErrorContext(ctx, "sandbox notify: mark delivered", "ref", ref, "err", err)
		return
	}
	s.log.InfoContext(ctx, "sandbox notified", "ref", ref, "status", ev.Payment.Status)
}

// event is the notification of p's current state.
func (s *Sandbox) event(p *payment) *tender.ProviderEvent {
	return &tender.ProviderEvent{Provider: Key, MerchantID: p.MerchantID, Livemode: p.Livemode,
		Reference: p.Ref, Payment: s.result(p)}
}

// backoff is the wait after the tries-th delivery: 1s, 2s, 4s … 1 min.
func backoff(tries int) time.Duration {
	if tries < 1 {
		tries = 1
	}
	if tries > 7 {
		return maxBackoff
	}
	return min(time.Second<<(tries-1), maxBackoff)
}
