// Package stripefake is a stateful fake of the parts of Stripe's API that
// Tender's Stripe provider uses, served over real HTTP by an
// httptest.Server, for the provider's tests and for black-box tests of the
// whole server (TENDER_STRIPE_API_URL).
//
// What it keeps, per account:
//
//   - Accounts reached by their keys: every secret key names one account
//     and a request sees only that account's objects, so two merchants'
//     data stay apart as at Stripe. A key the fake does not know is
//     answered 401, as Stripe does. A restricted key (AddRestrictedKey)
//     lacks the balance permission (403 on GET /v1/balance).
//   - Idempotency like Stripe's: a POST repeated with the same
//     Idempotency-Key and the same parameters gets the first answer again
//     (with the Idempotent-Replayed header) and changes nothing; the same
//     key with other parameters is an idempotency_error.
//   - PaymentIntents created and confirmed in one request, with automatic
//     or manual capture, partial capture, cancel, refunds and partial
//     refunds (never beyond what was captured); customers; payment
//     methods attached and detached.
//   - Test cards by payment method id (see Cards): successes, declines
//     with decline codes, a card that needs 3-D Secure, and a card whose
//     payment stays processing until SettleAsync or FailAsync.
//
// It is strict about parameters, as Stripe is: an unknown parameter is
// refused, which is how a request-shape bug shows.
//
// Tests drive what would happen at Stripe without Tender (a card settling,
// a customer completing 3-D Secure, a capture from the Stripe dashboard)
// with SettleAsync, FailAsync, Authenticate, Capture and Cancel, and build the
// event Stripe would send about an object as it is now with Event. They
// inject faults with FailNext and inspect what reached the fake with
// Requests, Created, PaymentIntent, PaymentIntents and Customers.
//
// Everything is safe for concurrent use.
package stripefake

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIVersion is the API version the fake's events say they were rendered
// with.
const APIVersion = "2025-01-27.acacia"

// Fault is a failure FailNext injects.
type Fault string

// Faults. All but FaultDrop happen before the request is processed: the
// request never reached Stripe's state.
const (
	// Fault500 answers 500 api_error.
	Fault500 Fault = "500"
	// Fault429 answers 429 rate_limit.
	Fault429 Fault = "429"
	// FaultHang never answers: the request hangs until the client gives
	// up or the fake is closed. Hung receives a value as each one starts.
	FaultHang Fault = "hang"
	// FaultReset closes the connection without an answer (TCP RST).
	FaultReset Fault = "reset"
	// FaultGarbage answers 200 with a body that is not JSON.
	FaultGarbage Fault = "garbage"
	// FaultDrop processes the request, then resets the connection: the
	// payment happened but its answer was lost.
	FaultDrop Fault = "drop"
)

// Card is a test card, named by the payment method id that stands for it
// (pm_card_visa …), as Stripe's test tokens are.
type Card struct {
	Brand, Last4, Funding, Country string
	// Outcome is what a payment with it does: "ok", "decline", "3ds"
	// (requires_action on session; authentication_required off session) or
	// "processing" (stays processing until SettleAsync or FailAsync).
	Outcome string
	// DeclineCode is the issuer's reason, for Outcome "decline".
	DeclineCode string
}

var cards = map[string]Card{
	"pm_card_visa":                            {Brand: "visa", Last4: "4242", Funding: "credit", Country: "US", Outcome: "ok"},
	"pm_card_mastercard":                      {Brand: "mastercard", Last4: "4444", Funding: "credit", Country: "US", Outcome: "ok"},
	"pm_card_visa_debit":                      {Brand: "visa", Last4: "5556", Funding: "debit", Country: "US", Outcome: "ok"},
	"pm_card_chargeDeclined":                  {Brand: "visa", Last4: "0002", Funding: "credit", Country: "US", Outcome: "decline", DeclineCode: "generic_decline"},
	"pm_card_chargeDeclinedInsufficientFunds": {Brand: "visa", Last4: "9995", Funding: "credit", Country: "US", Outcome: "decline", DeclineCode: "insufficient_funds"},
	"pm_card_threeDSecure2Required":           {Brand: "visa", Last4: "3220", Funding: "credit", Country: "US", Outcome: "3ds"},
	"pm_card_processing":                      {Brand: "visa", Last4: "0077", Funding: "credit", Country: "US", Outcome: "processing"},
}

// Cards returns the test cards the fake knows, by payment method id.
func Cards() map[string]Card {
	out := make(map[string]Card, len(cards))
	for k, v := range cards {
		out[k] = v
	}
	return out
}

// Request is what the fake saw of one request.
type Request struct {
	// Key is the API key the request carried (Authorization: Bearer).
	Key string
	// Account is the name of the account whose data the request reached,
	// "" when its key was refused or a fault struck before processing.
	Account string
	Method  string
	Path    string
	// IdempotencyKey is the Idempotency-Key header.
	IdempotencyKey string
	// Form is the request's parameters (query and form body).
	Form url.Values
	// Replayed is set when the answer was an idempotent replay.
	Replayed bool
	// Status is the HTTP status answered; 0 when none was (hang, reset,
	// drop).
	Status int
}

// PaymentIntent is a snapshot of a PaymentIntent at the fake.
type PaymentIntent struct {
	ID, Account                       string
	Status                            string
	Amount                            int64
	AmountCapturable, AmountReceived  int64
	AmountRefunded                    int64
	Currency, CaptureMethod           string
	Customer, PaymentMethod           string
	OffSession                        bool
	SetupFutureUsage, Description     string
	CancellationReason                string
	Metadata                          map[string]string
	LatestCharge                      string
	LastPaymentErrorCode, DeclineCode string
}

