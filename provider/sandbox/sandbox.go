// Package sandbox is Tender's built-in test processor: always available in
// test mode, never in live mode. It behaves deterministically on Stripe's
// test cards and tokens (see TestCards), so that a storefront can be built
// and tested against Tender without a Stripe account.
//
// Unlike the other providers it is its own processor, so it keeps the state
// a processor keeps — payments, refunds, which idempotency key did what — in
// a tender.ProviderLedger, a durable store shared by all of Tender's
// processes. Nothing that matters lives in memory: a restarted or second
// process sees the same payments, and a repeated call with the same
// idempotency key (a retry, Tender's crash recovery) gets the same payment
// rather than a second charge.
//
// Ledger records:
//
//	payment:<ref>                          one per payment (its whole state, refunds included)
//	op:authorize:<merchant>:<idem key>     which payment an authorize key created
//	op:refund:<merchant>:<idem key>        which refund (and payment) a refund key created
//	refund:<refund ref>                    which payment a refund belongs to
//
// A payment record is scheduled (due) while it has something to do without
// being asked: an async payment to settle, or a notification to deliver.
package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tenderhq/tender"
)

// Key is the sandbox's provider key.
const Key = "sandbox"

// Options configure a Sandbox.
type Options struct {
	// BaseURL is Tender's public URL (e.g. "http://127.0.0.1:8080"); the
	// 3-D Secure page lives at BaseURL+"/sandbox/3ds/{ref}".
	BaseURL string
	// Notify delivers asynchronous outcomes (async settlement, 3-D Secure
	// completion) to the payment engine, as a provider webhook would. It
	// should be idempotent: delivery is at least once.
	Notify func(ctx context.Context, ev tender.ProviderEvent) error
	// Now is the clock (default time.Now).
	Now func() time.Time
	// AsyncDelay is how long the async card stays processing (default 3s).
	AsyncDelay time.Duration
	// PollInterval is how often Run looks for due work (default 250ms).
	PollInterval time.Duration
	// Logger receives operational logs (default: discarded).
	Logger *slog.Logger
}

// Sandbox is the test processor. It implements tender.Provider. It is safe
// for concurrent use, also by several processes sharing one ledger.
type Sandbox struct {
	ledger tender.ProviderLedger
	opt    Options
	log    *slog.Logger
	now    func() time.Time
}

var _ tender.Provider = (*Sandbox)(nil)

