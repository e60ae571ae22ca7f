package tender

import (
	"context"
	"time"
)

// Tenant names whose data a call may touch: one merchant, one mode. Every
// storage call on tenant-owned data takes one, and every query filters by
// both fields, so another tenant's object is simply not found.
type Tenant struct {
	MerchantID string
	Livemode   bool
}

// ListQuery selects a page of a list, newest first (ids are time-ordered).
type ListQuery struct {
	Tenant
	Limit         int
	StartingAfter string
	EndingBefore  string
	CreatedGT     *time.Time
	CreatedGTE    *time.Time
	CreatedLT     *time.Time
	CreatedLTE    *time.Time
	// Filters; each list honours the ones that apply to it.
	Customer      string
	PaymentIntent string
	Charge        string
	Types         []string // events: exact types, or prefixes ending in ".*"
	Email         string
	Provider      string
	Status        string
	Statuses      []string
	Currency      string
	AmountGTE     *int64
	AmountLTE     *int64
}

// AnyCustomer as ListQuery.Customer lists payment methods attached to any customer.
const AnyCustomer = "*"

// Page is one page of a list.
type Page[T any] struct {
	Data    []T
	HasMore bool
}

// PaymentReader reads payment objects. forUpdate locks the row until the
// transaction ends (PostgreSQL's FOR UPDATE; SQLite's single writer already
// serializes write transactions).
type PaymentReader interface {
	PaymentIntent(ctx context.Context, t Tenant, id string, forUpdate bool) (*PaymentIntent, error)
	Charge(ctx context.Context, t Tenant, id string, forUpdate bool) (*Charge, error)
	// ChargeByProviderRef finds the charge a provider's reference names.
	ChargeByProviderRef(ctx context.Context, t Tenant, provider, ref string, forUpdate bool) (*Charge, error)
	Refund(ctx context.Context, t Tenant, id string, forUpdate bool) (*Refund, error)
	RefundByProviderRef(ctx context.Context, t Tenant, provider, ref string, forUpdate bool) (*Refund, error)
	// RefundedTotal is the sum of a charge's refunds that are pending or succeeded.
	RefundedTotal(ctx context.Context, t Tenant, chargeID string) (int64, error)
	Event(ctx context.Context, t Tenant, id string) (*Event, error)
	Customer(ctx context.Context, t Tenant, id string, forUpdate bool) (*Customer, error)
	PaymentMethod(ctx context.Context, t Tenant, id string, forUpdate bool) (*PaymentMethod, error)
	CheckoutSession(ctx context.Context, t Tenant, id string, forUpdate bool) (*CheckoutSession, error)
	ProviderConfig(ctx context.Context, t Tenant, provider string) (*ProviderConfig, error)
	ProviderConfigs(ctx context.Context, t Tenant) ([]*ProviderConfig, error)

	ListPaymentIntents(ctx context.Context, q ListQuery) (Page[*PaymentIntent], error)
	ListCharges(ctx context.Context, q ListQuery) (Page[*Charge], error)
	ListRefunds(ctx context.Context, q ListQuery) (Page[*Refund], error)
	ListEvents(ctx context.Context, q ListQuery) (Page[*Event], error)
	// ListCustomers lists customers that are not deleted.
	ListCustomers(ctx context.Context, q ListQuery) (Page[*Customer], error)
	ListPaymentMethods(ctx context.Context, q ListQuery) (Page[*PaymentMethod], error)
	ListCheckoutSessions(ctx context.Context, q ListQuery) (Page[*CheckoutSession], error)
}

// PaymentTx is a write transaction over payment objects.
type PaymentTx interface {
	PaymentReader
	InsertPaymentIntent(ctx context.Context, pi *PaymentIntent) error
	// UpdatePaymentIntent writes pi if its Version is still the stored one,
	// and increments Version; otherwise ErrConflict.
	UpdatePaymentIntent(ctx context.Context, pi *PaymentIntent) error
	InsertCharge(ctx context.Context, c *Charge) error
	UpdateCharge(ctx context.Context, c *Charge) error
	InsertRefund(ctx context.Context, r *Refund) error
	UpdateRefund(ctx context.Context, r *Refund) error
	// InsertEvent appends an event (and, once webhooks exist, its deliveries).
	InsertEvent(ctx context.Context, e *Event) error
	// BindIdempotency records which object an idempotent request created,
	// so that a retry of an interrupted request resumes it.
	BindIdempotency(ctx context.Context, t Tenant, recordID, resourceID string) error
	// ClaimIdempotency inserts an idempotent request's record as part of the
	// request's first change; false (and nothing written) if the key exists.
	ClaimIdempotency(ctx context.Context, rec *IdempotencyRecord) (bool, error)
	// FinishIdempotency stores an idempotent request's response as part of
	// the request's last change.
	FinishIdempotency(ctx context.Context, t Tenant, id string, status int, body []byte) error
	InsertCustomer(ctx context.Context, c *Customer) error
	UpdateCustomer(ctx context.Context, c *Customer) error
	InsertPaymentMethod(ctx context.Context, pm *PaymentMethod) error
	UpdatePaymentMethod(ctx context.Context, pm *PaymentMethod) error
	InsertCheckoutSession(ctx context.Context, s *CheckoutSession) error
	UpdateCheckoutSession(ctx context.Context, s *CheckoutSession) error
	PutProviderConfig(ctx context.Context, c *ProviderConfig) error
	DeleteProviderConfig(ctx context.Context, t Tenant, provider string) error
}

