// Package engine orchestrates payments: payment intents and their charges,
// captures, cancellations and refunds, through the providers, under the
// rules that make payments safe to retry and to crash in the middle of.
//
// Every operation that calls a provider runs in three phases, and never
// calls a provider inside a database transaction:
//
//  1. record the attempt (a charge or refund "in flight") in a transaction:
//     this is the recovery point;
//  2. call the provider with an idempotency key derived from the attempt,
//     so that repeating the call returns the first outcome;
//  3. record the outcome and its events in one transaction.
//
// A crash between phases leaves an attempt in flight. Recovery (and a
// client's retry with the same Idempotency-Key) finishes it by asking the
// provider, never by charging twice. Events are written in the same
// transaction as the change they describe (transactional outbox).
package engine

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tenderhq/tender"
)

// Keyring opens sealed provider credentials (vault.Keyring implements it).
type Keyring interface {
	Seal(plaintext, aad []byte) (string, error)
	Open(ciphertext string, aad []byte) ([]byte, error)
	MAC(purpose string, data []byte) []byte
}

// ResolvedMethod is a payment method as a provider needs it.
type ResolvedMethod struct {
	// ID is what the intent records (a pm_… id or a test token).
	ID string
	// Token is the provider's reference for the method.
	Token string
	// Provider is the provider the method belongs to ("" = any).
	Provider string
	// Customer is the customer the method is attached to ("" = none), and
	// CustomerRef that customer's reference at the provider.
	Customer    string
	CustomerRef string
	Card        *tender.CardDetails
}

// MethodResolver turns the payment_method a client sent into what a provider needs.
type MethodResolver interface {
	Resolve(ctx context.Context, t tender.Tenant, paymentMethod string) (*ResolvedMethod, error)
}

// Config is what an Engine needs. Store, Providers and Keyring are required.
type Config struct {
	Store     tender.PaymentStore
	Providers *tender.Registry
	Keyring   Keyring
	Methods   MethodResolver
	Logger    *slog.Logger
	Now       func() time.Time
	// ProviderTimeout bounds one provider call (default 20s).
	ProviderTimeout time.Duration
	// RecoverAfter is how old an attempt in flight must be before recovery
	// settles it (default 30s): longer than any provider call may take.
	RecoverAfter time.Duration
	// Fault, if set, is called at named points; tests use it to crash the
	// process where a real failure would hurt most.
	Fault func(point string)
	// PublicURL is where shoppers reach Tender (hosted checkout links).
	PublicURL string
}

// Engine runs payments.
type Engine struct {
	store     tender.PaymentStore
	providers *tender.Registry
	keyring   Keyring
	methods   MethodResolver
	log       *slog.Logger
	now       func() time.Time
	timeout   time.Duration
	recover   time.Duration
	fault     func(string)
	publicURL string
}