// Customer is a snapshot of a customer at the fake.
type Customer struct {
	ID, Account, Email, Name string
	Metadata                 map[string]string
	// PaymentMethods are the ids of the payment methods attached to it.
	PaymentMethods []string
}

// Fake is a running fake Stripe. Its zero value is not usable: see New.
type Fake struct {
	// URL is the base URL to give the provider (Options.APIURL,
	// TENDER_STRIPE_API_URL).
	URL string

	srv       *httptest.Server
	stop      chan struct{}
	closeOnce sync.Once
	hung      chan struct{}
	tag       string

	mu       sync.Mutex
	keys     map[string]*apiKey
	accounts map[string]*account
	seq      int
	fault    Fault
	faultN   int
	requests []Request
}

type keyKind int

const (
	keySecret keyKind = iota
	keyRestricted
	keyPublishable
)

type apiKey struct {
	acct *account
	kind keyKind
}

type account struct {
	name      string
	livemode  bool
	pis       map[string]*paymentIntent
	refunds   map[string]*refund
	customers map[string]*customer
	pms       map[string]*paymentMethod
	idem      map[string]*idemEntry
	// created counts PaymentIntents created (charges attempted).
	created int
}

type idemEntry struct {
	method, path, params string
	status               int
	body                 []byte
}

type paymentMethod struct {
	id       string
	card     Card
	customer string
	created  int64
}

type customer struct {
	id, email, name string
	metadata        map[string]string
	created         int64
	seq             int
}

type paymentIntent struct {
	seq                                      int
	id, currency, status, captureMethod      string
	amount, amountCapturable, amountReceived int64
	customer, paymentMethod, description     string
	setupFutureUsage, cancellationReason     string
	offSession, livemode                     bool
	metadata                                 map[string]string
	nextAction, lastError                    map[string]any
	charge                                   *charge
	refunded                                 int64
	card                                     Card
	created                                  int64
}

type charge struct {
	id       string
	captured int64
	status   string
}

type refund struct {
	id, pi, charge, status, reason, currency string
	amount, created                          int64
	metadata                                 map[string]string
}

// apiError is a Stripe error answer.
type apiError struct {
	status int
	body   map[string]any
}

