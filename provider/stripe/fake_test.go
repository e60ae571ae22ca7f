package stripe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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
	"testing"
	"time"

	"github.com/tenderhq/tender"
)

// fakeStripe is a stateful fake of the Stripe endpoints the provider uses:
// accounts keyed by secret key (so two merchants' data are separate),
// Idempotency-Key replay like Stripe's, test cards by payment method id,
// PaymentIntents with capture / cancel / refund state, customers and
// attached payment methods, a balance for key validation, and faults on
// demand. It is deliberately strict about parameters (unknown ones are
// refused), like Stripe.
type fakeStripe struct {
	t    *testing.T
	srv  *httptest.Server
	stop chan struct{}

	mu       sync.Mutex
	accounts map[string]*fakeAccount
	seq      int
	fault    string
	faultN   int
	requests []fakeRequest
	// hung receives one value each time a request starts hanging.
	hung chan struct{}
}

// fakeRequest is what the fake saw of one request.
type fakeRequest struct {
	Key, Method, Path, IdemKey string
	Form                       url.Values
	Replayed                   bool
	// Account is the name of the account whose data the request touched
	// ("" when the key was refused).
	Account string
}

type fakeAccount struct {
	name       string
	restricted bool // a restricted key without the balance permission
	pis        map[string]*fakePI
	refunds    map[string]*fakeRefund
	customers  map[string]*fakeCustomer
	pms        map[string]*fakePM
	idem       map[string]*idemEntry
	// created counts PaymentIntents created (charges attempted).
	created int
}

type idemEntry struct {
	method, path, params string
	status               int
	body                 []byte
}

type fakeCard struct {
	brand, last4, funding, country string
	// outcome: ok, decline, 3ds, processing.
	outcome, declineCode string
}

var fakeCards = map[string]fakeCard{
	"pm_card_visa":                            {brand: "visa", last4: "4242", funding: "credit", country: "US", outcome: "ok"},
	"pm_card_mastercard":                      {brand: "mastercard", last4: "4444", funding: "credit", country: "US", outcome: "ok"},
	"pm_card_visa_debit":                      {brand: "visa", last4: "5556", funding: "debit", country: "US", outcome: "ok"},
	"pm_card_chargeDeclined":                  {brand: "visa", last4: "0002", funding: "credit", country: "US", outcome: "decline", declineCode: "generic_decline"},
	"pm_card_chargeDeclinedInsufficientFunds": {brand: "visa", last4: "9995", funding: "credit", country: "US", outcome: "decline", declineCode: "insufficient_funds"},
	"pm_card_threeDSecure2Required":           {brand: "visa", last4: "3220", funding: "credit", country: "US", outcome: "3ds"},
	"pm_card_processing":                      {brand: "visa", last4: "0077", funding: "credit", country: "US", outcome: "processing"},
}

type fakePM struct {
	id       string
	card     fakeCard
	customer string
}

type fakeCustomer struct {
	id, email, name string
	metadata        map[string]string
}

type fakePI struct {
	id, currency, status, captureMethod      string
	amount, amountCapturable, amountReceived int64
	customer, paymentMethod, description     string
	setupFutureUsage, cancellationReason     string
	offSession                               bool
	metadata                                 map[string]string
	nextAction, lastError                    map[string]any
	charge                                   *fakeCharge
	refunded                                 int64
	card                                     fakeCard
	created                                  int64
}

type fakeCharge struct {
	id       string
	captured int64
	status   string
}

type fakeRefund struct {
	id, pi, charge, status, reason string
	amount, created                int64
	metadata                       map[string]string
}

// fakeError is a Stripe error answer.
type fakeError struct {
	status int
	body   map[string]any
}