// New returns a sandbox keeping its state in ledger.
func New(ledger tender.ProviderLedger, opt Options) *Sandbox {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.AsyncDelay <= 0 {
		opt.AsyncDelay = 3 * time.Second
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 250 * time.Millisecond
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	opt.BaseURL = strings.TrimRight(opt.BaseURL, "/")
	return &Sandbox{ledger: ledger, opt: opt, log: opt.Logger.With("provider", Key), now: opt.Now}
}

// Info describes the sandbox.
func (s *Sandbox) Info() tender.ProviderInfo {
	return tender.ProviderInfo{
		Key:         Key,
		Name:        "Sandbox",
		Description: "Tender's test processor: Stripe's test cards, no real money",
		Capabilities: tender.Capabilities{
			SupportsRedirect:      true,
			SupportsWebhook:       true,
			SupportsRefund:        true,
			SupportsPartialRefund: true,
			SupportsManualCapture: true,
			SupportsSavedCards:    true,
			RequiresClientSide:    false,
		},
		Modes: tender.ProviderModeSupport{Test: true, Live: false, NeedsConfig: false},
	}
}

// payment is the ledger record of one payment: everything the sandbox knows
// about it, so that any process can carry on from it.
type payment struct {
	Ref           string          `json:"ref"`
	MerchantID    string          `json:"merchant_id"`
	Livemode      bool            `json:"livemode"`
	AuthorizeKey  string          `json:"authorize_key"`
	PaymentIntent string          `json:"payment_intent,omitempty"`
	Charge        string          `json:"charge,omitempty"`
	Amount        int64           `json:"amount"`
	Currency      tender.Currency `json:"currency"`
	// Capture is whether the authorize asked to capture at once (it decides
	// where 3-D Secure and async settlement end).
	Capture          bool                  `json:"capture"`
	Card             *tender.CardDetails   `json:"card"`
	Status           tender.ProviderStatus `json:"status"`
	AmountCaptured   int64                 `json:"amount_captured"`
	AmountCapturable int64                 `json:"amount_capturable"`
	Error            *tender.ProviderError `json:"error,omitempty"`
	// ReturnURL and CSRF serve the 3-D Secure page; ThreeDS is the
	// challenge's outcome ("succeeded" or "failed") once it is over.
	ReturnURL string `json:"return_url,omitempty"`
	CSRF      string `json:"csrf,omitempty"`
	ThreeDS   string `json:"three_ds,omitempty"`
	// SettleAt is when a processing (async) payment settles.
	SettleAt time.Time `json:"settle_at,omitzero"`
	// CaptureKey is the idempotency key of the capture, so that a repeated
	// capture answers as the first did.
	CaptureKey string        `json:"capture_key,omitempty"`
	Refunds    []refundEntry `json:"refunds,omitempty"`
	// A notification is pending while NotifyPending; NotifySeq tells a
	// later one from the one being delivered, NotifyAt is the next try.
	NotifyPending bool      `json:"notify_pending,omitempty"`
	NotifySeq     int       `json:"notify_seq,omitempty"`
	NotifyTries   int       `json:"notify_tries,omitempty"`
	NotifyAt      time.Time `json:"notify_at,omitzero"`
	Created       time.Time `json:"created"`
}

// refundEntry is one refund, kept in its payment's record so that the check
// that refunds never exceed the captured amount is one atomic update.
type refundEntry struct {
	Ref     string    `json:"ref"`
	Key     string    `json:"key"`
	Amount  int64     `json:"amount"`
	Status  string    `json:"status"`
	Created time.Time `json:"created"`
}

// opRecord remembers what an idempotency key did.
type opRecord struct {
	Ref     string `json:"ref"`
	Payment string `json:"payment,omitempty"`
}

func paymentKey(ref string) string { return "payment:" + ref }

// opKey scopes idempotency keys to a merchant, so that one merchant's key
// can never name another's payment.
func opKey(kind string, call *tender.ProviderCall) string {
	return "op:" + kind + ":" + call.MerchantID + ":" + call.IdempotencyKey
}

// advance applies what time alone changes — an async payment settling —
// and reports whether it changed anything. Every read and update applies
// it, so that the sandbox answers the same whether or not Run has caught up.
func (p *payment) advance(now time.Time) bool {
	if p.Status != tender.ProviderProcessing || p.SettleAt.IsZero() || now.Before(p.SettleAt) {
		return false
	}
	p.settle()
	p.SettleAt = time.Time{}
	p.queueNotify(now)
	return true
}

// settle moves a payment to where its authorization ends: captured, or held.
func (p *payment) settle() {
	if p.Capture {
		p.Status = tender.ProviderSucceeded
		p.AmountCaptured = p.Amount
		p.AmountCapturable = 0
	} else {
		p.Status = tender.ProviderRequiresCapture
		p.AmountCapturable = p.Amount
	}
}

// queueNotify records that the engine must hear about the payment's new
// state; the notification is due at at.
func (p *payment) queueNotify(at time.Time) {
	p.NotifyPending = true
	p.NotifySeq++
	p.NotifyTries = 0
	p.NotifyAt = at
}

// dueAt is when the record next needs Run (zero: never).
func (p *payment) dueAt() time.Time {
	var due time.Time
	if p.Status == tender.ProviderProcessing && !p.SettleAt.IsZero() {
		due = p.SettleAt
	}
	if p.NotifyPending && (due.IsZero() || p.NotifyAt.Before(due)) {
		due = p.NotifyAt
		if due.IsZero() {
			due = time.Unix(0, 0) // due at once
		}
	}
	return due
}

func (p *payment) refunded() int64 {
	var sum int64
	for _, r := range p.Refunds {
		sum += r.Amount
	}
	return sum
}

func (p *payment) refund(ref string) *refundEntry {
	for i := range p.Refunds {
		if p.Refunds[i].Ref == ref {
			return &p.Refunds[i]
		}
	}
	return nil
}

// result is the payment as Tender sees it.
func (s *Sandbox) result(p *payment) *tender.ProviderResult {
	r := &tender.ProviderResult{Status: p.Status, Reference: p.Ref, AmountCaptured: p.AmountCaptured,
		AmountCapturable: p.AmountCapturable}
	if p.Card != nil {
		c := *p.Card
		r.Card = &c
	}
	if p.Error != nil {
		e := *p.Error
		r.Error = &e
	}
	if p.Status == tender.ProviderRequiresAction {
		r.NextAction = &tender.NextAction{Type: "redirect_to_url",
			RedirectToURL: &tender.RedirectToURL{URL: s.threeDSURL(p.Ref), ReturnURL: p.ReturnURL}}
	}
	return r
}

func (s *Sandbox) threeDSURL(ref string) string { return s.opt.BaseURL + "/sandbox/3ds/" + ref }

// Authorize charges (Capture) or holds the amount on a test card. The
// outcome is decided by the card (see TestCards) and recorded under
// req.IdempotencyKey first, so that a repeated call finds the same payment
// and reports where it stands now instead of charging again.
func (s *Sandbox) Authorize(ctx context.Context, req *tender.AuthorizeRequest) (*tender.ProviderResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkCall(&req.ProviderCall); err != nil {
		return nil, err
	}
	if req.Amount <= 0 {
		return nil, tender.InvalidParam(tender.CodeParameterInvalidInt, "amount", "Amount must be a positive integer.")
	}
	if req.Currency.IsZero() {
		return nil, tender.MissingParam("currency")
	}
	card, tc, ok := cardFor(req.PaymentMethod)
	if !ok {
		return nil, noSuchPaymentMethod(req.PaymentMethod)
	}

	// The reference is derived from the idempotency key, so that the
	// payment's one record is both the key's claim and the payment: a
	// repeated call (concurrent, or after a crash) finds it, in one update.
	ref := authorizeRef(&req.ProviderCall)

	// Create the payment unless an earlier call already did.
	now := s.now()
	var p payment
	err := s.ledger.LedgerUpdate(ctx, Key, paymentKey(ref), func(old []byte) ([]byte, time.Time, error) {
		if old != nil {
			p = payment{}
			if err := json.Unmarshal(old, &p); err != nil {
				return nil, time.Time{}, fmt.Errorf("sandbox: decode payment %s: %w", ref, err)
			}
			p.advance(now) // a view only: Run records the settlement
			return nil, time.Time{}, nil
		}
		p = s.newPayment(ref, req, card, tc, now)
		b, err := json.Marshal(&p)
		return b, p.dueAt(), err
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "sandbox authorize", "ref", ref, "merchant", req.MerchantID, "status", p.Status, "amount", req.Amount)
	return s.result(&p), nil
}

// newPayment decides a new payment's outcome from its card.
func (s *Sandbox) newPayment(ref string, req *tender.AuthorizeRequest, card *tender.CardDetails, tc *TestCard, now time.Time) payment {
	p := payment{Ref: ref, MerchantID: req.MerchantID, Livemode: req.Livemode, AuthorizeKey: req.IdempotencyKey,
		PaymentIntent: req.PaymentIntent, Charge: req.Charge, Amount: req.Amount, Currency: req.Currency,
		Capture: req.Capture, Card: card, Created: now}
	outcome := OutcomeSucceeds
	if tc != nil {
		outcome = tc.Outcome
	}
	switch outcome {
	case OutcomeDeclined:
		p.Status = tender.ProviderFailed
		p.Error = &tender.ProviderError{Code: tc.Code, DeclineCode: tc.DeclineCode, Message: tc.Message}
	case OutcomeAuthenticate:
		if req.OffSession {
			p.Status = tender.ProviderFailed
			p.Error = &tender.ProviderError{Code: tc.Code, DeclineCode: tc.DeclineCode, Message: tc.Message}
			break
		}
		p.Status = tender.ProviderRequiresAction
		p.ReturnURL = req.ReturnURL
		p.CSRF = randomHex(32)
	case OutcomeAsync:
		p.Status = tender.ProviderProcessing
		p.SettleAt = now.Add(s.opt.AsyncDelay)
	default:
		p.settle()
	}
	return p
}

// Capture collects amount of a held payment (a partial capture releases
// the rest, as Stripe's does). Repeating a capture with the same
// idempotency key answers as the first did.
func (s *Sandbox) Capture(ctx context.Context, req *tender.CaptureRequest) (*tender.ProviderResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkCall(&req.ProviderCall); err != nil {
		return nil, err
	}
	p, err := s.updatePayment(ctx, req.Reference, &req.ProviderCall, func(p *payment) (bool, error) {
		if p.Status == tender.ProviderSucceeded && req.IdempotencyKey != "" && p.CaptureKey == req.IdempotencyKey {
			return false, nil // the same capture again
		}
		if p.Status != tender.ProviderRequiresCapture {
			return false, unexpectedState("capture", p)
		}
		if !req.Currency.IsZero() && req.Currency != p.Currency {
			return false, tender.InvalidParam(tender.CodeInvalidCurrency, "currency",
				"The currency %s does not match the payment's currency %s.", req.Currency, p.Currency)
		}
		if req.Amount <= 0 || req.Amount > p.AmountCapturable {
			return false, tender.InvalidParam(tender.CodeParameterInvalidInt, "amount_to_capture",
				"The amount to capture must be positive and at most the amount capturable (%d).", p.AmountCapturable)
		}
		p.Status = tender.ProviderSucceeded
		p.AmountCaptured = req.Amount
		p.AmountCapturable = 0
		p.CaptureKey = req.IdempotencyKey
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "sandbox capture", "ref", p.Ref, "amount", p.AmountCaptured)
	return s.result(p), nil
}

// Cancel releases a payment not captured. Canceling a canceled payment
// answers canceled again.
func (s *Sandbox) Cancel(ctx context.Context, req *tender.CancelRequest) (*tender.ProviderResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkCall(&req.ProviderCall); err != nil {
		return nil, err
	}
	p, err := s.updatePayment(ctx, req.Reference, &req.ProviderCall, func(p *payment) (bool, error) {
		switch p.Status {
		case tender.ProviderCanceled:
			return false, nil
		case tender.ProviderRequiresCapture, tender.ProviderRequiresAction, tender.ProviderProcessing:
			p.Status = tender.ProviderCanceled
			p.AmountCapturable = 0
			p.SettleAt = time.Time{}
			return true, nil
		}
		return false, unexpectedState("cancel", p)
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "sandbox cancel", "ref", p.Ref)
	return s.result(p), nil
}

// Refund returns amount of a captured payment. The refund is recorded in
// the payment's record in the same atomic update that checks the amount, so
// that concurrent refunds can never add up to more than was captured.
func (s *Sandbox) Refund(ctx context.Context, req *tender.RefundRequest) (*tender.RefundResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkCall(&req.ProviderCall); err != nil {
		return nil, err
	}
	if req.Amount <= 0 {
		return nil, tender.InvalidParam(tender.CodeParameterInvalidInt, "amount", "Refund amount must be a positive integer.")
	}
	if req.Reference == "" {
		return nil, tender.MissingParam("reference")
	}

	// Claim the key, naming the refund before it exists so that a repeat
	// finds the same one.
	var op opRecord
	var refusal error
	err := s.ledger.LedgerUpdate(ctx, Key, opKey("refund", &req.ProviderCall), func(old []byte) ([]byte, time.Time, error) {
		refusal = nil
		if old != nil {
			op = opRecord{}
			if err := json.Unmarshal(old, &op); err != nil {
				return nil, time.Time{}, fmt.Errorf("sandbox: decode refund record: %w", err)
			}
			if op.Payment != req.Reference {
				refusal = &tender.Error{Type: tender.IdempotencyError,
					Message: "This idempotency key was already used to refund another payment."}
			}
			return nil, time.Time{}, nil
		}
		op = opRecord{Ref: tender.NewID("sbx_re"), Payment: req.Reference}
		b, err := json.Marshal(op)
		return b, time.Time{}, err
	})
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return nil, refusal
	}

	now := s.now()
	var entry refundEntry
	_, err = s.updatePayment(ctx, req.Reference, &req.ProviderCall, func(p *payment) (bool, error) {
		if e := p.refund(op.Ref); e != nil {
			entry = *e
			return false, nil // the same refund again
		}
		if p.Status != tender.ProviderSucceeded {
			return false, unexpectedState("refund", p)
		}
		if !req.Currency.IsZero() && req.Currency != p.Currency {
			return false, tender.InvalidParam(tender.CodeInvalidCurrency, "currency",
				"The currency %s does not match the payment's currency %s.", req.Currency, p.Currency)
		}
		if left := p.AmountCaptured - p.refunded(); req.Amount > left {
			return false, tender.InvalidParam(tender.CodeAmountTooLarge, "amount",
				"Refund amount (%s %s) is greater than the amount left to refund (%s %s).",
				tender.FormatDecimal(req.Amount, p.Currency), p.Currency.Upper(), tender.FormatDecimal(left, p.Currency), p.Currency.Upper())
		}
		entry = refundEntry{Ref: op.Ref, Key: req.IdempotencyKey, Amount: req.Amount, Status: tender.RefundSucceeded, Created: now}
		p.Refunds = append(p.Refunds, entry)
		return true, nil
	})
	if err != nil {
		return nil, err
	}

	// The index by refund reference; written last, as it only serves lookups.
	err = s.ledger.LedgerUpdate(ctx, Key, "refund:"+entry.Ref, func(old []byte) ([]byte, time.Time, error) {
		if old != nil {
			return nil, time.Time{}, nil
		}
		b, err := json.Marshal(opRecord{Ref: entry.Ref, Payment: req.Reference})
		return b, time.Time{}, err
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "sandbox refund", "ref", req.Reference, "refund", entry.Ref, "amount", entry.Amount)
	return &tender.RefundResult{Status: entry.Status, Reference: entry.Ref}, nil
}

// Retrieve reports where a payment stands: by Reference, or when it is ""
// by the authorize call's idempotency key. It returns tender.ErrNotFound
// (wrapped) for a payment the sandbox never made.
func (s *Sandbox) Retrieve(ctx context.Context, req *tender.RetrieveRequest) (*tender.ProviderResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ref := req.Reference
	if ref == "" {
		ref = authorizeRef(&req.ProviderCall)
	}
	p, err := s.getPayment(ctx, ref, &req.ProviderCall)
	if err != nil {
		return nil, err
	}
	return s.result(p), nil
}

// authorizeRef is the reference of the payment an authorize call's
// idempotency key makes: "sbx_" and 26 base32 digits of a SHA-256 of the
// merchant, mode and key, so that one merchant's key never names another's
// payment.
func authorizeRef(call *tender.ProviderCall) string {
	sum := sha256.Sum256([]byte(call.MerchantID + "|" + modeOf(call.Livemode) + "|" + call.IdempotencyKey))
	return "sbx_" + refEncoding.EncodeToString(sum[:16])
}

// refEncoding writes references in the alphabet of Tender's ids.
var refEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

func modeOf(live bool) string {
	if live {
		return "live"
	}
	return "test"
}

// RetrieveRefund reports where a refund stands, by reference or by the
// refund call's idempotency key.
func (s *Sandbox) RetrieveRefund(ctx context.Context, req *tender.RetrieveRequest) (*tender.RefundResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var op *opRecord
	var err error
	if req.Reference != "" {
		op, err = s.getOp(ctx, "refund:"+req.Reference)
	} else {
		op, err = s.getOp(ctx, opKey("refund", &req.ProviderCall))
	}
	if err != nil {
		return nil, err
	}
	p, err := s.getPayment(ctx, op.Payment, &req.ProviderCall)
	if err != nil {
		return nil, err
	}
	e := p.refund(op.Ref)
	if e == nil {
		// The key was claimed but the refund never made (refused, or a
		// crash in between): the sandbox never saw it.
		return nil, fmt.Errorf("sandbox: refund %s: %w", op.Ref, tender.ErrNotFound)
	}
	return &tender.RefundResult{Status: e.Status, Reference: e.Ref}, nil
}

// getOp reads an op (or refund index) record.
func (s *Sandbox) getOp(ctx context.Context, key string) (*opRecord, error) {
	b, err := s.get(ctx, key)
	if err != nil {
		return nil, err
	}
	var op opRecord
	if err := json.Unmarshal(b, &op); err != nil {
		return nil, fmt.Errorf("sandbox: decode %s: %w", key, err)
	}
	return &op, nil
}

// getPayment reads a payment as of now, for the caller's merchant and mode
// (call nil: for anyone, as the 3-D Secure page).
func (s *Sandbox) getPayment(ctx context.Context, ref string, call *tender.ProviderCall) (*payment, error) {
	if ref == "" {
		return nil, fmt.Errorf("sandbox: payment without reference: %w", tender.ErrNotFound)
	}
	b, err := s.get(ctx, paymentKey(ref))
	if err != nil {
		return nil, err
	}
	var p payment
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("sandbox: decode payment %s: %w", ref, err)
	}
	if call != nil && !sameTenant(&p, call) {
		return nil, fmt.Errorf("sandbox: payment %s: %w", ref, tender.ErrNotFound)
	}
	p.advance(s.now())
	return &p, nil
}

// get reads a record; a missing one is tender.ErrNotFound whether the
// ledger reports it as an error or as no bytes.
func (s *Sandbox) get(ctx context.Context, key string) ([]byte, error) {
	b, err := s.ledger.LedgerGet(ctx, Key, key)
	if err == nil && b == nil {
		err = tender.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, tender.ErrNotFound) {
			return nil, fmt.Errorf("sandbox: %s: %w", key, tender.ErrNotFound)
		}
		return nil, err
	}
	return b, nil
}

// updatePayment applies fn to the payment ref atomically. fn reports whether
// it changed the payment; its error refuses the operation (nothing is
// written but what time alone changed). A payment of another merchant or
// mode is not found, so references never leak across tenants.
func (s *Sandbox) updatePayment(ctx context.Context, ref string, call *tender.ProviderCall, fn func(p *payment) (bool, error)) (*payment, error) {
	if ref == "" {
		return nil, tender.MissingParam("reference")
	}
	now := s.now()
	var out *payment
	var refusal error
	err := s.ledger.LedgerUpdate(ctx, Key, paymentKey(ref), func(old []byte) ([]byte, time.Time, error) {
		// The ledger may run fn more than once (a retried transaction):
		// start from scratch every time.
		out, refusal = nil, nil
		if old == nil {
			refusal = noSuchPayment(ref)
			return nil, time.Time{}, nil
		}
		var p payment
		if err := json.Unmarshal(old, &p); err != nil {
			return nil, time.Time{}, fmt.Errorf("sandbox: decode payment %s: %w", ref, err)
		}
		if call != nil && !sameTenant(&p, call) {
			refusal = noSuchPayment(ref)
			return nil, time.Time{}, nil
		}
		advanced := p.advance(now)
		changed, err := fn(&p)
		if err != nil {
			refusal = err
			changed = false
		}
		out = &p
		if !changed && !advanced {
			return nil, time.Time{}, nil
		}
		b, err := json.Marshal(&p)
		return b, p.dueAt(), err
	})
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return nil, refusal
	}
	return out, nil
}

func sameTenant(p *payment, call *tender.ProviderCall) bool {
	return p.MerchantID == call.MerchantID && p.Livemode == call.Livemode
}

// checkCall refuses what the sandbox must never do: live payments (it moves
// no real money, so a live payment through it would be a lie), and calls
// without the idempotency key its guarantees rest on.
func checkCall(call *tender.ProviderCall) error {
	if call.Livemode {
		return tender.InvalidRequest("livemode_not_supported", "The sandbox provider is available in test mode only.")
	}
	if call.IdempotencyKey == "" {
		return errors.New("sandbox: provider call without an idempotency key")
	}
	return nil
}

func unexpectedState(action string, p *payment) *tender.Error {
	return tender.InvalidRequest(tender.CodeUnexpectedState,
		"You cannot %s this payment because it has a status of %s.", action, p.Status)
}

func noSuchPayment(ref string) *tender.Error {
	e := tender.NotFound("payment", ref)
	e.Param = "reference"
	e.Cause = tender.ErrNotFound
	return e
}

// noSuchPaymentMethod is Stripe's error for an unknown payment method. It
// echoes the token unless it looks like a card number, which must not end
// up in an API response or a log.
func noSuchPaymentMethod(token string) *tender.Error {
	msg := "No such PaymentMethod: '" + token + "'"
	digits := 0
	for i := 0; i < len(token); i++ {
		if token[i] >= '0' && token[i] <= '9' {
			digits++
		}
	}
	if digits >= 12 || len(token) > 100 {
		msg = "No such PaymentMethod."
	}
	return &tender.Error{Type: tender.InvalidRequestError, Code: tender.CodeResourceMissing, Param: "payment_method", Message: msg}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("sandbox: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}