// New starts a fake Stripe with no accounts. Close it when done.
func New() *Fake {
	var b [4]byte
	rand.Read(b[:])
	f := &Fake{stop: make(chan struct{}), hung: make(chan struct{}, 64), keys: map[string]*apiKey{},
		accounts: map[string]*account{}, tag: fmt.Sprintf("%x", b)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	return f
}

// Close stops the fake: hanging requests are released, connections
// closed. It may be called more than once.
func (f *Fake) Close() {
	f.closeOnce.Do(func() {
		close(f.stop)
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
}

func (f *Fake) accountLocked(name string, livemode bool) *account {
	a := f.accounts[name]
	if a == nil {
		a = &account{name: name, livemode: livemode, pis: map[string]*paymentIntent{}, refunds: map[string]*refund{},
			customers: map[string]*customer{}, pms: map[string]*paymentMethod{}, idem: map[string]*idemEntry{}}
		f.accounts[name] = a
	}
	return a
}

// AddAccount makes a Stripe account named name, reachable with secretKey
// (an sk_ key, which also sets the account's mode) and knowing
// publishableKey (which, as at Stripe, is refused on the endpoints the
// provider calls). Adding keys to an existing name gives that account
// more keys, as rolling a key at Stripe does; an empty key is skipped.
func (f *Fake) AddAccount(name, secretKey, publishableKey string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.accountLocked(name, strings.Contains(secretKey, "_live_"))
	if secretKey != "" {
		f.keys[secretKey] = &apiKey{acct: a, kind: keySecret}
	}
	if publishableKey != "" {
		f.keys[publishableKey] = &apiKey{acct: a, kind: keyPublishable}
	}
}

// AddRestrictedKey gives the account named account (made if need be) a
// restricted key (rk_…) that may use PaymentIntents but lacks the balance
// permission: GET /v1/balance answers it 403.
func (f *Fake) AddRestrictedKey(account, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[key] = &apiKey{acct: f.accountLocked(account, strings.Contains(key, "_live_")), kind: keyRestricted}
}

// RemoveKey makes key unknown from now on (revoked or rolled at Stripe):
// requests with it are answered 401.
func (f *Fake) RemoveKey(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.keys, key)
}

// FailNext makes the next n requests fail with mode.
func (f *Fake) FailNext(mode Fault, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault, f.faultN = mode, n
}

// Hung receives a value each time a request starts hanging (FaultHang):
// the request has reached the fake.
func (f *Fake) Hung() <-chan struct{} { return f.hung }

// Requests returns what the fake saw so far, in order of arrival.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Created counts the PaymentIntents created in the account named account
// (payments attempted; an idempotent replay creates none).
func (f *Fake) Created(account string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a := f.accounts[account]; a != nil {
		return a.created
	}
	return 0
}

// PaymentIntent returns a PaymentIntent, from whichever account holds it.
func (f *Fake) PaymentIntent(id string) (PaymentIntent, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, pi := f.findPI(id)
	if pi == nil {
		return PaymentIntent{}, false
	}
	return pi.snapshot(a.name), true
}

// PaymentIntents returns the PaymentIntents of the account named account,
// oldest first.
func (f *Fake) PaymentIntents(account string) []PaymentIntent {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.accounts[account]
	if a == nil {
		return nil
	}
	pis := make([]*paymentIntent, 0, len(a.pis))
	for _, pi := range a.pis {
		pis = append(pis, pi)
	}
	sort.Slice(pis, func(i, j int) bool { return pis[i].seq < pis[j].seq })
	out := make([]PaymentIntent, len(pis))
	for i, pi := range pis {
		out[i] = pi.snapshot(a.name)
	}
	return out
}

// Customers returns the customers of the account named account, oldest
// first.
func (f *Fake) Customers(account string) []Customer {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.accounts[account]
	if a == nil {
		return nil
	}
	var out []Customer
	for _, c := range a.customers {
		cus := Customer{ID: c.id, Account: a.name, Email: c.email, Name: c.name, Metadata: cloneMap(c.metadata)}
		for _, pm := range a.pms {
			if pm.customer == c.id {
				cus.PaymentMethods = append(cus.PaymentMethods, pm.id)
			}
		}
		sort.Strings(cus.PaymentMethods)
		out = append(out, cus)
	}
	sort.Slice(out, func(i, j int) bool { return a.customers[out[i].ID].seq < a.customers[out[j].ID].seq })
	return out
}

// CreatePaymentMethod makes a payment method in the account named account
// from a test card (Cards), as Stripe.js would in the customer's browser,
// and returns its id. The provider can then describe, attach and charge it.
func (f *Fake) CreatePaymentMethod(account, card string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.accounts[account]
	if a == nil {
		return "", fmt.Errorf("stripefake: no account %q", account)
	}
	c, ok := cards[card]
	if !ok {
		return "", fmt.Errorf("stripefake: no test card %q", card)
	}
	pm := &paymentMethod{id: f.nextID("pm"), card: c, created: time.Now().Unix()}
	a.pms[pm.id] = pm
	return pm.id, nil
}

// SettleAsync settles a processing payment (pm_card_processing) as its
// network would: with automatic capture it succeeds, with manual capture
// it becomes capturable. Stripe would then send payment_intent.succeeded
// or payment_intent.amount_capturable_updated.
func (f *Fake) SettleAsync(piID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, pi := f.findPI(piID)
	if pi == nil {
		return fmt.Errorf("stripefake: no PaymentIntent %s", piID)
	}
	if pi.status != "processing" {
		return fmt.Errorf("stripefake: PaymentIntent %s is %s, not processing", piID, pi.status)
	}
	if pi.charge == nil {
		pi.charge = &charge{id: f.nextID("ch")}
	}
	pi.charge.status = "succeeded"
	if pi.captureMethod == "manual" {
		pi.status, pi.amountCapturable = "requires_capture", pi.amount
	} else {
		pi.status, pi.amountReceived, pi.charge.captured = "succeeded", pi.amount, pi.amount
	}
	return nil
}

// ConfirmClientSide confirms a PaymentIntent as Stripe.js would in the
// shopper's browser, with a test card ("pm_card_visa"): it succeeds (or
// awaits capture). Stripe would then send payment_intent.succeeded.
func (f *Fake) ConfirmClientSide(piID, card string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, pi := f.findPI(piID)
	if pi == nil {
		return fmt.Errorf("stripefake: no PaymentIntent %s", piID)
	}
	if pi.status != "requires_payment_method" {
		return fmt.Errorf("stripefake: PaymentIntent %s is %s", piID, pi.status)
	}
	c, ok := cards[card]
	if !ok {
		return fmt.Errorf("stripefake: no test card %s", card)
	}
	pi.card = c
	pi.charge = &charge{id: f.nextID("ch"), status: "succeeded"}
	if pi.captureMethod == "manual" {
		pi.status, pi.amountCapturable = "requires_capture", pi.amount
	} else {
		pi.status, pi.amountReceived, pi.charge.captured = "succeeded", pi.amount, pi.amount
	}
	return nil
}

// FailAsync fails a processing payment with declineCode (card_declined):
// Stripe would send payment_intent.payment_failed.
func (f *Fake) FailAsync(piID, declineCode string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, pi := f.findPI(piID)
	if pi == nil {
		return fmt.Errorf("stripefake: no PaymentIntent %s", piID)
	}
	if pi.status != "processing" {
		return fmt.Errorf("stripefake: PaymentIntent %s is %s, not processing", piID, pi.status)
	}
	if pi.charge == nil {
		pi.charge = &charge{id: f.nextID("ch")}
	}
	pi.charge.status = "failed"
	pi.status = "requires_payment_method"
	pi.lastError = map[string]any{"type": "card_error", "code": "card_declined", "decline_code": declineCode,
		"message": "Your card was declined.", "charge": pi.charge.id}
	return nil
}

// Authenticate ends a 3-D Secure challenge (a PaymentIntent in
// requires_action): passed, the payment succeeds (or becomes capturable
// with manual capture); failed, it returns to requires_payment_method with
// payment_intent_authentication_failure.
func (f *Fake) Authenticate(piID string, passed bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, pi := f.findPI(piID)
	if pi == nil {
		return fmt.Errorf("stripefake: no PaymentIntent %s", piID)
	}
	if pi.status != "requires_action" {
		return fmt.Errorf("stripefake: PaymentIntent %s is %s, not requires_action", piID, pi.status)
	}
	pi.nextAction = nil
	if !passed {
		pi.status = "requires_payment_method"
		pi.lastError = map[string]any{"type": "invalid_request_error", "code": "payment_intent_authentication_failure",
			"message": "The provided PaymentMethod has failed authentication."}
		return nil
	}
	pi.charge = &charge{id: f.nextID("ch"), status: "succeeded"}
	if pi.captureMethod == "manual" {
		pi.status, pi.amountCapturable = "requires_capture", pi.amount
	} else {
		pi.status, pi.amountReceived, pi.charge.captured = "succeeded", pi.amount, pi.amount
	}
	return nil
}

// Capture captures all of a held PaymentIntent (requires_capture) outside
// Tender, as from the Stripe dashboard: Stripe would send
// payment_intent.succeeded.
func (f *Fake) Capture(piID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, pi := f.findPI(piID)
	if pi == nil {
		return fmt.Errorf("stripefake: no PaymentIntent %s", piID)
	}
	if pi.status != "requires_capture" {
		return fmt.Errorf("stripefake: PaymentIntent %s is %s, not requires_capture", piID, pi.status)
	}
	amount := pi.amountCapturable
	pi.status, pi.amountReceived, pi.amountCapturable, pi.charge.captured = "succeeded", amount, 0, amount
	return nil
}

// Cancel cancels a PaymentIntent that is not captured outside Tender, as
// from the Stripe dashboard, with reason (one of Stripe's cancellation
// reasons, or ""): Stripe would send payment_intent.canceled.
func (f *Fake) Cancel(piID, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, pi := f.findPI(piID)
	if pi == nil {
		return fmt.Errorf("stripefake: no PaymentIntent %s", piID)
	}
	switch pi.status {
	case "requires_payment_method", "requires_capture", "requires_action", "requires_confirmation":
	default:
		return fmt.Errorf("stripefake: PaymentIntent %s is %s and cannot be canceled", piID, pi.status)
	}
	if reason != "" && !slices.Contains(cancellationReasons, reason) {
		return fmt.Errorf("stripefake: %q is not a cancellation reason", reason)
	}
	pi.status, pi.amountCapturable, pi.cancellationReason, pi.nextAction = "canceled", 0, reason, nil
	return nil
}

// Event returns the JSON of a Stripe event of type typ about the object
// objectID (a PaymentIntent pi_…, charge ch_…, refund re_…, customer cus_…
// or payment method pm_…) as the object is now, with a new event id each
// call. Sign it (Stripe-Signature) to deliver it; deliver the same bytes
// again to model Stripe's redelivery of one event.
func (f *Fake) Event(typ, objectID string) ([]byte, error) {
	f.mu.Lock()
	obj, a := f.objectJSON(objectID)
	f.mu.Unlock()
	if obj == nil {
		return nil, fmt.Errorf("stripefake: no object %s", objectID)
	}
	return f.NewEvent(typ, obj, a.livemode), nil
}

// NewEvent wraps object (anything that encodes to a JSON object) in a
// Stripe event of type typ with a new event id: for events about objects
// the fake does not hold.
func (f *Fake) NewEvent(typ string, object any, livemode bool) []byte {
	f.mu.Lock()
	id := f.nextID("evt")
	f.mu.Unlock()
	b, err := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": APIVersion, "type": typ,
		"created": time.Now().Unix(), "livemode": livemode, "pending_webhooks": 1,
		"request": map[string]any{"id": nil, "idempotency_key": nil}, "data": map[string]any{"object": object}})
	if err != nil {
		panic("stripefake: event object does not encode: " + err.Error())
	}
	return b
}