// New makes an engine.
func New(cfg Config) *Engine {
	e := &Engine{store: cfg.Store, providers: cfg.Providers, keyring: cfg.Keyring, methods: cfg.Methods,
		log: cfg.Logger, now: cfg.Now, timeout: cfg.ProviderTimeout, recover: cfg.RecoverAfter, fault: cfg.Fault,
		publicURL: cfg.PublicURL}
	if e.methods == nil {
		e.methods = resolver{e}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.timeout <= 0 {
		e.timeout = 20 * time.Second
	}
	if e.recover <= 0 {
		e.recover = 30 * time.Second
	}
	if e.fault == nil {
		e.fault = func(string) {}
	}
	return e
}

// Store returns the engine's store.
func (e *Engine) Store() tender.PaymentStore { return e.store }

// Providers returns the provider registry.
func (e *Engine) Providers() *tender.Registry { return e.providers }

// Caller is who asks for an operation and through which request.
type Caller struct {
	tender.Tenant
	// RequestID and IdempotencyKey are stamped on the events the call causes.
	RequestID      string
	IdempotencyKey string
	// IdempotencyRecord is the id of the request's idempotency record: an
	// object the call creates is bound to it, so a retry finds it.
	IdempotencyRecord string
	// Resume is the object an interrupted earlier attempt of the same
	// idempotent request created; Resuming is set on every retry that took
	// over an interrupted request.
	Resume   string
	Resuming bool
	// OnCommit, if set, is called after each transaction the call commits:
	// the API keeps an idempotent request's error response only if the
	// request changed something.
	OnCommit func()
	// Idem, if set, is the request's idempotency record for the engine to
	// write in the call's own transactions (see Idempotency). Only
	// CreatePaymentIntent and ConfirmPaymentIntent accept one.
	Idem *Idempotency
}

// ErrKeyInUse is returned by a call whose Idempotency record could not be
// claimed: another request holds the key. Nothing was changed; the API
// answers as for any request that finds its key taken.
var ErrKeyInUse = errors.New("engine: the idempotency key is in use")

// Idempotency lets an idempotent request's record ride in the call's own
// transactions instead of in ones of their own: the record is inserted by
// the first transaction the call commits (with the object it creates), and
// the response is stored by the transaction that records the provider's
// answer, when the call ends there. A request that changes nothing never
// writes its record. Before any provider call the record is claimed on its
// own, so a provider is never asked twice for one key.
type Idempotency struct {
	// Record is the request's record, not yet written (Status in flight).
	Record *tender.IdempotencyRecord
	// Render, if set, is the response (status 200) the API sends for a call
	// that ends with pi; its bytes are stored with the outcome.
	Render func(pi *tender.PaymentIntent) []byte

	written bool
	lost    bool
	body    []byte
}

// Written reports whether the record was written (claimed).
func (i *Idempotency) Written() bool { return i.written }

// Lost reports whether another request held the key.
func (i *Idempotency) Lost() bool { return i.lost }

// Response is the body stored as the request's response by the call's last
// transaction (nil if it did not store one).
func (i *Idempotency) Response() []byte { return i.body }

// pending reports whether c carries a record still to write.
func (c Caller) pending() bool { return c.Idem != nil && !c.Idem.written }

// claim writes c's record on its own if it is still pending: before any
// provider call that no transaction of the call preceded.
func (e *Engine) claim(ctx context.Context, c Caller) error {
	if !c.pending() {
		return nil
	}
	existing, err := e.store.BeginIdempotent(ctx, c.Idem.Record)
	if err != nil {
		return err
	}
	if existing != nil {
		c.Idem.lost = true
		return ErrKeyInUse
	}
	c.Idem.written = true
	return nil
}

// inTx runs fn in a write transaction on behalf of c; the transaction also
// claims c's idempotency record if it is pending.
func (e *Engine) inTx(ctx context.Context, c Caller, fn func(tx tender.PaymentTx) error) error {
	claim := c.pending()
	err := e.store.InTx(ctx, func(tx tender.PaymentTx) error {
		if claim {
			ok, err := tx.ClaimIdempotency(ctx, c.Idem.Record)
			if err != nil {
				return err
			}
			if !ok {
				return ErrKeyInUse
			}
		}
		return fn(tx)
	})
	if claim {
		switch {
		case err == nil:
			c.Idem.written = true
		case errors.Is(err, ErrKeyInUse):
			c.Idem.lost = true
		}
	}
	if err == nil && c.OnCommit != nil {
		c.OnCommit()
	}
	return err
}

// respond stores, in tx, the response to c's idempotent request that ends
// with pi, if the API renders it, and returns it: the transaction that
// records the call's outcome records the answer too. The API compares what
// it sends with it.
func respond(ctx context.Context, tx tender.PaymentTx, c Caller, pi *tender.PaymentIntent) ([]byte, error) {
	if c.Idem == nil || c.Idem.Render == nil || !c.Idem.written {
		return nil, nil
	}
	body := c.Idem.Render(pi)
	return body, tx.FinishIdempotency(ctx, c.Tenant, c.Idem.Record.ID, 200, body)
}

func (e *Engine) nowUTC() time.Time { return e.now().UTC() }

// event appends an event about obj in tx.
func (e *Engine) event(ctx context.Context, tx tender.PaymentTx, c Caller, typ, objectID string, obj any, prev map[string]any) error {
	ev := &tender.Event{
		ID: tender.NewID(tender.PrefixEvent), MerchantID: c.MerchantID, Livemode: c.Livemode, Type: typ,
		Created: e.nowUTC(), ObjectID: objectID, Object: tender.MustJSON(obj),
		RequestID: c.RequestID, IdempotencyKey: c.IdempotencyKey,
	}
	if len(prev) > 0 {
		ev.PreviousAttributes = tender.MustJSON(prev)
	}
	return tx.InsertEvent(ctx, ev)
}

// notFound maps a storage miss to the API's 404 for the object.
func notFound(err error, object, id string) error {
	if errors.Is(err, tender.ErrNotFound) {
		return tender.NotFound(object, id)
	}
	return err
}

// provider returns a registered provider usable by the tenant.
func (e *Engine) provider(key string) (tender.Provider, error) {
	p, ok := e.providers.Get(key)
	if !ok {
		return nil, tender.InvalidParam(tender.CodeParameterInvalid, "provider", "Unknown provider: %s.", key)
	}
	return p, nil
}

// callData loads what a provider call needs: the tenant's credentials and
// settings for the provider, opened for this call only.
func (e *Engine) callData(ctx context.Context, t tender.Tenant, provider, idemKey string) (tender.ProviderCall, error) {
	call := tender.ProviderCall{MerchantID: t.MerchantID, Livemode: t.Livemode, IdempotencyKey: idemKey}
	if p, ok := e.providers.Get(provider); ok && !p.Info().Modes.NeedsConfig {
		return call, nil // nothing to configure (the sandbox): no lookup
	}
	cfg, err := e.store.ProviderConfig(ctx, t, provider)
	if errors.Is(err, tender.ErrNotFound) {
		return call, nil
	}
	if err != nil {
		return call, err
	}
	call.Settings = cfg.Settings
	if cfg.SealedCredentials != "" {
		creds, err := e.openCredentials(cfg)
		if err != nil {
			return call, err
		}
		call.Credentials = creds
	}
	return call, nil
}

func (e *Engine) openCredentials(cfg *tender.ProviderConfig) (tender.Credentials, error) {
	pt, err := e.keyring.Open(cfg.SealedCredentials, tender.CredentialsAAD(cfg.Tenant, cfg.Provider))
	if err != nil {
		return nil, fmt.Errorf("open %s credentials of %s: %w", cfg.Provider, cfg.MerchantID, err)
	}
	var creds tender.Credentials
	if err := json.Unmarshal(pt, &creds); err != nil {
		return nil, fmt.Errorf("decode %s credentials: %w", cfg.Provider, err)
	}
	return creds, nil
}

// withTimeout bounds a provider call. The call also survives the client
// going away: a request canceled mid-call must still record the outcome.
func (e *Engine) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), e.timeout)
}

func randomToken(n int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Idempotency keys sent to providers, derived from Tender's attempt ids:
// the same attempt always sends the same key.
func authorizeKey(chargeID string) string { return "tender-authorize-" + chargeID }
func captureKey(chargeID string) string   { return "tender-capture-" + chargeID }
func cancelKey(chargeID string) string    { return "tender-cancel-" + chargeID }
func refundKey(refundID string) string    { return "tender-refund-" + refundID }

// isDefinite reports whether a provider's error is its answer (the request
// was refused) rather than a failure to learn the answer (timeout, reset).
func isDefinite(err error) (*tender.Error, bool) {
	return tender.AsError(err)
}