func newFake(t *testing.T) *fakeStripe {
	t.Helper()
	f := &fakeStripe{t: t, stop: make(chan struct{}), accounts: map[string]*fakeAccount{}, hung: make(chan struct{}, 16)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		close(f.stop)
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

// addAccount makes a Stripe account reachable with key.
func (f *fakeStripe) addAccount(name, key string) *fakeAccount {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := &fakeAccount{name: name, pis: map[string]*fakePI{}, refunds: map[string]*fakeRefund{},
		customers: map[string]*fakeCustomer{}, pms: map[string]*fakePM{}, idem: map[string]*idemEntry{}}
	f.accounts[key] = a
	return a
}

// failNext makes the next n requests fail with mode: "500", "429",
// "hang", "reset" (before processing), "garbage" (a 200 that is not JSON)
// or "drop" (processed, then the connection is reset: a lost answer).
func (f *fakeStripe) failNext(mode string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault, f.faultN = mode, n
}

// seen returns a copy of the requests so far.
func (f *fakeStripe) seen() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// createdIn counts the PaymentIntents account a created.
func (f *fakeStripe) createdIn(a *fakeAccount) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return a.created
}

func (f *fakeStripe) nextID(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s_fake%06d", prefix, f.seq)
}

func (f *fakeStripe) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	req := fakeRequest{Key: key, Method: r.Method, Path: r.URL.Path, IdemKey: r.Header.Get("Idempotency-Key"), Form: r.Form}

	f.mu.Lock()
	fault := ""
	if f.faultN > 0 {
		fault = f.fault
		f.faultN--
	}
	switch fault {
	case "hang":
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		f.hung <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-f.stop:
		}
		return
	case "reset":
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		resetConn(w)
		return
	case "500":
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		writeJSON(w, 500, map[string]any{"error": map[string]any{"type": "api_error", "message": "Something went wrong on Stripe's end."}})
		return
	case "429":
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		writeJSON(w, 429, map[string]any{"error": map[string]any{"type": "invalid_request_error", "code": "rate_limit",
			"message": "Too many requests hit the API too quickly."}})
		return
	case "garbage":
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(200)
		w.Write([]byte("<html>upstream proxy error{"))
		return
	}

	status, body := f.handle(r, &req)
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	if fault == "drop" {
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
func (f *fakeStripe) handle(r *http.Request, req *fakeRequest) (int, []byte) {
	a := f.accounts[req.Key]
	if a == nil {
		last4 := req.Key
		if len(last4) > 4 {
			last4 = last4[len(last4)-4:]
		}
		return marshal(401, map[string]any{"error": map[string]any{"type": "invalid_request_error",
			"message": "Invalid API Key provided: sk_test_****" + last4}})
	}
	req.Account = a.name
	params := r.Form.Encode() // sorted by key: a canonical form
	if r.Method == http.MethodPost && req.IdemKey != "" {
		if e := a.idem[req.IdemKey]; e != nil {
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
	res, ferr := f.route(a, r)
	if ferr != nil {
		status, body = marshal(ferr.status, map[string]any{"error": ferr.body})
	} else {
		status, body = marshal(200, res)
	}
	if r.Method == http.MethodPost && req.IdemKey != "" {
		a.idem[req.IdemKey] = &idemEntry{method: r.Method, path: r.URL.Path, params: params, status: status, body: body}
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

func (f *fakeStripe) route(a *fakeAccount, r *http.Request) (any, *fakeError) {
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
		if c, ok := fakeCards[parts[1]]; ok {
			return pmJSON(&fakePM{id: parts[1], card: c}), nil
		}
		return nil, missing("payment_method", parts[1], "id")
	case m == "GET" && len(parts) == 1 && parts[0] == "balance":
		if a.restricted {
			return nil, &fakeError{403, map[string]any{"type": "invalid_request_error",
				"message": "The provided key 'rk_test_****' does not have the required permissions for this endpoint."}}
		}
		return map[string]any{"object": "balance", "livemode": false,
			"available": []any{map[string]any{"amount": 0, "currency": "usd"}},
			"pending":   []any{map[string]any{"amount": 0, "currency": "usd"}}}, nil
	}
	return nil, &fakeError{404, map[string]any{"type": "invalid_request_error", "message": "Unrecognized request URL (" + m + ": " + r.URL.Path + ")."}}
}

func missing(object, id, param string) *fakeError {
	return &fakeError{404, map[string]any{"type": "invalid_request_error", "code": "resource_missing", "param": param,
		"message": fmt.Sprintf("No such %s: '%s'", object, id)}}
}

func invalid(code, param, msg string) *fakeError {
	return &fakeError{400, map[string]any{"type": "invalid_request_error", "code": code, "param": param, "message": msg}}
}

// checkParams refuses parameters the endpoint does not know, as Stripe
// does: it is how a request-shape bug shows.
var indexed = regexp.MustCompile(`\[\d+\]$`)

func checkParams(form url.Values, allowed ...string) *fakeError {
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

func (f *fakeStripe) createPI(a *fakeAccount, form url.Values) (any, *fakeError) {
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
	if form.Get("confirm") != "true" {
		return nil, invalid("parameter_invalid", "confirm", "The fake only supports confirm=true.")
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
	pmID := form.Get("payment_method")
	var pm *fakePM
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
		card, ok := fakeCards[pmID]
		if !ok {
			return nil, missing("PaymentMethod", pmID, "payment_method")
		}
		// A test token makes a new payment method on every use, as at Stripe.
		pm = &fakePM{id: f.nextID("pm"), card: card}
		a.pms[pm.id] = pm
	}
	a.created++
	pi := &fakePI{id: f.nextID("pi"), currency: form.Get("currency"), captureMethod: captureMethod, amount: amount,
		customer: customer, paymentMethod: pm.id, description: form.Get("description"), metadata: metadata(form),
		setupFutureUsage: form.Get("setup_future_usage"), offSession: form.Get("off_session") == "true", card: pm.card,
		created: time.Now().Unix()}
	a.pis[pi.id] = pi
	ch := &fakeCharge{id: f.nextID("ch"), status: "succeeded"}
	pi.charge = ch
	cardErr := func(code, decline, msg string) *fakeError {
		ch.status = "failed"
		pi.status = "requires_payment_method"
		pi.lastError = map[string]any{"type": "card_error", "code": code, "decline_code": decline, "message": msg,
			"charge": ch.id}
		return &fakeError{402, map[string]any{"type": "card_error", "code": code, "decline_code": decline, "message": msg,
			"charge": ch.id, "payment_intent": f.piJSON(pi, false), "payment_method": pmJSON(pm)}}
	}
	switch pm.card.outcome {
	case "decline":
		msg := "Your card was declined."
		if pm.card.declineCode == "insufficient_funds" {
			msg = "Your card has insufficient funds."
		}
		return nil, cardErr("card_declined", pm.card.declineCode, msg)
	case "3ds":
		if pi.offSession {
			return nil, cardErr("authentication_required", "authentication_required",
				"Your card was declined. This transaction requires authentication.")
		}
		pi.status = "requires_action"
		pi.charge = nil
		if ret := form.Get("return_url"); ret != "" {
			pi.nextAction = map[string]any{"type": "redirect_to_url",
				"redirect_to_url": map[string]any{"url": f.srv.URL + "/3ds/" + pi.id, "return_url": ret}}
		} else {
			pi.nextAction = map[string]any{"type": "use_stripe_sdk",
				"use_stripe_sdk": map[string]any{"type": "three_d_secure_redirect", "stripe_js": f.srv.URL + "/3ds/" + pi.id, "source": "src_fake"}}
		}
	case "processing":
		pi.status = "processing"
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

func (f *fakeStripe) capturePI(a *fakeAccount, id string, form url.Values) (any, *fakeError) {
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

var fakeCancellationReasons = []string{"duplicate", "fraudulent", "requested_by_customer", "abandoned"}

func (f *fakeStripe) cancelPI(a *fakeAccount, id string, form url.Values) (any, *fakeError) {
	if e := checkParams(form, "cancellation_reason", "expand[]"); e != nil {
		return nil, e
	}
	pi := a.pis[id]
	if pi == nil {
		return nil, missing("payment_intent", id, "id")
	}
	if r := form.Get("cancellation_reason"); r != "" && !slices.Contains(fakeCancellationReasons, r) {
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

func (f *fakeStripe) createRefund(a *fakeAccount, form url.Values) (any, *fakeError) {
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
	re := &fakeRefund{id: f.nextID("re"), pi: pi.id, charge: pi.charge.id, status: "succeeded", reason: form.Get("reason"),
		amount: amount, created: time.Now().Unix(), metadata: metadata(form)}
	a.refunds[re.id] = re
	return refundJSON(re), nil
}

func (f *fakeStripe) createCustomer(a *fakeAccount, form url.Values) (any, *fakeError) {
	if e := checkParams(form, "email", "name", "metadata[]"); e != nil {
		return nil, e
	}
	c := &fakeCustomer{id: f.nextID("cus"), email: form.Get("email"), name: form.Get("name"), metadata: metadata(form)}
	a.customers[c.id] = c
	return map[string]any{"id": c.id, "object": "customer", "email": c.email, "name": c.name, "metadata": c.metadata,
		"livemode": false, "created": time.Now().Unix()}, nil
}

func (f *fakeStripe) attachPM(a *fakeAccount, id string, form url.Values) (any, *fakeError) {
	if e := checkParams(form, "customer"); e != nil {
		return nil, e
	}
	customer := form.Get("customer")
	if a.customers[customer] == nil {
		return nil, missing("customer", customer, "customer")
	}
	pm := a.pms[id]
	if pm == nil {
		card, ok := fakeCards[id]
		if !ok {
			return nil, missing("PaymentMethod", id, "payment_method")
		}
		pm = &fakePM{id: f.nextID("pm"), card: card}
		a.pms[pm.id] = pm
	}
	if pm.customer != "" && pm.customer != customer {
		return nil, invalid("", "payment_method", "The payment method you provided has already been attached to a customer.")
	}
	pm.customer = customer
	return pmJSON(pm), nil
}

func (f *fakeStripe) detachPM(a *fakeAccount, id string) (any, *fakeError) {
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

func cardJSON(c fakeCard) map[string]any {
	return map[string]any{"brand": c.brand, "last4": c.last4, "exp_month": 12, "exp_year": 2034, "funding": c.funding,
		"country": c.country, "fingerprint": "fp" + c.last4}
}

func pmJSON(pm *fakePM) map[string]any {
	var customer any
	if pm.customer != "" {
		customer = pm.customer
	}
	return map[string]any{"id": pm.id, "object": "payment_method", "type": "card", "card": cardJSON(pm.card),
		"customer": customer, "livemode": false, "created": time.Now().Unix()}
}

func (f *fakeStripe) piJSON(pi *fakePI, expandCharge bool) map[string]any {
	nullable := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	o := map[string]any{"id": pi.id, "object": "payment_intent", "amount": pi.amount, "currency": pi.currency,
		"status": pi.status, "capture_method": pi.captureMethod, "amount_capturable": pi.amountCapturable,
		"amount_received": pi.amountReceived, "customer": nullable(pi.customer), "payment_method": nullable(pi.paymentMethod),
		"description": nullable(pi.description), "metadata": pi.metadata, "livemode": false, "created": pi.created,
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
			o["latest_charge"] = map[string]any{"id": pi.charge.id, "object": "charge", "amount": pi.amount,
				"amount_captured": pi.charge.captured, "amount_refunded": pi.refunded, "captured": pi.charge.captured > 0,
				"currency": pi.currency, "status": pi.charge.status, "payment_intent": pi.id, "metadata": pi.metadata,
				"payment_method":         pi.paymentMethod,
				"payment_method_details": map[string]any{"type": "card", "card": cardJSON(pi.card)}}
		}
	}
	return o
}

func refundJSON(re *fakeRefund) map[string]any {
	var reason any
	if re.reason != "" {
		reason = re.reason
	}
	return map[string]any{"id": re.id, "object": "refund", "amount": re.amount, "currency": "usd", "status": re.status,
		"payment_intent": re.pi, "charge": re.charge, "reason": reason, "metadata": re.metadata, "created": re.created}
}

// --- helpers for tests against the fake ---

// Keys of the two test merchants. They look like real keys so that the
// log test can look for them.
const (
	keyA = "sk_test_51AaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa00secretA"
	keyB = "sk_test_51BbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBb00secretB"
	pkA  = "pk_test_51AaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa00publicA"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestProvider returns a provider pointed at url, logging at debug
// level into a buffer that is checked, when the test ends, for any secret
// key the tests use.
func newTestProvider(t *testing.T, url string, opts ...func(*Options)) (*Provider, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	opt := Options{APIURL: url, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, o := range opts {
		o(&opt)
	}
	t.Cleanup(func() { assertNoSecrets(t, logs.String()) })
	return New(opt), logs
}

// noRetries turns off every retry below the provider, so that a fault
// reaches it: the SDK's, and net/http's own (a request with an
// Idempotency-Key is replayable, and the transport re-sends it by itself
// when a reused connection turns out closed).
func noRetries(o *Options) {
	o.NetworkRetries = -1
	o.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func assertNoSecrets(t *testing.T, logs string) {
	t.Helper()
	for _, k := range []string{keyA, keyB, keyA[8:], keyB[8:], "fakeClientSecret123"} {
		if strings.Contains(logs, k) {
			t.Errorf("logs contain a secret (%s…):\n%s", k[:12], logs)
		}
	}
}

func testCall(key, merchant, idem string) tender.ProviderCall {
	return tender.ProviderCall{MerchantID: merchant, Credentials: tender.Credentials{CredSecretKey: key, CredPublishableKey: pkA},
		IdempotencyKey: idem}
}

func usd() tender.Currency { return tender.MustCurrency("usd") }

// isUnknown reports whether err means "outcome unknown": an error, but not
// a *tender.Error (which Tender reads as a definite refusal).
func isUnknown(err error) bool {
	_, definite := tender.AsError(err)
	return err != nil && !definite
}

// memLedger is an in-memory tender.ProviderLedger (Tender's sqlstore in
// production).
type memLedger struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemLedger() *memLedger { return &memLedger{m: map[string][]byte{}} }

func (l *memLedger) LedgerUpdate(ctx context.Context, provider, key string, fn func(old []byte) ([]byte, time.Time, error)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, _, err := fn(l.m[provider+"|"+key])
	if err != nil {
		return err
	}
	if v != nil {
		l.m[provider+"|"+key] = v
	}
	return nil
}

func (l *memLedger) LedgerGet(ctx context.Context, provider, key string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[provider+"|"+key]
	if !ok {
		return nil, tender.ErrNotFound
	}
	return b, nil
}

func (l *memLedger) LedgerDue(ctx context.Context, provider string, now time.Time, limit int) ([]string, error) {
	return nil, nil
}

func (l *memLedger) LedgerCount(ctx context.Context, provider, prefix string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.m))
	for k := range l.m {
		if strings.HasPrefix(k, provider+"|"+prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return len(keys), nil
}