// objectJSON finds an object by id in any account (f.mu held).
func (f *Fake) objectJSON(id string) (map[string]any, *account) {
	for _, a := range f.accounts {
		if pi := a.pis[id]; pi != nil {
			return f.piJSON(pi, false), a
		}
		if re := a.refunds[id]; re != nil {
			return refundJSON(re), a
		}
		if c := a.customers[id]; c != nil {
			return customerJSON(c), a
		}
		if pm := a.pms[id]; pm != nil {
			return pmJSON(pm), a
		}
		for _, pi := range a.pis {
			if pi.charge != nil && pi.charge.id == id {
				return chargeJSON(a, pi), a
			}
		}
	}
	return nil, nil
}

func (f *Fake) findPI(id string) (*account, *paymentIntent) {
	for _, a := range f.accounts {
		if pi := a.pis[id]; pi != nil {
			return a, pi
		}
	}
	return nil, nil
}

func (pi *paymentIntent) snapshot(acct string) PaymentIntent {
	s := PaymentIntent{ID: pi.id, Account: acct, Status: pi.status, Amount: pi.amount, AmountCapturable: pi.amountCapturable,
		AmountReceived: pi.amountReceived, AmountRefunded: pi.refunded, Currency: pi.currency, CaptureMethod: pi.captureMethod,
		Customer: pi.customer, PaymentMethod: pi.paymentMethod, OffSession: pi.offSession, SetupFutureUsage: pi.setupFutureUsage,
		Description: pi.description, CancellationReason: pi.cancellationReason, Metadata: cloneMap(pi.metadata)}
	if pi.charge != nil {
		s.LatestCharge = pi.charge.id
	}
	if pi.lastError != nil {
		s.LastPaymentErrorCode, _ = pi.lastError["code"].(string)
		s.DeclineCode, _ = pi.lastError["decline_code"].(string)
	}
	return s
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (f *Fake) nextID(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s_fake%s%06d", prefix, f.tag, f.seq)
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	req := Request{Key: key, Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"), Form: r.Form}

	f.mu.Lock()
	var fault Fault
	if f.faultN > 0 {
		fault = f.fault
		f.faultN--
	}
	switch fault {
	case FaultHang:
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		select {
		case f.hung <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-f.stop:
		}
		return
	case FaultReset:
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		resetConn(w)
		return
	case Fault500:
		req.Status = 500
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		writeJSON(w, 500, map[string]any{"error": map[string]any{"type": "api_error", "message": "Something went wrong on Stripe's end."}})
		return
	case Fault429:
		req.Status = 429
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		writeJSON(w, 429, map[string]any{"error": map[string]any{"type": "invalid_request_error", "code": "rate_limit",
			"message": "Too many requests hit the API too quickly."}})
		return
	case FaultGarbage:
		req.Status = 200
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(200)
		w.Write([]byte("<html>upstream proxy error{"))
		return
	}

	status, body := f.handle(r, &req)
	if fault != FaultDrop {
		req.Status = status
	}
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	if fault == FaultDrop {
		resetConn(w)
		return
	}
	if req.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake")
	w.WriteHeader(status)
	w.Write(body)
}

// resetConn closes the connection without an answer (TCP RST).
func resetConn(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// handle answers a request (f.mu held): authentication, idempotency, route.
func (f *Fake) handle(r *http.Request, req *Request) (int, []byte) {
	k := f.keys[req.Key]
	if k == nil {
		last4 := req.Key
		if len(last4) > 4 {
			last4 = last4[len(last4)-4:]
		}
		return marshal(401, map[string]any{"error": map[string]any{"type": "invalid_request_error",
			"message": "Invalid API Key provided: sk_test_****" + last4}})
	}
	if k.kind == keyPublishable {
		return marshal(401, map[string]any{"error": map[string]any{"type": "invalid_request_error",
			"message": "This API call cannot be made with a publishable API key. Please use a secret API key."}})
	}
	a := k.acct
	req.Account = a.name
	params := r.Form.Encode() // sorted by key: a canonical form
	if r.Method == http.MethodPost && req.IdempotencyKey != "" {
		if e := a.idem[req.IdempotencyKey]; e != nil {
			if e.method != r.Method || e.path != r.URL.Path || e.params != params {
				return marshal(400, map[string]any{"error": map[string]any{"type": "idempotency_error",
					"message": "Keys for idempotent requests can only be used with the same parameters they were first used with."}})
			}
			req.Replayed = true
			return e.status, e.body
		}
	}
	var status int
	var body []byte
	res, ferr := f.route(a, k, r)
	if ferr != nil {
		status, body = marshal(ferr.status, map[string]any{"error": ferr.body})
	} else {
		status, body = marshal(200, res)
	}
	if r.Method == http.MethodPost && req.IdempotencyKey != "" {
		a.idem[req.IdempotencyKey] = &idemEntry{method: r.Method, path: r.URL.Path, params: params, status: status, body: body}
	}
	return status, body
}

func marshal(status int, v any) (int, []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return status, b
}

func (f *Fake) route(a *account, k *apiKey, r *http.Request) (any, *apiError) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
	m := r.Method
	switch {
	case m == "POST" && len(parts) == 1 && parts[0] == "payment_intents":
		return f.createPI(a, r.Form)
	case m == "GET" && len(parts) == 1 && parts[0] == "payment_intents":
		return map[string]any{"object": "list", "data": []any{}, "has_more": false, "url": "/v1/payment_intents"}, nil
	case m == "GET" && len(parts) == 2 && parts[0] == "payment_intents":
		pi := a.pis[parts[1]]
		if pi == nil {
			return nil, missing("payment_intent", parts[1], "id")
		}
		return f.piJSON(pi, expands(r.Form, "latest_charge")), nil
	case m == "POST" && len(parts) == 3 && parts[0] == "payment_intents" && parts[2] == "capture":
		return f.capturePI(a, parts[1], r.Form)
	case m == "POST" && len(parts) == 3 && parts[0] == "payment_intents" && parts[2] == "cancel":
		return f.cancelPI(a, parts[1], r.Form)
	case m == "POST" && len(parts) == 1 && parts[0] == "refunds":
		return f.createRefund(a, r.Form)
	case m == "GET" && len(parts) == 2 && parts[0] == "refunds":
		re := a.refunds[parts[1]]
		if re == nil {
			return nil, missing("refund", parts[1], "id")
		}
		return refundJSON(re), nil
	case m == "POST" && len(parts) == 1 && parts[0] == "customers":
		return f.createCustomer(a, r.Form)
	case m == "POST" && len(parts) == 3 && parts[0] == "payment_methods" && parts[2] == "attach":
		return f.attachPM(a, parts[1], r.Form)
	case m == "POST" && len(parts) == 3 && parts[0] == "payment_methods" && parts[2] == "detach":
		return f.detachPM(a, parts[1])
	case m == "GET" && len(parts) == 2 && parts[0] == "payment_methods":
		if pm := a.pms[parts[1]]; pm != nil {
			return pmJSON(pm), nil
		}
		if c, ok := cards[parts[1]]; ok {
			return pmJSON(&paymentMethod{id: parts[1], card: c, created: time.Now().Unix()}), nil
		}
		return nil, missing("payment_method", parts[1], "id")
	case m == "GET" && len(parts) == 1 && parts[0] == "balance":
		if k.kind == keyRestricted {
			return nil, &apiError{403, map[string]any{"type": "invalid_request_error",
				"message": "The provided key 'rk_test_****' does not have the required permissions for this endpoint."}}
		}
		return map[string]any{"object": "balance", "livemode": a.livemode,
			"available": []any{map[string]any{"amount": 0, "currency": "usd"}},
			"pending":   []any{map[string]any{"amount": 0, "currency": "usd"}}}, nil
	}
	return nil, &apiError{404, map[string]any{"type": "invalid_request_error", "message": "Unrecognized request URL (" + m + ": " + r.URL.Path + ")."}}
}

func missing(object, id, param string) *apiError {
	return &apiError{404, map[string]any{"type": "invalid_request_error", "code": "resource_missing", "param": param,
		"message": fmt.Sprintf("No such %s: '%s'", object, id)}}
}

func invalid(code, param, msg string) *apiError {
	return &apiError{400, map[string]any{"type": "invalid_request_error", "code": code, "param": param, "message": msg}}
}

var indexed = regexp.MustCompile(`\[\d+\]$`)

// checkParams refuses parameters the endpoint does not know, as Stripe
// does: it is how a request-shape bug shows.
func checkParams(form url.Values, allowed ...string) *apiError {
	for k := range form {
		name := indexed.ReplaceAllString(k, "[]")
		if strings.HasPrefix(name, "metadata[") {
			name = "metadata[]"
		}
		if !slices.Contains(allowed, name) {
			return invalid("parameter_unknown", k, "Received unknown parameter: "+k)
		}
	}
	return nil
}

func metadata(form url.Values) map[string]string {
	md := map[string]string{}
	for k, v := range form {
		if name, ok := strings.CutPrefix(k, "metadata["); ok && strings.HasSuffix(name, "]") {
			md[strings.TrimSuffix(name, "]")] = v[0]
		}
	}
	return md
}

func expands(form url.Values, what string) bool {
	for k, v := range form {
		if strings.HasPrefix(k, "expand[") && slices.Contains(v, what) {
			return true
		}
	}
	return false
}

func (f *Fake) createPI(a *account, form url.Values) (any, *apiError) {
	if e := checkParams(form, "amount", "currency", "confirm", "payment_method", "payment_method_types[]", "capture_method",
		"customer", "off_session", "setup_future_usage", "return_url", "description", "metadata[]", "expand[]"); e != nil {
		return nil, e
	}
	amount, err := strconv.ParseInt(form.Get("amount"), 10, 64)
	if err != nil || amount < 50 {
		return nil, invalid("amount_too_small", "amount", "Amount must be at least 50 cents.")
	}
	if form.Get("currency") == "" {
		return nil, invalid("parameter_missing", "currency", "Missing required param: currency.")
	}
	if form.Get("payment_method_types[0]") != "card" {
		return nil, invalid("parameter_invalid", "payment_method_types", "The fake expects payment_method_types[]=card.")
	}
	captureMethod := form.Get("capture_method")
	if captureMethod != "automatic" && captureMethod != "manual" {
		return nil, invalid("parameter_invalid", "capture_method", "Invalid capture_method.")
	}
	customer := form.Get("customer")
	if customer != "" && a.customers[customer] == nil {
		return nil, missing("customer", customer, "customer")
	}
	if form.Get("confirm") != "true" {
		// Created for Stripe.js to confirm in the browser (ConfirmClientSide).
		if form.Get("payment_method") != "" || form.Get("off_session") != "" {
			return nil, invalid("parameter_invalid", "confirm", "The fake confirms client-side intents only through ConfirmClientSide.")
		}
		a.created++
		pi := &paymentIntent{seq: f.seq, id: f.nextID("pi"), currency: form.Get("currency"), captureMethod: captureMethod, amount: amount,
			customer: customer, description: form.Get("description"), metadata: metadata(form), status: "requires_payment_method",
			created: time.Now().Unix(), livemode: a.livemode}
		a.pis[pi.id] = pi
		return f.piJSON(pi, false), nil
	}
	pmID := form.Get("payment_method")
	var pm *paymentMethod
	switch {
	case a.pms[pmID] != nil:
		pm = a.pms[pmID]
		if pm.customer != "" && pm.customer != customer {
			return nil, invalid("", "payment_method", "The provided PaymentMethod belongs to a customer; pass that customer.")
		}
		if pm.customer == "" && form.Get("off_session") == "true" {
			return nil, invalid("", "payment_method", "The provided PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.")
		}
	default:
		card, ok := cards[pmID]
		if !ok {
			return nil, missing("PaymentMethod", pmID, "payment_method")
		}
		// A test token makes a new payment method on every use, as at Stripe.
		pm = &paymentMethod{id: f.nextID("pm"), card: card, created: time.Now().Unix()}
		a.pms[pm.id] = pm
	}
	a.created++
	pi := &paymentIntent{seq: f.seq, id: f.nextID("pi"), currency: form.Get("currency"), captureMethod: captureMethod, amount: amount,
		customer: customer, paymentMethod: pm.id, description: form.Get("description"), metadata: metadata(form),
		setupFutureUsage: form.Get("setup_future_usage"), offSession: form.Get("off_session") == "true", card: pm.card,
		created: time.Now().Unix(), livemode: a.livemode}
	a.pis[pi.id] = pi
	ch := &charge{id: f.nextID("ch"), status: "succeeded"}
	pi.charge = ch
	cardErr := func(code, decline, msg string) *apiError {
		ch.status = "failed"
		pi.status = "requires_payment_method"
		pi.lastError = map[string]any{"type": "card_error", "code": code, "decline_code": decline, "message": msg,
			"charge": ch.id}
		return &apiError{402, map[string]any{"type": "card_error", "code": code, "decline_code": decline, "message": msg,
			"charge": ch.id, "payment_intent": f.piJSON(pi, false), "payment_method": pmJSON(pm)}}
	}
	switch pm.card.Outcome {
	case "decline":
		msg := "Your card was declined."
		if pm.card.DeclineCode == "insufficient_funds" {
			msg = "Your card has insufficient funds."
		}
		return nil, cardErr("card_declined", pm.card.DeclineCode, msg)
	case "3ds":
		if pi.offSession {
			return nil, cardErr("authentication_required", "authentication_required",
				"Your card was declined. This transaction requires authentication.")
		}
		pi.status = "requires_action"
		pi.charge = nil
		if ret := form.Get("return_url"); ret != "" {
			pi.nextAction = map[string]any{"type": "redirect_to_url",
				"redirect_to_url": map[string]any{"url": f.URL + "/3ds/" + pi.id, "return_url": ret}}
		} else {
			pi.nextAction = map[string]any{"type": "use_stripe_sdk",
				"use_stripe_sdk": map[string]any{"type": "three_d_secure_redirect", "stripe_js": f.URL + "/3ds/" + pi.id, "source": "src_fake"}}
		}
	case "processing":
		pi.status = "processing"
		ch.status = "pending"
	default:
		if captureMethod == "manual" {
			pi.status, pi.amountCapturable = "requires_capture", amount
		} else {
			pi.status, pi.amountReceived, ch.captured = "succeeded", amount, amount
		}
		if pi.setupFutureUsage == "off_session" && customer != "" {
			pm.customer = customer
		}
	}
	return f.piJSON(pi, expands(form, "latest_charge")), nil
}

func (f *Fake) capturePI(a *account, id string, form url.Values) (any, *apiError) {
	if e := checkParams(form, "amount_to_capture", "expand[]"); e != nil {
		return nil, e
	}
	pi := a.pis[id]
	if pi == nil {
		return nil, missing("payment_intent", id, "id")
	}
	if pi.status != "requires_capture" {
		return nil, invalid("payment_intent_unexpected_state", "",
			"This PaymentIntent could not be captured because it has a status of "+pi.status+".")
	}
	amount := pi.amountCapturable
	if s := form.Get("amount_to_capture"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n > pi.amountCapturable {
			return nil, invalid("amount_too_large", "amount_to_capture", "The amount to capture is greater than the amount capturable.")
		}
		amount = n
	}
	pi.status, pi.amountReceived, pi.amountCapturable, pi.charge.captured = "succeeded", amount, 0, amount
	return f.piJSON(pi, expands(form, "latest_charge")), nil
}

var cancellationReasons = []string{"duplicate", "fraudulent", "requested_by_customer", "abandoned"}

func (f *Fake) cancelPI(a *account, id string, form url.Values) (any, *apiError) {
	if e := checkParams(form, "cancellation_reason", "expand[]"); e != nil {
		return nil, e
	}
	pi := a.pis[id]
	if pi == nil {
		return nil, missing("payment_intent", id, "id")
	}
	if r := form.Get("cancellation_reason"); r != "" && !slices.Contains(cancellationReasons, r) {
		return nil, invalid("parameter_invalid", "cancellation_reason", "Invalid cancellation_reason: "+r)
	}
	switch pi.status {
	case "requires_payment_method", "requires_capture", "requires_action", "requires_confirmation":
	default:
		return nil, invalid("payment_intent_unexpected_state", "",
			"You cannot cancel this PaymentIntent because it has a status of "+pi.status+".")
	}
	pi.status, pi.amountCapturable, pi.cancellationReason, pi.nextAction = "canceled", 0, form.Get("cancellation_reason"), nil
	return f.piJSON(pi, expands(form, "latest_charge")), nil
}

func (f *Fake) createRefund(a *account, form url.Values) (any, *apiError) {
	if e := checkParams(form, "payment_intent", "amount", "reason", "metadata[]"); e != nil {
		return nil, e
	}
	pi := a.pis[form.Get("payment_intent")]
	if pi == nil {
		return nil, missing("payment_intent", form.Get("payment_intent"), "payment_intent")
	}
	if pi.status != "succeeded" {
		return nil, invalid("", "payment_intent", "This PaymentIntent does not have a successful charge to refund.")
	}
	if r := form.Get("reason"); r != "" && !slices.Contains([]string{"duplicate", "fraudulent", "requested_by_customer"}, r) {
		return nil, invalid("parameter_invalid", "reason", "Invalid reason: "+r)
	}
	left := pi.amountReceived - pi.refunded
	amount := left
	if s := form.Get("amount"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, invalid("parameter_invalid_integer", "amount", "Invalid positive integer")
		}
		amount = n
	}
	if left == 0 {
		return nil, invalid("charge_already_refunded", "", "Charge "+pi.charge.id+" has already been refunded.")
	}
	if amount > left {
		return nil, invalid("amount_too_large", "amount",
			fmt.Sprintf("Refund amount (%d) is greater than unrefunded amount on charge (%d)", amount, left))
	}
	pi.refunded += amount
	re := &refund{id: f.nextID("re"), pi: pi.id, charge: pi.charge.id, status: "succeeded", reason: form.Get("reason"),
		currency: pi.currency, amount: amount, created: time.Now().Unix(), metadata: metadata(form)}
	a.refunds[re.id] = re
	return refundJSON(re), nil
}

func (f *Fake) createCustomer(a *account, form url.Values) (any, *apiError) {
	if e := checkParams(form, "email", "name", "metadata[]"); e != nil {
		return nil, e
	}
	c := &customer{id: f.nextID("cus"), email: form.Get("email"), name: form.Get("name"), metadata: metadata(form),
		created: time.Now().Unix(), seq: f.seq}
	a.customers[c.id] = c
	return customerJSON(c), nil
}

func (f *Fake) attachPM(a *account, id string, form url.Values) (any, *apiError) {
	if e := checkParams(form, "customer"); e != nil {
		return nil, e
	}
	customer := form.Get("customer")
	if a.customers[customer] == nil {
		return nil, missing("customer", customer, "customer")
	}
	pm := a.pms[id]
	if pm == nil {
		card, ok := cards[id]
		if !ok {
			return nil, missing("PaymentMethod", id, "payment_method")
		}
		pm = &paymentMethod{id: f.nextID("pm"), card: card, created: time.Now().Unix()}
		a.pms[pm.id] = pm
	}
	if pm.customer != "" && pm.customer != customer {
		return nil, invalid("", "payment_method", "The payment method you provided has already been attached to a customer.")
	}
	pm.customer = customer
	return pmJSON(pm), nil
}

func (f *Fake) detachPM(a *account, id string) (any, *apiError) {
	pm := a.pms[id]
	if pm == nil {
		return nil, missing("PaymentMethod", id, "payment_method")
	}
	if pm.customer == "" {
		return nil, invalid("payment_method_unexpected_state", "",
			"The payment method you provided is not attached to a customer so detachment is impossible.")
	}
	pm.customer = ""
	return pmJSON(pm), nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func cardJSON(c Card) map[string]any {
	return map[string]any{"brand": c.Brand, "last4": c.Last4, "exp_month": 12, "exp_year": 2034, "funding": c.Funding,
		"country": c.Country, "fingerprint": "fp" + c.Last4}
}

func pmJSON(pm *paymentMethod) map[string]any {
	return map[string]any{"id": pm.id, "object": "payment_method", "type": "card", "card": cardJSON(pm.card),
		"customer": nullable(pm.customer), "livemode": false, "created": pm.created, "metadata": map[string]string{}}
}

func customerJSON(c *customer) map[string]any {
	return map[string]any{"id": c.id, "object": "customer", "email": nullable(c.email), "name": nullable(c.name),
		"metadata": c.metadata, "livemode": false, "created": c.created}
}

func (f *Fake) piJSON(pi *paymentIntent, expandCharge bool) map[string]any {
	o := map[string]any{"id": pi.id, "object": "payment_intent", "amount": pi.amount, "currency": pi.currency,
		"status": pi.status, "capture_method": pi.captureMethod, "amount_capturable": pi.amountCapturable,
		"amount_received": pi.amountReceived, "customer": nullable(pi.customer), "payment_method": nullable(pi.paymentMethod),
		"description": nullable(pi.description), "metadata": pi.metadata, "livemode": pi.livemode, "created": pi.created,
		"client_secret": pi.id + "_secret_fakeClientSecret123", "payment_method_types": []string{"card"},
		"setup_future_usage": nullable(pi.setupFutureUsage), "cancellation_reason": nullable(pi.cancellationReason),
		"next_action": nil, "last_payment_error": nil, "latest_charge": nil}
	if pi.nextAction != nil {
		o["next_action"] = pi.nextAction
	}
	if pi.lastError != nil {
		o["last_payment_error"] = pi.lastError
	}
	if pi.charge != nil {
		o["latest_charge"] = pi.charge.id
		if expandCharge {
			o["latest_charge"] = chargeJSON(nil, pi)
		}
	}
	return o
}

// chargeJSON renders pi's latest charge; with a, its refunds list too (as
// charge.refunded events of API versions before 2022-11-15 carry).
func chargeJSON(a *account, pi *paymentIntent) map[string]any {
	o := map[string]any{"id": pi.charge.id, "object": "charge", "amount": pi.amount,
		"amount_captured": pi.charge.captured, "amount_refunded": pi.refunded, "captured": pi.charge.captured > 0,
		"refunded": pi.charge.captured > 0 && pi.refunded == pi.charge.captured,
		"currency": pi.currency, "status": pi.charge.status, "payment_intent": pi.id, "metadata": pi.metadata,
		"payment_method": pi.paymentMethod, "customer": nullable(pi.customer), "livemode": pi.livemode, "created": pi.created,
		"payment_method_details": map[string]any{"type": "card", "card": cardJSON(pi.card)}}
	if a != nil {
		var refunds []*refund
		for _, re := range a.refunds {
			if re.charge == pi.charge.id {
				refunds = append(refunds, re)
			}
		}
		sort.Slice(refunds, func(i, j int) bool { return refunds[i].id > refunds[j].id }) // newest first
		data := make([]any, len(refunds))
		for i, re := range refunds {
			data[i] = refundJSON(re)
		}
		o["refunds"] = map[string]any{"object": "list", "data": data, "has_more": false, "url": "/v1/charges/" + pi.charge.id + "/refunds"}
	}
	return o
}

func refundJSON(re *refund) map[string]any {
	return map[string]any{"id": re.id, "object": "refund", "amount": re.amount, "currency": re.currency, "status": re.status,
		"payment_intent": re.pi, "charge": re.charge, "reason": nullable(re.reason), "metadata": re.metadata, "created": re.created}
}