// PaymentStore is the storage of the payment engine.
type PaymentStore interface {
	PaymentReader
	// InTx runs fn in one write transaction, committing if it returns nil.
	InTx(ctx context.Context, fn func(tx PaymentTx) error) error
	// StaleCharges claims up to limit charges whose attempt state is one of
	// states and was set before olderThan, moving their AttemptAt to now so
	// that other instances skip them for a while (FOR UPDATE SKIP LOCKED on
	// PostgreSQL). Recovery settles what it claims.
	StaleCharges(ctx context.Context, states []string, olderThan, now time.Time, limit int) ([]*Charge, error)
	// StaleRefunds claims in-flight refunds the same way.
	StaleRefunds(ctx context.Context, olderThan, now time.Time, limit int) ([]*Refund, error)
	IdempotencyStore
	// CheckoutSessionByID finds a session by id alone, for a storefront
	// holding its client token (checked by the caller, in constant time).
	CheckoutSessionByID(ctx context.Context, id string) (*CheckoutSession, error)
	// ExpiredSessions lists open sessions whose expiry passed.
	ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]*CheckoutSession, error)
}

// Idempotency record statuses.
const (
	IdempotencyInFlight = "in_flight"
	IdempotencyDone     = "done"
)

// IdempotencyRecord is one Idempotency-Key's request and first response.
type IdempotencyRecord struct {
	ID             string
	Tenant         Tenant
	Key            string
	RequestHash    string
	Status         string
	ResponseStatus int
	ResponseBody   []byte
	ResourceID     string
	// LockedAt is when the request running under the key started; the zero
	// time means nobody runs it (a failed attempt left it for a retry).
	LockedAt time.Time
	Created  time.Time
}

// IdempotencyStore keeps Idempotency-Keys. A unique index on (merchant,
// mode, key) makes concurrent first uses race in the database, not in
// memory, so that it holds across instances.
type IdempotencyStore interface {
	// BeginIdempotent inserts rec. If the key exists it inserts nothing and
	// returns the stored record.
	BeginIdempotent(ctx context.Context, rec *IdempotencyRecord) (existing *IdempotencyRecord, err error)
	// FindIdempotent reads a key's record (ErrNotFound if there is none),
	// without writing: a retry learns its key is known at the cost of a read.
	FindIdempotent(ctx context.Context, t Tenant, key string) (*IdempotencyRecord, error)
	// TakeOverIdempotent locks an in-flight record whose lock is lockedAt
	// (stale or released) for a new attempt; false if someone else did first.
	TakeOverIdempotent(ctx context.Context, t Tenant, id string, lockedAt, now time.Time) (bool, error)
	// FinishIdempotent stores the response and marks the record done.
	FinishIdempotent(ctx context.Context, t Tenant, id string, status int, body []byte) error
	// ReleaseIdempotent unlocks an in-flight record so a retry may resume at once.
	ReleaseIdempotent(ctx context.Context, t Tenant, id string) error
	// DeleteIdempotent forgets a record (the request never started executing).
	DeleteIdempotent(ctx context.Context, t Tenant, id string) error
	// PurgeIdempotency deletes records created before a time.
	PurgeIdempotency(ctx context.Context, before time.Time) (int64, error)
}

// ProviderConfig is a merchant's configuration of one provider in one mode
// (seed 000's PaymentProviderConfig).
type ProviderConfig struct {
	Tenant
	Provider string
	Enabled  bool
	// Priority orders a store's options; lower comes first.
	Priority int
	// SealedCredentials is the vault ciphertext of the credentials JSON.
	SealedCredentials string
	// CredentialHints show credentials without revealing them (prefix…last4).
	CredentialHints map[string]string
	Settings        map[string]string
	ValidatedAt     *time.Time
	Created         time.Time
	Updated         time.Time
}

// ProviderLedger is durable storage for a provider that is its own
// processor (the sandbox): records by key, some due at a time. Each call is
// its own transaction, as a remote processor's would be: nothing a provider
// records is part of Tender's own transactions.
type ProviderLedger interface {
	// LedgerUpdate reads the record at key (nil if none) and replaces it with
	// what fn returns (nil: leave it), atomically. dueAt schedules the
	// record for LedgerDue (zero: not scheduled). fn may be called more than
	// once (the store first tries creating the record); only its last call
	// counts, so it must not have side effects beyond its result.
	LedgerUpdate(ctx context.Context, provider, key string, fn func(old []byte) (value []byte, dueAt time.Time, err error)) error
	LedgerGet(ctx context.Context, provider, key string) ([]byte, error)
	// LedgerDue returns keys of records scheduled at or before now.
	LedgerDue(ctx context.Context, provider string, now time.Time, limit int) ([]string, error)
	// LedgerCount counts records whose key starts with prefix.
	LedgerCount(ctx context.Context, provider, prefix string) (int, error)
}

// InboundStore supports providers' webhooks: finding whose payment an event
// is about, and remembering which events were applied.
type InboundStore interface {
	// ChargeTenant finds the tenant of the charge a provider reference names.
	ChargeTenant(ctx context.Context, provider, ref string) (Tenant, error)
	// ProviderEventSeen reports whether an event was applied for a tenant already.
	ProviderEventSeen(ctx context.Context, provider, eventID string, t Tenant) (bool, error)
	// RecordProviderEvent remembers that an event was applied.
	RecordProviderEvent(ctx context.Context, provider, eventID string, t Tenant, at time.Time) error
}
