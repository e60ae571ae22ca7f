package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tenderhq/tender"
)

// Retrieve without a reference must learn what became of an authorize
// whose answer was lost. Stripe has no lookup by idempotency key, but it
// answers a request re-sent with the same key and the same parameters with
// the first request's response (for 24 hours), and performs it if it never
// arrived. tender.RetrieveRequest carries only the key, not the request, so
// the provider remembers each authorize request (never its credentials)
// before sending it: in memory, bounded, keyed by the secret key; and, when
// Options.Ledger is set, durably, so that it survives a crash.

// recordMemorySize bounds the in-memory records; the oldest go first. An
// answer is lost rarely and recovery asks within minutes, so the last few
// thousand requests are plenty.
const recordMemorySize = 4096

// idempotencyWindow is how long after the first request Stripe still
// replays it: re-sending later could charge a second time. Tender's
// recovery asks long before; a record older than this is not re-sent.
const idempotencyWindow = 23 * time.Hour

// authorizeRecord is an authorize request as it was sent, minus the
// credentials and the idempotency key (which name the record).
type authorizeRecord struct {
	Created       time.Time         `json:"created"`
	MerchantID    string            `json:"merchant_id"`
	Livemode      bool              `json:"livemode"`
	PaymentIntent string            `json:"payment_intent"`
	Charge        string            `json:"charge"`
	Amount        int64             `json:"amount"`
	Currency      string            `json:"currency"`
	PaymentMethod string            `json:"payment_method"`
	Customer      string            `json:"customer,omitempty"`
	Capture       bool              `json:"capture"`
	OffSession    bool              `json:"off_session,omitempty"`
	SaveMethod    bool              `json:"save_method,omitempty"`
	ClientSide    bool              `json:"client_side,omitempty"`
	ReturnURL     string            `json:"return_url,omitempty"`
	Description   string            `json:"description,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
}

func newRecord(req *tender.AuthorizeRequest, now time.Time) *authorizeRecord {
	var md map[string]string
	if len(req.Metadata) > 0 {
		md = make(map[string]string, len(req.Metadata))
		for k, v := range req.Metadata {
			md[k] = v
		}
	}
	return &authorizeRecord{Created: now.UTC(), MerchantID: req.MerchantID, Livemode: req.Livemode,
		PaymentIntent: req.PaymentIntent, Charge: req.Charge, Amount: req.Amount, Currency: req.Currency.Code(),
		PaymentMethod: req.PaymentMethod, Customer: req.Customer, Capture: req.Capture, OffSession: req.OffSession,
		SaveMethod: req.SaveMethod, ClientSide: req.ClientSide, ReturnURL: req.ReturnURL, Description: req.Description, Metadata: md}
}

// request rebuilds the authorize request for call (whose credentials and
// idempotency key are the ones to send).
func (r *authorizeRecord) request(call tender.ProviderCall) (*tender.AuthorizeRequest, error) {
	cur, err := tender.ParseCurrency(r.Currency, "currency")
	if err != nil {
		return nil, fmt.Errorf("stripe: recorded authorize request: %w", err)
	}
	return &tender.AuthorizeRequest{ProviderCall: call, PaymentIntent: r.PaymentIntent, Charge: r.Charge,
		Amount: r.Amount, Currency: cur, PaymentMethod: r.PaymentMethod, Customer: r.Customer, Capture: r.Capture,
		OffSession: r.OffSession, SaveMethod: r.SaveMethod, ClientSide: r.ClientSide, ReturnURL: r.ReturnURL,
		Description: r.Description, Metadata: r.Metadata}, nil
}

// recordMemory is a bounded map of records, oldest evicted first.
type recordMemory struct {
	mu   sync.Mutex
	m    map[string]*authorizeRecord
	ring []string
	next int
}

func newRecordMemory(size int) *recordMemory {
	return &recordMemory{m: make(map[string]*authorizeRecord, size), ring: make([]string, size)}
}

// put keeps the first record of a key: a repeated authorize is the same
// request, and the first one's time is what the 24 h window counts from.
func (m *recordMemory) put(k string, r *authorizeRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[k]; ok {
		return
	}
	if old := m.ring[m.next]; old != "" {
		delete(m.m, old)
	}
	m.ring[m.next] = k
	m.next = (m.next + 1) % len(m.ring)
	m.m[k] = r
}

func (m *recordMemory) get(k string) *authorizeRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[k]
}

// memoryKey names a record in memory: by the secret key it was sent with
// (hashed), so that only that key's calls find it, and the idempotency key.
func memoryKey(call *tender.ProviderCall) string {
	return keyHash(call.Credentials[CredSecretKey]) + "\x00" + call.IdempotencyKey
}

// ledgerKey names a record in the ledger: by merchant and mode, the scope
// of Tender's idempotency keys (the secret key may be rolled meanwhile).
func ledgerKey(call *tender.ProviderCall) string {
	mode := "test"
	if call.Livemode {
		mode = "live"
	}
	return "authorize:" + call.MerchantID + ":" + mode + ":" + call.IdempotencyKey
}

// remember records req before it is sent. A failure to record durably
// stops the call before anything is sent, so that "no record" keeps
// meaning "never sent".
func (p *Provider) remember(ctx context.Context, req *tender.AuthorizeRequest) error {
	rec := newRecord(req, p.now())
	p.records.put(memoryKey(&req.ProviderCall), rec)
	if p.opt.Ledger == nil {
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = p.opt.Ledger.LedgerUpdate(ctx, Key, ledgerKey(&req.ProviderCall), func(old []byte) ([]byte, time.Time, error) {
		if old != nil {
			return nil, time.Time{}, nil
		}
		return b, time.Time{}, nil
	})
	if err != nil {
		return fmt.Errorf("stripe: record authorize request before sending it (nothing was sent): %w", err)
	}
	return nil
}

// errNoRecord: this process did not send the request and there is no
// durable record to tell whether any process did.
var errNoRecord = errors.New("stripe: no record of an authorize request with this idempotency key in this process, and no Options.Ledger to look it up; " +
	"the outcome is unknown until a payment_intent webhook (metadata tender_charge) arrives")

// recall finds the authorize request sent with call's idempotency key.
// found=false with a nil error means the request was never sent (only a
// durable ledger can say so); errNoRecord means nobody can tell.
func (p *Provider) recall(ctx context.Context, call *tender.ProviderCall) (*authorizeRecord, error) {
	if rec := p.records.get(memoryKey(call)); rec != nil {
		return rec, nil
	}
	if p.opt.Ledger == nil {
		return nil, errNoRecord
	}
	b, err := p.opt.Ledger.LedgerGet(ctx, Key, ledgerKey(call))
	if errors.Is(err, tender.ErrNotFound) || err == nil && b == nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stripe: read authorize record: %w", err)
	}
	var rec authorizeRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("stripe: decode authorize record: %w", err)
	}
	if rec.MerchantID != call.MerchantID || rec.Livemode != call.Livemode {
		return nil, nil
	}
	return &rec, nil
}
