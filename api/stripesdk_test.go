package api_test

// These tests drive Tender with Stripe's official Go SDK (stripe-go v85) and
// nothing else: every call below is the SDK's, pointed at Tender's test
// server through BackendConfig.URL. A recording RoundTripper sits under the
// SDK's HTTP client: it refuses any host but Tender's, keeps each exchange
// (what the SDK sent, what Tender answered) for assertions and failure
// messages, and can drop a response after Tender has handled the request, to
// make the SDK retry with the Idempotency-Key it generated.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/tenderhq/tender/internal/testserver"
)

// sdkExchange is one HTTP round trip the SDK made.
type sdkExchange struct {
	Method     string
	Path       string
	Query      url.Values
	Header     http.Header
	Body       url.Values // the form-encoded body, decoded
	RawBody    string
	Status     int
	RespHeader http.Header
	RespBody   string
	Err        string
	Dropped    bool // Tender answered, but the SDK was told the connection failed
}

func (e sdkExchange) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Method, e.Path)
	if len(e.Query) > 0 {
		fmt.Fprintf(&b, "?%s", e.Query.Encode())
	}
	if k := e.Header.Get("Idempotency-Key"); k != "" {
		fmt.Fprintf(&b, " [Idempotency-Key: %s]", k)
	}
	if e.RawBody != "" {
		fmt.Fprintf(&b, "\n    sent: %s", e.RawBody)
	}
	if e.Err != "" {
		fmt.Fprintf(&b, "\n    → transport error: %s", e.Err)
		return b.String()
	}
	body := e.RespBody
	if len(body) > 700 {
		body = body[:700] + "…"
	}
	fmt.Fprintf(&b, "\n    → %d", e.Status)
	if e.RespHeader.Get("Idempotent-Replayed") != "" {
		b.WriteString(" (Idempotent-Replayed)")
	}
	if e.Dropped {
		b.WriteString(" (DROPPED: the SDK saw a network error)")
	}
	fmt.Fprintf(&b, " %s", body)
	return b.String()
}

// sdkTransport records the SDK's traffic and only ever talks to Tender.
type sdkTransport struct {
	host string
	base *http.Transport

	mu   sync.Mutex
	log  []sdkExchange
	drop map[string]int // "POST /v1/refunds" → how many responses still to drop
}

func (tr *sdkTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != tr.host {
		return nil, fmt.Errorf("sdkTransport: refusing a request to %s; only Tender's test server (%s) may be called", req.URL.Host, tr.host)
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	ex := sdkExchange{Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(), Header: req.Header.Clone(), RawBody: string(body)}
	ex.Body, _ = url.ParseQuery(string(body))
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		ex.Err = err.Error()
		tr.record(ex)
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	ex.Status, ex.RespHeader, ex.RespBody = resp.StatusCode, resp.Header.Clone(), string(rb)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if k := req.Method + " " + req.URL.Path; tr.drop[k] > 0 {
		tr.drop[k]--
		ex.Dropped = true
		tr.log = append(tr.log, ex)
		return nil, errors.New("sdkTransport: connection reset by peer (simulated, after Tender handled the request)")
	}
	tr.log = append(tr.log, ex)
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	return resp, nil
}

func (tr *sdkTransport) record(ex sdkExchange) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.log = append(tr.log, ex)
}

// dropNext makes the next n responses to method+path fail as network errors.
func (tr *sdkTransport) dropNext(method, path string, n int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.drop[method+" "+path] = n
}

// exchanges returns the recorded exchanges, optionally only those to method+path.
func (tr *sdkTransport) exchanges(methodPath ...string) []sdkExchange {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []sdkExchange
	for _, e := range tr.log {
		if len(methodPath) == 0 || slices.Contains(methodPath, e.Method+" "+e.Path) {
			out = append(out, e)
		}
	}
	return out
}

// last is the last exchange.
func (tr *sdkTransport) last() sdkExchange {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.log) == 0 {
		return sdkExchange{}
	}
	return tr.log[len(tr.log)-1]
}

// dump renders the last n exchanges for a failure message.
func (tr *sdkTransport) dump(n int) string {
	all := tr.exchanges()
	if len(all) > n {
		all = all[len(all)-n:]
	}
	var b strings.Builder
	b.WriteString("\nlast SDK exchanges:")
	for _, e := range all {
		b.WriteString("\n  ")
		b.WriteString(e.String())
	}
	return b.String()
}

// sdkClient returns a Stripe SDK client for key that talks to s, with the
// SDK's default of 2 network retries, and its recorder. When the test ends it
// fails the test if Tender answered any SDK request with a 5xx (which the
// SDK's retries would otherwise hide).
func sdkClient(t *testing.T, s *testserver.Server, key string) (*stripe.Client, *sdkTransport) {
	return sdkClientRetries(t, s, key, 2)
}

func sdkClientRetries(t *testing.T, s *testserver.Server, key string, retries int64) (*stripe.Client, *sdkTransport) {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr := &sdkTransport{host: u.Host, base: http.DefaultTransport.(*http.Transport).Clone(), drop: map[string]int{}}
	t.Cleanup(func() {
		tr.base.CloseIdleConnections()
		for _, e := range tr.exchanges() {
			if e.Status >= 500 {
				t.Errorf("Tender answered an SDK request with %d:\n  %s", e.Status, e)
			}
		}
	})
	backends := stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		URL:               stripe.String(s.URL),
		HTTPClient:        &http.Client{Transport: tr, Timeout: 30 * time.Second},
		MaxNetworkRetries: stripe.Int64(retries),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	return stripe.NewClient(key, stripe.WithBackends(backends)), tr
}

// sdkMerchant makes a fresh merchant on s and an SDK client for its test key,
// so that each subtest's lists hold only its own objects.
func sdkMerchant(t *testing.T, s *testserver.Server) (*stripe.Client, *sdkTransport) {
	t.Helper()
	return sdkClient(t, s, s.NewMerchant(t, "SDK "+t.Name()).TestSecretKey)
}

// sdkError asserts that err is a *stripe.Error and returns it.
func sdkError(t *testing.T, tr *sdkTransport, err error) *stripe.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error, got none%s", tr.dump(2))
	}
	var se *stripe.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *stripe.Error%s", err, err, tr.dump(2))
	}
	return se
}

// sdkNoErr fails the test with the recent traffic when err is not nil.
func sdkNoErr(t *testing.T, tr *sdkTransport, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v%s", what, err, tr.dump(3))
	}
}

// sdkCollect drains an SDK list iterator.
func sdkCollect[T any](t *testing.T, tr *sdkTransport, seq func(yield func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		sdkNoErr(t, tr, err, "list")
		out = append(out, v)
	}
	return out
}

func sdkIDs[T any](items []T, id func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, v := range items {
		out = append(out, id(v))
	}
	return out
}

// sdkCardPM creates a card payment method from a raw test card number.
func sdkCardPM(t *testing.T, ctx context.Context, sc *stripe.Client, tr *sdkTransport, number string) *stripe.PaymentMethod {
	t.Helper()
	pm, err := sc.V1PaymentMethods.Create(ctx, &stripe.PaymentMethodCreateParams{
		Type: stripe.String("card"),
		Card: &stripe.PaymentMethodCreateCardParams{Number: stripe.String(number), ExpMonth: stripe.Int64(12), ExpYear: stripe.Int64(2034), CVC: stripe.String("314")},
	})
	sdkNoErr(t, tr, err, "create payment method")
	return pm
}

// sdkPay creates and confirms an intent in one call.
func sdkPay(t *testing.T, ctx context.Context, sc *stripe.Client, tr *sdkTransport, amount int64, pm string, manual bool) *stripe.PaymentIntent {
	t.Helper()
	p := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(amount), Currency: stripe.String("usd"), PaymentMethod: stripe.String(pm), Confirm: stripe.Bool(true)}
	if manual {
		p.CaptureMethod = stripe.String("manual")
	}
	pi, err := sc.V1PaymentIntents.Create(ctx, p)
	sdkNoErr(t, tr, err, "create and confirm intent")
	return pi
}

func TestStripeSDKCustomers(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		ctx := t.Context()

		t.Run("create and retrieve", func(t *testing.T) {
			sc, tr := sdkMerchant(t, s)
			tests := []struct {
				name   string
				params *stripe.CustomerCreateParams
				want   stripe.Customer
			}{
				{"email, name and metadata", &stripe.CustomerCreateParams{Email: stripe.String("jane@example.com"), Name: stripe.String("Jane Doe"),
					Metadata: map[string]string{"tier": "gold", "since": "2020"}},
					stripe.Customer{Email: "jane@example.com", Name: "Jane Doe", Metadata: map[string]string{"tier": "gold", "since": "2020"}}},
				{"email only", &stripe.CustomerCreateParams{Email: stripe.String("solo@example.com")},
					stripe.Customer{Email: "solo@example.com", Metadata: map[string]string{}}},
				{"description and phone", &stripe.CustomerCreateParams{Description: stripe.String("VIP"), Phone: stripe.String("+15550100"), Name: stripe.String("Ann")},
					stripe.Customer{Description: "VIP", Phone: "+15550100", Name: "Ann", Metadata: map[string]string{}}},
				{"nothing at all", &stripe.CustomerCreateParams{}, stripe.Customer{Metadata: map[string]string{}}},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					check := func(what string, c *stripe.Customer) {
						t.Helper()
						if !strings.HasPrefix(c.ID, "cus_") || c.Object != "customer" || c.Livemode || c.Created == 0 || c.Deleted {
							t.Fatalf("%s: customer %+v", what, c)
						}
						if c.Email != tc.want.Email || c.Name != tc.want.Name || c.Description != tc.want.Description || c.Phone != tc.want.Phone {
							t.Fatalf("%s: email %q name %q description %q phone %q, want %+v", what, c.Email, c.Name, c.Description, c.Phone, tc.want)
						}
						if len(c.Metadata) != len(tc.want.Metadata) {
							t.Fatalf("%s: metadata %v, want %v", what, c.Metadata, tc.want.Metadata)
						}
						for k, v := range tc.want.Metadata {
							if c.Metadata[k] != v {
								t.Fatalf("%s: metadata %v, want %v", what, c.Metadata, tc.want.Metadata)
							}
						}
					}
					created, err := sc.V1Customers.Create(ctx, tc.params)
					sdkNoErr(t, tr, err, "create")
					check("created", created)
					if rid := created.LastResponse.RequestID; !strings.HasPrefix(rid, "req_") {
						t.Fatalf("LastResponse.RequestID %q", rid)
					}
					got, err := sc.V1Customers.Retrieve(ctx, created.ID, nil)
					sdkNoErr(t, tr, err, "retrieve")
					check("retrieved", got)
				})
			}
		})

		t.Run("update deletes a metadata key with an empty value", func(t *testing.T) {
			sc, tr := sdkMerchant(t, s)
			c, err := sc.V1Customers.Create(ctx, &stripe.CustomerCreateParams{Email: stripe.String("jane@example.com"), Name: stripe.String("Jane Doe"),
				Metadata: map[string]string{"tier": "gold", "since": "2020"}})
			sdkNoErr(t, tr, err, "create")
			up := &stripe.CustomerUpdateParams{Name: stripe.String("Jane Q. Doe")}
			up.AddMetadata("tier", "") // Stripe's way to delete one key
			up.AddMetadata("plan", "pro")
			got, err := sc.V1Customers.Update(ctx, c.ID, up)
			sdkNoErr(t, tr, err, "update")
			if sent := tr.last().Body; sent.Get("metadata[tier]") != "" || !sent.Has("metadata[tier]") || sent.Get("metadata[plan]") != "pro" {
				t.Fatalf("the SDK sent %v", sent)
			}
			want := map[string]string{"since": "2020", "plan": "pro"}
			for _, c := range []*stripe.Customer{got, func() *stripe.Customer {
				r, err := sc.V1Customers.Retrieve(ctx, c.ID, nil)
				sdkNoErr(t, tr, err, "retrieve")
				return r
			}()} {
				if c.Name != "Jane Q. Doe" || c.Email != "jane@example.com" || len(c.Metadata) != 2 || c.Metadata["since"] != want["since"] || c.Metadata["plan"] != want["plan"] {
					t.Fatalf("after update: name %q email %q metadata %v, want metadata %v", c.Name, c.Email, c.Metadata, want)
				}
			}
		})

		t.Run("list auto-paginates newest first", func(t *testing.T) {
			sc, tr := sdkMerchant(t, s)
			var ids []string
			for i := range 25 {
				c, err := sc.V1Customers.Create(ctx, &stripe.CustomerCreateParams{Email: stripe.String(fmt.Sprintf("c%02d@example.com", i))})
				sdkNoErr(t, tr, err, "create")
				ids = append(ids, c.ID)
			}
			slices.Reverse(ids)
			before := len(tr.exchanges("GET /v1/customers"))
			got := sdkIDs(sdkCollect(t, tr, sc.V1Customers.List(ctx, &stripe.CustomerListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(10)}}).All(ctx)),
				func(c *stripe.Customer) string { return c.ID })
			if !slices.Equal(got, ids) {
				t.Fatalf("the iterator yielded %d customers %v\nwant the 25 newest first %v%s", len(got), got, ids, tr.dump(3))
			}
			pages := tr.exchanges("GET /v1/customers")[before:]
			if len(pages) != 3 {
				t.Fatalf("%d page requests, want 3%s", len(pages), tr.dump(4))
			}
			for i, p := range pages {
				if p.Query.Get("limit") != "10" || (i > 0) != p.Query.Has("starting_after") || (i > 0 && p.Query.Get("starting_after") != ids[10*i-1]) {
					t.Fatalf("page %d query %v", i, p.Query)
				}
			}
			byEmail := sdkCollect(t, tr, sc.V1Customers.List(ctx, &stripe.CustomerListParams{Email: stripe.String("c07@example.com")}).All(ctx))
			if len(byEmail) != 1 || byEmail[0].ID != ids[25-1-7] {
				t.Fatalf("email filter found %v", sdkIDs(byEmail, func(c *stripe.Customer) string { return c.ID }))
			}
		})

		t.Run("delete", func(t *testing.T) {
			sc, tr := sdkMerchant(t, s)
			c, err := sc.V1Customers.Create(ctx, &stripe.CustomerCreateParams{Email: stripe.String("gone@example.com")})
			sdkNoErr(t, tr, err, "create")
			keep, err := sc.V1Customers.Create(ctx, &stripe.CustomerCreateParams{Email: stripe.String("kept@example.com")})
			sdkNoErr(t, tr, err, "create")
			del, err := sc.V1Customers.Delete(ctx, c.ID, nil)
			sdkNoErr(t, tr, err, "delete")
			if !del.Deleted || del.ID != c.ID {
				t.Fatalf("delete returned %+v%s", del, tr.dump(1))
			}
			// Stripe answers a retrieve of a deleted customer with the deleted stub.
			got, err := sc.V1Customers.Retrieve(ctx, c.ID, nil)
			sdkNoErr(t, tr, err, "retrieve deleted")
			if !got.Deleted || got.ID != c.ID {
				t.Fatalf("retrieve after delete %+v", got)
			}
			_, err = sc.V1Customers.Update(ctx, c.ID, &stripe.CustomerUpdateParams{Name: stripe.String("x")})
			if e := sdkError(t, tr, err); e.HTTPStatusCode != 404 || e.Code != stripe.ErrorCodeResourceMissing {
				t.Fatalf("update after delete: %d %s", e.HTTPStatusCode, e.Code)
			}
			left := sdkCollect(t, tr, sc.V1Customers.List(ctx, nil).All(ctx))
			if len(left) != 1 || left[0].ID != keep.ID {
				t.Fatalf("list after delete %v", sdkIDs(left, func(c *stripe.Customer) string { return c.ID }))
			}
		})
	})
}

func TestStripeSDKPaymentMethods(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		ctx := t.Context()
		sc, tr := sdkMerchant(t, s)
		cus, err := sc.V1Customers.Create(ctx, &stripe.CustomerCreateParams{Email: stripe.String("wallet@example.com")})
		sdkNoErr(t, tr, err, "create customer")

		cards := []struct {
			number            string
			expMonth, expYear int64
			brand             stripe.PaymentMethodCardBrand
			last4             string
		}{
			{"4242424242424242", 12, 2034, "visa", "4242"},
			{"5555555555554444", 1, 2031, "mastercard", "4444"},
			{"4000000000009995", 7, 2030, "visa", "9995"},
		}
		var attached []string
		for _, tc := range cards {
			t.Run(tc.number, func(t *testing.T) {
				pm, err := sc.V1PaymentMethods.Create(ctx, &stripe.PaymentMethodCreateParams{
					Type: stripe.String("card"),
					Card: &stripe.PaymentMethodCreateCardParams{Number: stripe.String(tc.number), ExpMonth: stripe.Int64(tc.expMonth),
						ExpYear: stripe.Int64(tc.expYear), CVC: stripe.String("123")},
					BillingDetails: &stripe.PaymentMethodCreateBillingDetailsParams{Name: stripe.String("Jane Doe"),
						Address: &stripe.AddressParams{Country: stripe.String("US"), PostalCode: stripe.String("94107")}},
					Metadata: map[string]string{"source": "sdk"},
				})
				sdkNoErr(t, tr, err, "create")
				if !strings.HasPrefix(pm.ID, "pm_") || pm.Type != "card" || pm.Card == nil || pm.Customer != nil || pm.Metadata["source"] != "sdk" {
					t.Fatalf("payment method %+v", pm)
				}
				if pm.Card.Brand != tc.brand || pm.Card.Last4 != tc.last4 || pm.Card.ExpMonth != tc.expMonth || pm.Card.ExpYear != tc.expYear || pm.Card.Fingerprint == "" {
					t.Fatalf("card %+v", pm.Card)
				}
				if pm.BillingDetails == nil || pm.BillingDetails.Name != "Jane Doe" || pm.BillingDetails.Address == nil || pm.BillingDetails.Address.PostalCode != "94107" {
					t.Fatalf("billing details %+v", pm.BillingDetails)
				}
				if strings.Contains(tr.last().RespBody, tc.number) {
					t.Fatal("the card number came back")
				}
				got, err := sc.V1PaymentMethods.Attach(ctx, pm.ID, &stripe.PaymentMethodAttachParams{Customer: stripe.String(cus.ID)})
				sdkNoErr(t, tr, err, "attach")
				if got.Customer == nil || got.Customer.ID != cus.ID {
					t.Fatalf("attached %+v", got.Customer)
				}
				r, err := sc.V1PaymentMethods.Retrieve(ctx, pm.ID, &stripe.PaymentMethodRetrieveParams{Expand: []*string{stripe.String("customer")}})
				sdkNoErr(t, tr, err, "retrieve")
				if r.Customer == nil || r.Customer.Email != "wallet@example.com" {
					t.Fatalf("retrieved with expand[]=customer: %+v", r.Customer)
				}
				attached = append(attached, pm.ID)
			})
		}
		if t.Failed() {
			return
		}
		slices.Reverse(attached) // newest first

		lists := []struct {
			name string
			list func() []*stripe.PaymentMethod
		}{
			{"V1PaymentMethods.List customer and type", func() []*stripe.PaymentMethod {
				return sdkCollect(t, tr, sc.V1PaymentMethods.List(ctx, &stripe.PaymentMethodListParams{Customer: stripe.String(cus.ID), Type: stripe.String("card"),
					ListParams: stripe.ListParams{Limit: stripe.Int64(2)}}).All(ctx))
			}},
			{"V1Customers.ListPaymentMethods", func() []*stripe.PaymentMethod {
				return sdkCollect(t, tr, sc.V1Customers.ListPaymentMethods(ctx, &stripe.CustomerListPaymentMethodsParams{Customer: stripe.String(cus.ID)}).All(ctx))
			}},
		}
		for _, l := range lists {
			t.Run(l.name, func(t *testing.T) {
				if got := sdkIDs(l.list(), func(pm *stripe.PaymentMethod) string { return pm.ID }); !slices.Equal(got, attached) {
					t.Fatalf("listed %v, want %v%s", got, attached, tr.dump(2))
				}
			})
		}

		t.Run("detach", func(t *testing.T) {
			d, err := sc.V1PaymentMethods.Detach(ctx, attached[0], nil)
			sdkNoErr(t, tr, err, "detach")
			if d.Customer != nil || d.ID != attached[0] {
				t.Fatalf("detached %+v", d)
			}
			left := sdkIDs(sdkCollect(t, tr, sc.V1PaymentMethods.List(ctx, &stripe.PaymentMethodListParams{Customer: stripe.String(cus.ID)}).All(ctx)),
				func(pm *stripe.PaymentMethod) string { return pm.ID })
			if !slices.Equal(left, attached[1:]) {
				t.Fatalf("after detach %v, want %v", left, attached[1:])
			}
			_, err = sc.V1PaymentMethods.Detach(ctx, attached[0], nil)
			if e := sdkError(t, tr, err); e.HTTPStatusCode != 400 || e.Type != stripe.ErrorTypeInvalidRequest {
				t.Fatalf("detach twice: %d %s %s", e.HTTPStatusCode, e.Type, e.Code)
			}
		})

		t.Run("a number failing the Luhn check", func(t *testing.T) {
			_, err := sc.V1PaymentMethods.Create(ctx, &stripe.PaymentMethodCreateParams{Type: stripe.String("card"),
				Card: &stripe.PaymentMethodCreateCardParams{Number: stripe.String("4242424242424241"), ExpMonth: stripe.Int64(12), ExpYear: stripe.Int64(2034), CVC: stripe.String("123")}})
			if e := sdkError(t, tr, err); e.Code != stripe.ErrorCodeIncorrectNumber || e.HTTPStatusCode/100 != 4 {
				t.Fatalf("incorrect number: %d %s %s", e.HTTPStatusCode, e.Type, e.Code)
			}
		})
	})
}

func TestStripeSDKPaymentIntents(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		ctx := t.Context()

		t.Run("create, then confirm separately", func(t *testing.T) {
			tests := []struct {
				captureMethod string
				card          string
				wantStatus    stripe.PaymentIntentStatus
				capture       int64 // AmountToCapture, for manual capture
			}{
				{"automatic", "4242424242424242", stripe.PaymentIntentStatusSucceeded, 0},
				{"manual", "5555555555554444", stripe.PaymentIntentStatusRequiresCapture, 1500},
				{"manual", "4242424242424242", stripe.PaymentIntentStatusRequiresCapture, 2000},
			}
			for _, tc := range tests {
				t.Run(fmt.Sprintf("%s capture of %d", tc.captureMethod, tc.capture), func(t *testing.T) {
					sc, tr := sdkMerchant(t, s)
					pm := sdkCardPM(t, ctx, sc, tr, tc.card)
					pi, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(2000), Currency: stripe.String("usd"),
						CaptureMethod: stripe.String(tc.captureMethod), Description: stripe.String("Order 1001"), Metadata: map[string]string{"order_id": "1001"}})
					sdkNoErr(t, tr, err, "create")
					if !strings.HasPrefix(pi.ID, "pi_") || pi.Object != "payment_intent" || pi.Status != stripe.PaymentIntentStatusRequiresPaymentMethod ||
						pi.Amount != 2000 || pi.Currency != "usd" || string(pi.CaptureMethod) != tc.captureMethod || pi.ClientSecret == "" ||
						pi.Description != "Order 1001" || pi.Metadata["order_id"] != "1001" || pi.LatestCharge != nil {
						t.Fatalf("created %+v", pi)
					}
					pi, err = sc.V1PaymentIntents.Confirm(ctx, pi.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String(pm.ID)})
					sdkNoErr(t, tr, err, "confirm")
					if pi.Status != tc.wantStatus || pi.PaymentMethod == nil || pi.PaymentMethod.ID != pm.ID || pi.LatestCharge == nil || pi.LatestCharge.ID == "" {
						t.Fatalf("confirmed: status %s payment_method %+v latest_charge %+v", pi.Status, pi.PaymentMethod, pi.LatestCharge)
					}
					want := int64(2000)
					if tc.captureMethod == "manual" {
						if pi.AmountCapturable != 2000 || pi.AmountReceived != 0 {
							t.Fatalf("authorized: capturable %d received %d", pi.AmountCapturable, pi.AmountReceived)
						}
						pi, err = sc.V1PaymentIntents.Capture(ctx, pi.ID, &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(tc.capture)})
						sdkNoErr(t, tr, err, "capture")
						if sent := tr.last().Body.Get("amount_to_capture"); sent != fmt.Sprint(tc.capture) {
							t.Fatalf("the SDK sent amount_to_capture=%q", sent)
						}
						want = tc.capture
					}
					if pi.Status != stripe.PaymentIntentStatusSucceeded || pi.AmountReceived != want || pi.AmountCapturable != 0 {
						t.Fatalf("after payment: status %s received %d capturable %d, want succeeded %d", pi.Status, pi.AmountReceived, pi.AmountCapturable, want)
					}
					ch, err := sc.V1Charges.Retrieve(ctx, pi.LatestCharge.ID, nil)
					sdkNoErr(t, tr, err, "retrieve charge")
					if !ch.Captured || ch.AmountCaptured != want || ch.Amount != 2000 || ch.Status != stripe.ChargeStatusSucceeded || !ch.Paid {
						t.Fatalf("charge: captured %v amount_captured %d amount %d status %s", ch.Captured, ch.AmountCaptured, ch.Amount, ch.Status)
					}
				})
			}
		})

		t.Run("cancel with a reason", func(t *testing.T) {
			tests := []struct {
				from   stripe.PaymentIntentStatus
				reason stripe.PaymentIntentCancellationReason
				params *stripe.PaymentIntentCreateParams
			}{
				{stripe.PaymentIntentStatusRequiresPaymentMethod, "requested_by_customer",
					&stripe.PaymentIntentCreateParams{Amount: stripe.Int64(500), Currency: stripe.String("usd")}},
				{stripe.PaymentIntentStatusRequiresConfirmation, "duplicate",
					&stripe.PaymentIntentCreateParams{Amount: stripe.Int64(500), Currency: stripe.String("usd"), PaymentMethod: stripe.String("pm_card_visa")}},
				{stripe.PaymentIntentStatusRequiresAction, "fraudulent",
					&stripe.PaymentIntentCreateParams{Amount: stripe.Int64(500), Currency: stripe.String("usd"), PaymentMethod: stripe.String("pm_card_threeDSecure2Required"),
						Confirm: stripe.Bool(true), ReturnURL: stripe.String("https://shop.example/done")}},
				{stripe.PaymentIntentStatusRequiresCapture, "abandoned",
					&stripe.PaymentIntentCreateParams{Amount: stripe.Int64(500), Currency: stripe.String("usd"), PaymentMethod: stripe.String("pm_card_visa"),
						Confirm: stripe.Bool(true), CaptureMethod: stripe.String("manual")}},
			}
			sc, tr := sdkMerchant(t, s)
			for _, tc := range tests {
				t.Run(string(tc.from), func(t *testing.T) {
					pi, err := sc.V1PaymentIntents.Create(ctx, tc.params)
					sdkNoErr(t, tr, err, "create")
					if pi.Status != tc.from {
						t.Fatalf("setup: status %s, want %s", pi.Status, tc.from)
					}
					got, err := sc.V1PaymentIntents.Cancel(ctx, pi.ID, &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String(string(tc.reason))})
					sdkNoErr(t, tr, err, "cancel")
					if got.Status != stripe.PaymentIntentStatusCanceled || got.CancellationReason != tc.reason || got.CanceledAt == 0 || got.AmountCapturable != 0 {
						t.Fatalf("canceled: status %s reason %s canceled_at %d capturable %d", got.Status, got.CancellationReason, got.CanceledAt, got.AmountCapturable)
					}
				})
			}
		})

		t.Run("update metadata, description and amount", func(t *testing.T) {
			sc, tr := sdkMerchant(t, s)
			pi, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(1000), Currency: stripe.String("usd"),
				Description: stripe.String("first"), Metadata: map[string]string{"a": "1", "b": "2"}})
			sdkNoErr(t, tr, err, "create")
			tests := []struct {
				name     string
				params   *stripe.PaymentIntentUpdateParams
				wantDesc string
				wantMeta map[string]string
				wantAmt  int64
			}{
				{"description", &stripe.PaymentIntentUpdateParams{Description: stripe.String("second")}, "second", map[string]string{"a": "1", "b": "2"}, 1000},
				{"metadata add and delete", &stripe.PaymentIntentUpdateParams{Metadata: map[string]string{"a": "", "c": "3"}}, "second", map[string]string{"b": "2", "c": "3"}, 1000},
				{"amount and description", &stripe.PaymentIntentUpdateParams{Amount: stripe.Int64(2500), Description: stripe.String("third")}, "third", map[string]string{"b": "2", "c": "3"}, 2500},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					got, err := sc.V1PaymentIntents.Update(ctx, pi.ID, tc.params)
					sdkNoErr(t, tr, err, "update")
					again, err := sc.V1PaymentIntents.Retrieve(ctx, pi.ID, nil)
					sdkNoErr(t, tr, err, "retrieve")
					for _, p := range []*stripe.PaymentIntent{got, again} {
						if p.Description != tc.wantDesc || p.Amount != tc.wantAmt || len(p.Metadata) != len(tc.wantMeta) {
							t.Fatalf("description %q amount %d metadata %v; want %q %d %v", p.Description, p.Amount, p.Metadata, tc.wantDesc, tc.wantAmt, tc.wantMeta)
						}
						for k, v := range tc.wantMeta {
							if p.Metadata[k] != v {
								t.Fatalf("metadata %v, want %v", p.Metadata, tc.wantMeta)
							}
						}
					}
				})
			}
		})

		t.Run("update metadata and description after the payment succeeded", func(t *testing.T) {
			// Stripe refuses amount, currency or payment_method changes once an
			// intent has succeeded, field by field, but lets metadata and
			// description be updated at any time (shops add order numbers after
			// the payment).
			sc, tr := sdkMerchant(t, s)
			pi, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(1000), Currency: stripe.String("usd"),
				PaymentMethod: stripe.String("pm_card_visa"), Confirm: stripe.Bool(true), Metadata: map[string]string{"cart": "c-1"}})
			sdkNoErr(t, tr, err, "create")
			got, err := sc.V1PaymentIntents.Update(ctx, pi.ID, &stripe.PaymentIntentUpdateParams{Description: stripe.String("Order 1002"),
				Metadata: map[string]string{"order_id": "1002", "cart": ""}})
			if err != nil {
				t.Fatalf("Tender refused a metadata/description update of a succeeded intent, which Stripe accepts: %v%s", err, tr.dump(1))
			}
			if got.Status != stripe.PaymentIntentStatusSucceeded || got.Description != "Order 1002" || len(got.Metadata) != 1 || got.Metadata["order_id"] != "1002" {
				t.Fatalf("updated: status %s description %q metadata %v", got.Status, got.Description, got.Metadata)
			}
			_, err = sc.V1PaymentIntents.Update(ctx, pi.ID, &stripe.PaymentIntentUpdateParams{Amount: stripe.Int64(2000)})
			if e := sdkError(t, tr, err); e.Code != stripe.ErrorCodePaymentIntentUnexpectedState {
				t.Fatalf("amount change after success: %d %s", e.HTTPStatusCode, e.Code)
			}
		})

		t.Run("retrieve with expand latest_charge and customer", func(t *testing.T) {
			sc, tr := sdkMerchant(t, s)
			cus, err := sc.V1Customers.Create(ctx, &stripe.CustomerCreateParams{Email: stripe.String("buyer@example.com"), Name: stripe.String("Buyer")})
			sdkNoErr(t, tr, err, "create customer")
			pi, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(4200), Currency: stripe.String("usd"),
				Customer: stripe.String(cus.ID), PaymentMethod: stripe.String("pm_card_visa"), Confirm: stripe.Bool(true)})
			sdkNoErr(t, tr, err, "create")
			if pi.Customer == nil || pi.Customer.ID != cus.ID || pi.Customer.Email != "" || pi.LatestCharge == nil || pi.LatestCharge.Amount != 0 {
				t.Fatalf("unexpanded customer %+v latest_charge %+v", pi.Customer, pi.LatestCharge)
			}
			p := &stripe.PaymentIntentRetrieveParams{}
			p.AddExpand("latest_charge")
			p.AddExpand("customer")
			got, err := sc.V1PaymentIntents.Retrieve(ctx, pi.ID, p)
			sdkNoErr(t, tr, err, "retrieve")
			if q := tr.last().Query; q.Get("expand[0]") != "latest_charge" || q.Get("expand[1]") != "customer" {
				t.Fatalf("the SDK sent %v", q)
			}
			if got.Customer == nil || got.Customer.ID != cus.ID || got.Customer.Email != "buyer@example.com" || got.Customer.Name != "Buyer" {
				t.Fatalf("expanded customer %+v", got.Customer)
			}
			ch := got.LatestCharge
			if ch == nil || ch.ID != pi.LatestCharge.ID || ch.Object != "charge" || ch.Amount != 4200 || ch.Status != stripe.ChargeStatusSucceeded ||
				ch.PaymentIntent == nil || ch.PaymentIntent.ID != pi.ID {
				t.Fatalf("expanded latest_charge %+v", ch)
			}
			// And the expansion on create.
			cp := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(100), Currency: stripe.String("usd"), PaymentMethod: stripe.String("pm_card_visa"), Confirm: stripe.Bool(true)}
			cp.AddExpand("latest_charge")
			created, err := sc.V1PaymentIntents.Create(ctx, cp)
			sdkNoErr(t, tr, err, "create with expand")
			if created.LatestCharge == nil || created.LatestCharge.Amount != 100 || created.LatestCharge.Object != "charge" {
				t.Fatalf("latest_charge not expanded on create: %+v", created.LatestCharge)
			}
		})

		t.Run("confirm=true with test tokens", func(t *testing.T) {
			sc, tr := sdkMerchant(t, s)
			tests := []struct {
				token  string
				status stripe.PaymentIntentStatus
			}{
				{"pm_card_visa", stripe.PaymentIntentStatusSucceeded},
				{"pm_card_mastercard", stripe.PaymentIntentStatusSucceeded},
				{"pm_card_threeDSecure2Required", stripe.PaymentIntentStatusRequiresAction},
				{"pm_card_authenticationRequired", stripe.PaymentIntentStatusRequiresAction},
				{"pm_card_async", stripe.PaymentIntentStatusProcessing},
			}
			for _, tc := range tests {
				t.Run(tc.token, func(t *testing.T) {
					pi, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(1234), Currency: stripe.String("usd"),
						PaymentMethod: stripe.String(tc.token), Confirm: stripe.Bool(true), ReturnURL: stripe.String("https://shop.example/done?order=7"),
						PaymentMethodTypes: []*string{stripe.String("card")}})
					sdkNoErr(t, tr, err, "create")
					if pi.Status != tc.status {
						t.Fatalf("status %s, want %s", pi.Status, tc.status)
					}
					switch tc.status {
					case stripe.PaymentIntentStatusSucceeded:
						if pi.AmountReceived != 1234 || pi.LatestCharge == nil || pi.NextAction != nil {
							t.Fatalf("succeeded intent: received %d latest_charge %+v next_action %+v", pi.AmountReceived, pi.LatestCharge, pi.NextAction)
						}
					case stripe.PaymentIntentStatusRequiresAction:
						na := pi.NextAction
						if na == nil || na.Type != "redirect_to_url" || na.RedirectToURL == nil ||
							!strings.HasPrefix(na.RedirectToURL.URL, s.URL+"/sandbox/3ds/") || na.RedirectToURL.ReturnURL != "https://shop.example/done?order=7" {
							t.Fatalf("next_action %+v", na)
						}
					}
				})
			}
		})

		t.Run("list auto-paginates with a customer filter", func(t *testing.T) {
			sc, tr := sdkMerchant(t, s)
			var a, all []string
			custs := map[string]string{}
			for _, email := range []string{"a@example.com", "b@example.com"} {
				c, err := sc.V1Customers.Create(ctx, &stripe.CustomerCreateParams{Email: stripe.String(email)})
				sdkNoErr(t, tr, err, "create customer")
				custs[email] = c.ID
			}
			for i := range 17 {
				p := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(int64(100 + i)), Currency: stripe.String("usd")}
				switch {
				case i%4 == 3:
					p.Customer = stripe.String(custs["b@example.com"])
				case i%8 != 6:
					p.Customer = stripe.String(custs["a@example.com"])
				}
				pi, err := sc.V1PaymentIntents.Create(ctx, p)
				sdkNoErr(t, tr, err, "create")
				all = append(all, pi.ID)
				if p.Customer != nil && *p.Customer == custs["a@example.com"] {
					a = append(a, pi.ID)
				}
			}
			slices.Reverse(a)
			slices.Reverse(all)
			got := sdkIDs(sdkCollect(t, tr, sc.V1PaymentIntents.List(ctx, &stripe.PaymentIntentListParams{Customer: stripe.String(custs["a@example.com"]),
				ListParams: stripe.ListParams{Limit: stripe.Int64(3)}}).All(ctx)), func(p *stripe.PaymentIntent) string { return p.ID })
			if !slices.Equal(got, a) {
				t.Fatalf("customer filter yielded %v, want %v%s", got, a, tr.dump(3))
			}
			got = sdkIDs(sdkCollect(t, tr, sc.V1PaymentIntents.List(ctx, &stripe.PaymentIntentListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(5)},
				CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: time.Now().Add(-time.Hour).Unix()}}).All(ctx)), func(p *stripe.PaymentIntent) string { return p.ID })
			if !slices.Equal(got, all) {
				t.Fatalf("all intents %v, want %v", got, all)
			}
		})
	})
}

func TestStripeSDKRefunds(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		ctx := t.Context()
		sc, tr := sdkMerchant(t, s)
		pi1 := sdkPay(t, ctx, sc, tr, 1000, "pm_card_visa", false)
		pi2 := sdkPay(t, ctx, sc, tr, 500, "pm_card_mastercard", false)
		pi3 := sdkPay(t, ctx, sc, tr, 800, "pm_card_visa", false)

		tests := []struct {
			name         string
			params       *stripe.RefundCreateParams
			wantAmount   int64
			pi           *stripe.PaymentIntent
			wantRefunded int64 // the charge's amount_refunded afterwards
		}{
			{"partial by payment intent", &stripe.RefundCreateParams{PaymentIntent: stripe.String(pi1.ID), Amount: stripe.Int64(300),
				Reason: stripe.String("requested_by_customer"), Metadata: map[string]string{"ticket": "T-1"}}, 300, pi1, 300},
			{"the rest by payment intent", &stripe.RefundCreateParams{PaymentIntent: stripe.String(pi1.ID)}, 700, pi1, 1000},
			{"full by charge", &stripe.RefundCreateParams{Charge: stripe.String(pi2.LatestCharge.ID), Reason: stripe.String("duplicate")}, 500, pi2, 500},
			{"partial by charge", &stripe.RefundCreateParams{Charge: stripe.String(pi3.LatestCharge.ID), Amount: stripe.Int64(200)}, 200, pi3, 200},
		}
		refunds := map[string][]string{} // intent → refund ids, newest first
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r, err := sc.V1Refunds.Create(ctx, tc.params)
				sdkNoErr(t, tr, err, "create refund")
				if !strings.HasPrefix(r.ID, "re_") || r.Object != "refund" || r.Amount != tc.wantAmount || r.Status != stripe.RefundStatusSucceeded || r.Currency != "usd" ||
					r.Charge == nil || r.Charge.ID != tc.pi.LatestCharge.ID || r.PaymentIntent == nil || r.PaymentIntent.ID != tc.pi.ID {
					t.Fatalf("refund %+v", r)
				}
				if tc.params.Reason != nil && string(r.Reason) != *tc.params.Reason {
					t.Fatalf("reason %q", r.Reason)
				}
				for k, v := range tc.params.Metadata {
					if r.Metadata[k] != v {
						t.Fatalf("metadata %v", r.Metadata)
					}
				}
				refunds[tc.pi.ID] = append([]string{r.ID}, refunds[tc.pi.ID]...)

				rp := &stripe.RefundRetrieveParams{}
				rp.AddExpand("charge")
				rp.AddExpand("payment_intent")
				got, err := sc.V1Refunds.Retrieve(ctx, r.ID, rp)
				sdkNoErr(t, tr, err, "retrieve refund")
				if got.ID != r.ID || got.Amount != tc.wantAmount || got.Charge == nil || got.Charge.AmountRefunded != tc.wantRefunded ||
					got.Charge.Refunded != (tc.wantRefunded == got.Charge.Amount) || got.PaymentIntent == nil || got.PaymentIntent.Amount != tc.pi.Amount {
					t.Fatalf("retrieved refund %+v charge %+v", got, got.Charge)
				}
			})
		}
		if t.Failed() {
			return
		}
		for _, pi := range []*stripe.PaymentIntent{pi1, pi2, pi3} {
			got := sdkIDs(sdkCollect(t, tr, sc.V1Refunds.List(ctx, &stripe.RefundListParams{PaymentIntent: stripe.String(pi.ID),
				ListParams: stripe.ListParams{Limit: stripe.Int64(1)}}).All(ctx)), func(r *stripe.Refund) string { return r.ID })
			if !slices.Equal(got, refunds[pi.ID]) {
				t.Fatalf("refunds of %s: %v, want %v", pi.ID, got, refunds[pi.ID])
			}
			byCharge := sdkIDs(sdkCollect(t, tr, sc.V1Refunds.List(ctx, &stripe.RefundListParams{Charge: stripe.String(pi.LatestCharge.ID)}).All(ctx)),
				func(r *stripe.Refund) string { return r.ID })
			if !slices.Equal(byCharge, refunds[pi.ID]) {
				t.Fatalf("refunds of charge %s: %v, want %v", pi.LatestCharge.ID, byCharge, refunds[pi.ID])
			}
		}
		_, err := sc.V1Refunds.Create(ctx, &stripe.RefundCreateParams{PaymentIntent: stripe.String(pi1.ID), Amount: stripe.Int64(1)})
		if e := sdkError(t, tr, err); e.HTTPStatusCode != 400 || e.Code != stripe.ErrorCodeChargeAlreadyRefunded {
			t.Fatalf("refund past the total: %d %s %s", e.HTTPStatusCode, e.Type, e.Code)
		}
	})
}

func TestStripeSDKCharges(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		ctx := t.Context()
		sc, tr := sdkMerchant(t, s)
		pi, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(2500), Currency: stripe.String("usd"),
			Description: stripe.String("two attempts")})
		sdkNoErr(t, tr, err, "create")
		// A declined attempt, then a good one: two charges on one intent.
		_, err = sc.V1PaymentIntents.Confirm(ctx, pi.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_chargeDeclined")})
		if e := sdkError(t, tr, err); e.Type != stripe.ErrorTypeCard {
			t.Fatalf("decline: %s %s", e.Type, e.Code)
		}
		pi, err = sc.V1PaymentIntents.Confirm(ctx, pi.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_visa")})
		sdkNoErr(t, tr, err, "confirm")

		t.Run("retrieve the latest charge", func(t *testing.T) {
			p := &stripe.ChargeRetrieveParams{}
			p.AddExpand("payment_intent")
			ch, err := sc.V1Charges.Retrieve(ctx, pi.LatestCharge.ID, p)
			sdkNoErr(t, tr, err, "retrieve")
			if !strings.HasPrefix(ch.ID, "ch_") || ch.Object != "charge" || ch.Amount != 2500 || ch.Currency != "usd" || ch.Status != stripe.ChargeStatusSucceeded ||
				!ch.Paid || !ch.Captured || ch.AmountCaptured != 2500 || ch.Refunded || ch.Livemode {
				t.Fatalf("charge %+v", ch)
			}
			if ch.PaymentIntent == nil || ch.PaymentIntent.ID != pi.ID || ch.PaymentIntent.Status != stripe.PaymentIntentStatusSucceeded {
				t.Fatalf("expanded payment_intent %+v", ch.PaymentIntent)
			}
			if ch.PaymentMethodDetails == nil || ch.PaymentMethodDetails.Card == nil || ch.PaymentMethodDetails.Card.Brand != "visa" || ch.PaymentMethodDetails.Card.Last4 != "4242" {
				t.Fatalf("payment_method_details %+v", ch.PaymentMethodDetails)
			}
			if ch.Outcome == nil || ch.Outcome.Type != "authorized" {
				t.Fatalf("outcome %+v", ch.Outcome)
			}
		})

		t.Run("list by payment intent", func(t *testing.T) {
			got := sdkCollect(t, tr, sc.V1Charges.List(ctx, &stripe.ChargeListParams{PaymentIntent: stripe.String(pi.ID),
				ListParams: stripe.ListParams{Limit: stripe.Int64(1)}}).All(ctx))
			if len(got) != 2 {
				t.Fatalf("%d charges, want 2%s", len(got), tr.dump(3))
			}
			if got[0].ID != pi.LatestCharge.ID || got[0].Status != stripe.ChargeStatusSucceeded {
				t.Fatalf("newest charge %+v", got[0])
			}
			if got[1].Status != stripe.ChargeStatusFailed || got[1].FailureCode != "card_declined" || got[1].FailureMessage == "" || got[1].Paid ||
				got[1].Outcome == nil || got[1].Outcome.Type != "issuer_declined" || got[1].PaymentIntent == nil || got[1].PaymentIntent.ID != pi.ID {
				t.Fatalf("failed charge %+v outcome %+v", got[1], got[1].Outcome)
			}
			other := sdkPay(t, ctx, sc, tr, 100, "pm_card_visa", false)
			all := sdkCollect(t, tr, sc.V1Charges.List(ctx, nil).All(ctx))
			if len(all) != 3 || all[0].ID != other.LatestCharge.ID {
				t.Fatalf("all charges %v", sdkIDs(all, func(c *stripe.Charge) string { return c.ID }))
			}
		})
	})
}

func TestStripeSDKEvents(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		ctx := t.Context()
		sc, tr := sdkMerchant(t, s)
		cp := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(1000), Currency: stripe.String("usd"), PaymentMethod: stripe.String("pm_card_visa"),
			Confirm: stripe.Bool(true), CaptureMethod: stripe.String("manual")}
		cp.SetIdempotencyKey("events-order-1")
		pi, err := sc.V1PaymentIntents.Create(ctx, cp)
		sdkNoErr(t, tr, err, "create")
		_, err = sc.V1PaymentIntents.Capture(ctx, pi.ID, nil)
		sdkNoErr(t, tr, err, "capture")
		captureKey := tr.last().Header.Get("Idempotency-Key")
		ref, err := sc.V1Refunds.Create(ctx, &stripe.RefundCreateParams{PaymentIntent: stripe.String(pi.ID), Amount: stripe.Int64(400)})
		sdkNoErr(t, tr, err, "refund")

		want := []string{"payment_intent.created", "charge.succeeded", "payment_intent.amount_capturable_updated",
			"charge.captured", "payment_intent.succeeded", "refund.created", "charge.refunded"}
		slices.Reverse(want) // lists are newest first

		events := sdkCollect(t, tr, sc.V1Events.List(ctx, &stripe.EventListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(3)}}).All(ctx))
		if got := sdkIDs(events, func(e *stripe.Event) string { return string(e.Type) }); !slices.Equal(got, want) {
			t.Fatalf("event types %v, want %v", got, want)
		}
		for _, ev := range events {
			t.Run(string(ev.Type), func(t *testing.T) {
				if !strings.HasPrefix(ev.ID, "evt_") || ev.Object != "event" || ev.Livemode || ev.Created == 0 || ev.APIVersion == "" || ev.Data == nil {
					t.Fatalf("event %+v", ev)
				}
				if ev.Request == nil || !strings.HasPrefix(ev.Request.ID, "req_") {
					t.Fatalf("request %+v", ev.Request)
				}
				got, err := sc.V1Events.Retrieve(ctx, ev.ID, nil)
				sdkNoErr(t, tr, err, "retrieve")
				if got.ID != ev.ID || got.Type != ev.Type || got.Data == nil || !bytes.Equal(got.Data.Raw, ev.Data.Raw) {
					t.Fatalf("retrieved %+v", got)
				}
				// data.object decodes, both as a map and as the SDK's type.
				obj := got.Data.Object
				prefix, _, _ := strings.Cut(string(ev.Type), ".")
				if obj["object"] != prefix || obj["id"] == nil {
					t.Fatalf("data.object %v", obj)
				}
				switch prefix {
				case "payment_intent":
					var p stripe.PaymentIntent
					if err := json.Unmarshal(got.Data.Raw, &p); err != nil || p.ID != pi.ID || p.Amount != 1000 {
						t.Fatalf("data.object as a PaymentIntent: %v %+v", err, p)
					}
					if ev.Type == "payment_intent.created" && ev.Request.IdempotencyKey != "events-order-1" {
						t.Fatalf("request.idempotency_key %q", ev.Request.IdempotencyKey)
					}
					if ev.Type == "payment_intent.succeeded" && ev.Request.IdempotencyKey != captureKey {
						t.Fatalf("request.idempotency_key %q, want the key the SDK generated %q", ev.Request.IdempotencyKey, captureKey)
					}
				case "charge":
					var c stripe.Charge
					if err := json.Unmarshal(got.Data.Raw, &c); err != nil || c.ID != pi.LatestCharge.ID || c.PaymentIntent == nil || c.PaymentIntent.ID != pi.ID {
						t.Fatalf("data.object as a Charge: %v %+v", err, c)
					}
				case "refund":
					var r stripe.Refund
					if err := json.Unmarshal(got.Data.Raw, &r); err != nil || r.ID != ref.ID || r.Amount != 400 {
						t.Fatalf("data.object as a Refund: %v %+v", err, r)
					}
				}
			})
		}

		filters := []struct {
			name   string
			params *stripe.EventListParams
			want   []string
		}{
			{"type", &stripe.EventListParams{Type: stripe.String("payment_intent.succeeded")}, []string{"payment_intent.succeeded"}},
			{"type with a wildcard-free miss", &stripe.EventListParams{Type: stripe.String("payment_intent.canceled")}, nil},
			{"types", &stripe.EventListParams{Types: []*string{stripe.String("charge.succeeded"), stripe.String("charge.captured")}},
				[]string{"charge.captured", "charge.succeeded"}},
			{"created range", &stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: time.Now().Add(-time.Hour).Unix()},
				ListParams: stripe.ListParams{Limit: stripe.Int64(100)}}, want},
		}
		for _, f := range filters {
			t.Run("filter by "+f.name, func(t *testing.T) {
				got := sdkIDs(sdkCollect(t, tr, sc.V1Events.List(ctx, f.params).All(ctx)), func(e *stripe.Event) string { return string(e.Type) })
				if !slices.Equal(got, f.want) {
					t.Fatalf("%v, want %v%s", got, f.want, tr.dump(1))
				}
			})
		}
	})
}

func TestStripeSDKErrors(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		ctx := t.Context()
		sc, tr := sdkMerchant(t, s)
		succeeded := sdkPay(t, ctx, sc, tr, 700, "pm_card_visa", false)
		canceled, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(100), Currency: stripe.String("usd")})
		sdkNoErr(t, tr, err, "create")
		_, err = sc.V1PaymentIntents.Cancel(ctx, canceled.ID, nil)
		sdkNoErr(t, tr, err, "cancel")
		m := s.NewMerchant(t, "SDK errors keys")
		readOnly := restrictedKey(t, s, m.ID, "test", "payments:read")

		tests := []struct {
			name    string
			call    func(t *testing.T, sc *stripe.Client) error
			client  string // "", "bad key" or "read-only"
			status  int
			typ     stripe.ErrorType
			code    stripe.ErrorCode
			decline stripe.DeclineCode
			param   string
			retries int // attempts the call makes on purpose before the failing one
			check   func(t *testing.T, e *stripe.Error)
		}{
			{name: "decline", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(2000), Currency: stripe.String("usd"),
					PaymentMethod: stripe.String("pm_card_chargeDeclinedInsufficientFunds"), Confirm: stripe.Bool(true)})
				return err
			}, status: 402, typ: stripe.ErrorTypeCard, code: stripe.ErrorCodeCardDeclined, decline: "insufficient_funds",
				check: func(t *testing.T, e *stripe.Error) {
					wire := tr.dump(1)
					var ce *stripe.CardError
					if !errors.As(e, &ce) || ce.DeclineCode != "insufficient_funds" {
						t.Fatalf("Err %T %+v is not a *stripe.CardError with the decline code", e.Err, e.Err)
					}
					pi := e.PaymentIntent
					if pi == nil || !strings.HasPrefix(pi.ID, "pi_") || pi.Status != stripe.PaymentIntentStatusRequiresPaymentMethod || pi.Amount != 2000 {
						t.Fatalf("error.payment_intent %+v", pi)
					}
					lpe := pi.LastPaymentError
					if lpe == nil || lpe.Code != stripe.ErrorCodeCardDeclined || lpe.DeclineCode != "insufficient_funds" || lpe.ChargeID == "" || pi.LatestCharge == nil || lpe.ChargeID != pi.LatestCharge.ID {
						t.Fatalf("payment_intent.last_payment_error %+v, latest_charge %+v", lpe, pi.LatestCharge)
					}
					stored, err := sc.V1PaymentIntents.Retrieve(ctx, pi.ID, nil)
					sdkNoErr(t, tr, err, "retrieve the declined intent")
					if stored.Status != stripe.PaymentIntentStatusRequiresPaymentMethod || stored.LastPaymentError == nil {
						t.Fatalf("stored intent %s %+v", stored.Status, stored.LastPaymentError)
					}
					// Stripe's error object names the failed charge ("charge": "ch_…") on card errors.
					if e.ChargeID == "" || e.ChargeID != pi.LatestCharge.ID {
						t.Errorf("error.charge = %q, want the failed charge %q (Stripe sets it on card errors; SDK field Error.ChargeID)%s", e.ChargeID, pi.LatestCharge.ID, wire)
					}
				}},
			{name: "missing payment intent", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1PaymentIntents.Retrieve(ctx, "pi_doesnotexist", nil)
				return err
			}, status: 404, typ: stripe.ErrorTypeInvalidRequest, code: stripe.ErrorCodeResourceMissing,
				check: func(t *testing.T, e *stripe.Error) {
					if !strings.Contains(e.Msg, "pi_doesnotexist") {
						t.Fatalf("message %q", e.Msg)
					}
				}},
			{name: "missing customer", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1Customers.Retrieve(ctx, "cus_doesnotexist", nil)
				return err
			}, status: 404, typ: stripe.ErrorTypeInvalidRequest, code: stripe.ErrorCodeResourceMissing},
			{name: "missing charge", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1Charges.Retrieve(ctx, "ch_doesnotexist", nil)
				return err
			}, status: 404, typ: stripe.ErrorTypeInvalidRequest, code: stripe.ErrorCodeResourceMissing},
			{name: "missing refund", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1Refunds.Retrieve(ctx, "re_doesnotexist", nil)
				return err
			}, status: 404, typ: stripe.ErrorTypeInvalidRequest, code: stripe.ErrorCodeResourceMissing},
			{name: "missing event", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1Events.Retrieve(ctx, "evt_doesnotexist", nil)
				return err
			}, status: 404, typ: stripe.ErrorTypeInvalidRequest, code: stripe.ErrorCodeResourceMissing},
			{name: "missing payment method", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1PaymentMethods.Retrieve(ctx, "pm_doesnotexist", nil)
				return err
			}, status: 404, typ: stripe.ErrorTypeInvalidRequest, code: stripe.ErrorCodeResourceMissing},
			{name: "missing customer named in a parameter", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(100), Currency: stripe.String("usd"), Customer: stripe.String("cus_nope")})
				return err
			}, status: 404, typ: stripe.ErrorTypeInvalidRequest, code: stripe.ErrorCodeResourceMissing, param: "customer"},
			{name: "negative amount", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(-5), Currency: stripe.String("usd")})
				return err
			}, status: 400, typ: stripe.ErrorTypeInvalidRequest, param: "amount"},
			{name: "missing currency", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(100)})
				return err
			}, status: 400, typ: stripe.ErrorTypeInvalidRequest, code: stripe.ErrorCodeParameterMissing, param: "currency"},
			{name: "unknown parameter", call: func(t *testing.T, sc *stripe.Client) error {
				p := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(100), Currency: stripe.String("usd")}
				p.AddExtra("colour", "red")
				_, err := sc.V1PaymentIntents.Create(ctx, p)
				return err
			}, status: 400, typ: stripe.ErrorTypeInvalidRequest, code: stripe.ErrorCodeParameterUnknown, param: "colour"},
			{name: "over-capture", call: func(t *testing.T, sc *stripe.Client) error {
				pi := sdkPay(t, ctx, sc, tr, 1000, "pm_card_visa", true)
				_, err := sc.V1PaymentIntents.Capture(ctx, pi.ID, &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(1001)})
				return err
			}, status: 400, typ: stripe.ErrorTypeInvalidRequest, param: "amount_to_capture"},
			{name: "capture a succeeded intent", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1PaymentIntents.Capture(ctx, succeeded.ID, nil)
				return err
			}, status: 400, typ: stripe.ErrorTypeInvalidRequest, code: stripe.ErrorCodePaymentIntentUnexpectedState,
				check: func(t *testing.T, e *stripe.Error) {
					// Stripe returns the intent with payment_intent_unexpected_state.
					if e.PaymentIntent == nil || e.PaymentIntent.ID != succeeded.ID || e.PaymentIntent.Status != stripe.PaymentIntentStatusSucceeded {
						t.Errorf("error.payment_intent = %+v, want the intent (id %s, status succeeded), as Stripe sends on payment_intent_unexpected_state%s", e.PaymentIntent, succeeded.ID, tr.dump(1))
					}
				}},
			{name: "confirm a canceled intent", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1PaymentIntents.Confirm(ctx, canceled.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_visa")})
				return err
			}, status: 400, typ: stripe.ErrorTypeInvalidRequest, code: stripe.ErrorCodePaymentIntentUnexpectedState},
			{name: "idempotency key reused with other parameters", call: func(t *testing.T, sc *stripe.Client) error {
				p1 := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(100), Currency: stripe.String("usd")}
				p1.SetIdempotencyKey("errors-reused-key")
				if _, err := sc.V1PaymentIntents.Create(ctx, p1); err != nil {
					return fmt.Errorf("first use: %w", err)
				}
				p2 := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(200), Currency: stripe.String("usd")}
				p2.SetIdempotencyKey("errors-reused-key")
				_, err := sc.V1PaymentIntents.Create(ctx, p2)
				return err
			}, status: 400, typ: stripe.ErrorTypeIdempotency, retries: 1,
				check: func(t *testing.T, e *stripe.Error) {
					var ie *stripe.IdempotencyError
					if !errors.As(e, &ie) {
						t.Fatalf("Err %T is not a *stripe.IdempotencyError", e.Err)
					}
				}},
			{name: "unknown key", client: "bad key", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1Customers.Create(ctx, nil)
				return err
			}, status: 401, typ: "authentication_error"},
			{name: "restricted key without the scope", client: "read-only", call: func(t *testing.T, sc *stripe.Client) error {
				_, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(100), Currency: stripe.String("usd")})
				return err
			}, status: 403, typ: "permission_error"},
		}

		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c, ctr := sc, tr
				switch tc.client {
				case "bad key":
					c, ctr = sdkClient(t, s, "sk_test_"+strings.Repeat("Z", 40))
				case "read-only":
					c, ctr = sdkClient(t, s, readOnly)
				}
				counts := map[string]int{}
				for _, e := range ctr.exchanges() {
					counts[e.Method+" "+e.Path]++
				}
				err := tc.call(t, c)
				e := sdkError(t, ctr, err)
				last := ctr.last()
				before := counts[last.Method+" "+last.Path]
				if e.HTTPStatusCode != tc.status || e.Type != tc.typ || (tc.code != "" && e.Code != tc.code) || e.DeclineCode != tc.decline ||
					(tc.param != "" && e.Param != tc.param) || e.Msg == "" {
					t.Fatalf("error: status %d type %s code %s decline_code %s param %q message %q\nwant: status %d type %s code %s decline_code %s param %q%s",
						e.HTTPStatusCode, e.Type, e.Code, e.DeclineCode, e.Param, e.Msg, tc.status, tc.typ, tc.code, tc.decline, tc.param, ctr.dump(1))
				}
				if !strings.HasPrefix(e.RequestID, "req_") || e.RequestID != last.RespHeader.Get("Request-Id") {
					t.Fatalf("RequestID %q, Request-Id header %q", e.RequestID, last.RespHeader.Get("Request-Id"))
				}
				if n := len(ctr.exchanges(last.Method+" "+last.Path)) - before; n != 1+tc.retries {
					t.Fatalf("%d requests to %s %s, want %d: the SDK must not retry a %d%s", n, last.Method, last.Path, 1+tc.retries, tc.status, ctr.dump(n))
				}
				if tc.check != nil {
					tc.check(t, e)
				}
			})
		}
	})
}

func TestStripeSDKIdempotency(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		ctx := t.Context()

		t.Run("an explicit key returns the same intent", func(t *testing.T) {
			sc, tr := sdkMerchant(t, s)
			var ids []string
			for i := range 2 {
				p := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(2500), Currency: stripe.String("usd"), PaymentMethod: stripe.String("pm_card_visa"), Confirm: stripe.Bool(true)}
				p.SetIdempotencyKey("order-42")
				pi, err := sc.V1PaymentIntents.Create(ctx, p)
				sdkNoErr(t, tr, err, "create")
				ids = append(ids, pi.ID)
				if pi.LastResponse.IdempotencyKey != "order-42" {
					t.Fatalf("LastResponse.IdempotencyKey %q", pi.LastResponse.IdempotencyKey)
				}
				if replayed := pi.LastResponse.Header.Get("Idempotent-Replayed"); (i == 1) != (replayed == "true") {
					t.Fatalf("call %d: Idempotent-Replayed %q", i+1, replayed)
				}
			}
			if ids[0] != ids[1] {
				t.Fatalf("two creates with one key made %v", ids)
			}
			intents := sdkCollect(t, tr, sc.V1PaymentIntents.List(ctx, nil).All(ctx))
			charges := sdkCollect(t, tr, sc.V1Charges.List(ctx, nil).All(ctx))
			if len(intents) != 1 || len(charges) != 1 {
				t.Fatalf("%d intents and %d charges", len(intents), len(charges))
			}
		})

		t.Run("the SDK's own retry replays", func(t *testing.T) {
			type setup struct {
				sc  *stripe.Client
				tr  *sdkTransport
				pi  *stripe.PaymentIntent // made beforehand, when the step needs one
				cus *stripe.Customer
			}
			tests := []struct {
				name    string
				prepare func(t *testing.T, st *setup) (method, path string)
				run     func(t *testing.T, st *setup) error
				verify  func(t *testing.T, st *setup)
			}{
				{"create and confirm an intent",
					func(t *testing.T, st *setup) (string, string) { return "POST", "/v1/payment_intents" },
					func(t *testing.T, st *setup) error {
						pi, err := st.sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(2000), Currency: stripe.String("usd"),
							PaymentMethod: stripe.String("pm_card_visa"), Confirm: stripe.Bool(true)})
						if err == nil && (pi.Status != stripe.PaymentIntentStatusSucceeded || pi.AmountReceived != 2000) {
							t.Fatalf("intent %s received %d", pi.Status, pi.AmountReceived)
						}
						return err
					},
					func(t *testing.T, st *setup) {
						sdkWantCounts(t, ctx, st.sc, st.tr, 1, 1, 0)
					}},
				{"confirm",
					func(t *testing.T, st *setup) (string, string) {
						pi, err := st.sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(3000), Currency: stripe.String("usd")})
						sdkNoErr(t, st.tr, err, "create")
						st.pi = pi
						return "POST", "/v1/payment_intents/" + pi.ID + "/confirm"
					},
					func(t *testing.T, st *setup) error {
						pi, err := st.sc.V1PaymentIntents.Confirm(ctx, st.pi.ID, &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String("pm_card_mastercard")})
						if err == nil && pi.Status != stripe.PaymentIntentStatusSucceeded {
							t.Fatalf("confirmed %s", pi.Status)
						}
						return err
					},
					func(t *testing.T, st *setup) {
						sdkWantCounts(t, ctx, st.sc, st.tr, 1, 1, 0)
					}},
				{"partial capture",
					func(t *testing.T, st *setup) (string, string) {
						st.pi = sdkPay(t, ctx, st.sc, st.tr, 1000, "pm_card_visa", true)
						return "POST", "/v1/payment_intents/" + st.pi.ID + "/capture"
					},
					func(t *testing.T, st *setup) error {
						pi, err := st.sc.V1PaymentIntents.Capture(ctx, st.pi.ID, &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(600)})
						if err == nil && (pi.Status != stripe.PaymentIntentStatusSucceeded || pi.AmountReceived != 600) {
							t.Fatalf("captured %s %d", pi.Status, pi.AmountReceived)
						}
						return err
					},
					func(t *testing.T, st *setup) {
						sdkWantCounts(t, ctx, st.sc, st.tr, 1, 1, 0)
						captured := sdkCollect(t, st.tr, st.sc.V1Events.List(ctx, &stripe.EventListParams{Type: stripe.String("charge.captured")}).All(ctx))
						if len(captured) != 1 {
							t.Fatalf("%d charge.captured events", len(captured))
						}
					}},
				{"refund",
					func(t *testing.T, st *setup) (string, string) {
						st.pi = sdkPay(t, ctx, st.sc, st.tr, 1000, "pm_card_visa", false)
						return "POST", "/v1/refunds"
					},
					func(t *testing.T, st *setup) error {
						_, err := st.sc.V1Refunds.Create(ctx, &stripe.RefundCreateParams{PaymentIntent: stripe.String(st.pi.ID), Amount: stripe.Int64(300)})
						return err
					},
					func(t *testing.T, st *setup) {
						sdkWantCounts(t, ctx, st.sc, st.tr, 1, 1, 1)
						ch, err := st.sc.V1Charges.Retrieve(ctx, st.pi.LatestCharge.ID, nil)
						sdkNoErr(t, st.tr, err, "retrieve charge")
						if ch.AmountRefunded != 300 {
							t.Fatalf("amount_refunded %d", ch.AmountRefunded)
						}
					}},
				{"create a customer",
					func(t *testing.T, st *setup) (string, string) { return "POST", "/v1/customers" },
					func(t *testing.T, st *setup) error {
						_, err := st.sc.V1Customers.Create(ctx, &stripe.CustomerCreateParams{Email: stripe.String("once@example.com")})
						return err
					},
					func(t *testing.T, st *setup) {
						if n := len(sdkCollect(t, st.tr, st.sc.V1Customers.List(ctx, nil).All(ctx))); n != 1 {
							t.Fatalf("%d customers", n)
						}
					}},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					sc, tr := sdkClientRetries(t, s, s.NewMerchant(t, "SDK retry "+tc.name).TestSecretKey, 2)
					st := &setup{sc: sc, tr: tr}
					method, path := tc.prepare(t, st)
					tr.dropNext(method, path, 1)
					err := tc.run(t, st)
					sdkNoErr(t, tr, err, "the call whose first response was lost")
					attempts := tr.exchanges(method + " " + path)
					if len(attempts) != 2 || !attempts[0].Dropped || attempts[1].Dropped {
						t.Fatalf("want 2 attempts, the first dropped; got %d:%s", len(attempts), tr.dump(4))
					}
					key := attempts[0].Header.Get("Idempotency-Key")
					if key == "" || attempts[1].Header.Get("Idempotency-Key") != key {
						t.Fatalf("Idempotency-Key %q then %q: the SDK must retry with the key it generated", key, attempts[1].Header.Get("Idempotency-Key"))
					}
					if attempts[0].Status != 200 || attempts[1].Status != 200 || attempts[1].RespHeader.Get("Idempotent-Replayed") != "true" || attempts[0].RespBody != attempts[1].RespBody {
						t.Fatalf("the retry was not a replay of the first answer:%s", tr.dump(2))
					}
					tc.verify(t, st)
				})
			}
		})
	})
}

// sdkWantCounts asserts how many intents, charges and refunds the merchant has.
func sdkWantCounts(t *testing.T, ctx context.Context, sc *stripe.Client, tr *sdkTransport, intents, charges, refunds int) {
	t.Helper()
	pis := sdkCollect(t, tr, sc.V1PaymentIntents.List(ctx, nil).All(ctx))
	chs := sdkCollect(t, tr, sc.V1Charges.List(ctx, nil).All(ctx))
	res := sdkCollect(t, tr, sc.V1Refunds.List(ctx, nil).All(ctx))
	if len(pis) != intents || len(chs) != charges || len(res) != refunds {
		t.Fatalf("%d intents, %d charges, %d refunds; want %d, %d, %d", len(pis), len(chs), len(res), intents, charges, refunds)
	}
}

func TestStripeSDKWireFormat(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		ctx := t.Context()
		sc, tr := sdkMerchant(t, s)
		cus, err := sc.V1Customers.Create(ctx, &stripe.CustomerCreateParams{Email: stripe.String("wire@example.com"), Metadata: map[string]string{"crm id": "A&B=C"}})
		sdkNoErr(t, tr, err, "create customer")
		p := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(1999), Currency: stripe.String("USD"), Customer: stripe.String(cus.ID),
			PaymentMethod: stripe.String("pm_card_visa"), Confirm: stripe.Bool(true), PaymentMethodTypes: []*string{stripe.String("card")},
			Metadata: map[string]string{"order_id": "6735", "note": "ü & = + ?"}, Description: stripe.String("wire test"),
			ReceiptEmail: stripe.String("wire@example.com")}
		p.AddExpand("latest_charge")
		p.AddExpand("customer")
		pi, err := sc.V1PaymentIntents.Create(ctx, p)
		sdkNoErr(t, tr, err, "create intent")
		sent := tr.last()
		evs := sdkCollect(t, tr, sc.V1Events.List(ctx, &stripe.EventListParams{Types: []*string{stripe.String("payment_intent.created"), stripe.String("charge.succeeded")}}).All(ctx))
		draft, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(10), Currency: stripe.String("usd")})
		sdkNoErr(t, tr, err, "create draft")
		_, err = sc.V1PaymentIntents.Update(ctx, draft.ID, &stripe.PaymentIntentUpdateParams{Description: stripe.String("still wire")})
		sdkNoErr(t, tr, err, "update before confirmation")
		_, err = sc.V1Customers.Delete(ctx, cus.ID, nil)
		sdkNoErr(t, tr, err, "delete customer")

		t.Run("form encoding", func(t *testing.T) {
			b := sent.Body
			tests := []struct{ key, want string }{
				{"amount", "1999"}, {"currency", "USD"}, {"confirm", "true"},
				{"metadata[order_id]", "6735"}, {"metadata[note]", "ü & = + ?"},
				{"payment_method_types[0]", "card"}, {"expand[0]", "latest_charge"}, {"expand[1]", "customer"},
			}
			for _, tc := range tests {
				if got := b.Get(tc.key); got != tc.want {
					t.Errorf("the SDK sent %s=%q, want %q (body %s)", tc.key, got, tc.want, sent.RawBody)
				}
			}
			if ct := sent.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type %q", ct)
			}
			if sent.Status != 200 {
				t.Fatalf("Tender answered %d:\n  %s", sent.Status, sent)
			}
			if pi.Metadata["order_id"] != "6735" || pi.Metadata["note"] != "ü & = + ?" || pi.Currency != "usd" || pi.ReceiptEmail != "wire@example.com" {
				t.Fatalf("metadata %v currency %q receipt_email %q", pi.Metadata, pi.Currency, pi.ReceiptEmail)
			}
			if pi.LatestCharge == nil || pi.LatestCharge.Amount != 1999 || pi.Customer == nil || pi.Customer.Metadata["crm id"] != "A&B=C" {
				t.Fatalf("expansions: latest_charge %+v customer %+v", pi.LatestCharge, pi.Customer)
			}
			if len(pi.PaymentMethodTypes) != 1 || pi.PaymentMethodTypes[0] != "card" {
				t.Fatalf("payment_method_types %v", pi.PaymentMethodTypes)
			}
			got := map[string]bool{}
			for _, e := range evs {
				got[string(e.Type)] = true
			}
			if len(evs) != 2 || !got["payment_intent.created"] || !got["charge.succeeded"] {
				t.Fatalf("types[] filter found %v", sdkIDs(evs, func(e *stripe.Event) string { return string(e.Type) }))
			}
			if q := tr.exchanges("GET /v1/events")[0].Query; q.Get("types[0]") != "payment_intent.created" || q.Get("types[1]") != "charge.succeeded" {
				t.Fatalf("events query %v", q)
			}
		})

		t.Run("default headers", func(t *testing.T) {
			all := tr.exchanges()
			if len(all) < 5 {
				t.Fatalf("only %d exchanges", len(all))
			}
			methods := map[string]bool{}
			telemetry := 0
			for _, e := range all {
				methods[e.Method] = true
				h := e.Header
				if h.Get("Stripe-Version") != stripe.APIVersion || !strings.HasPrefix(h.Get("User-Agent"), "Stripe/v1 GoBindings/") ||
					h.Get("Authorization") != "Bearer "+sdkKeyOf(t, tr) {
					t.Fatalf("headers %v", h)
				}
				var ua map[string]any
				if err := json.Unmarshal([]byte(h.Get("X-Stripe-Client-User-Agent")), &ua); err != nil || ua["lang"] != "go" {
					t.Fatalf("X-Stripe-Client-User-Agent %q (%v)", h.Get("X-Stripe-Client-User-Agent"), err)
				}
				if e.Method != "GET" && h.Get("Idempotency-Key") == "" {
					t.Fatalf("%s %s without an Idempotency-Key", e.Method, e.Path)
				}
				if h.Get("X-Stripe-Client-Telemetry") != "" {
					telemetry++
				}
				if e.Status != 200 || !strings.HasPrefix(e.RespHeader.Get("Request-Id"), "req_") {
					t.Fatalf("Tender refused the SDK's request:\n  %s", e)
				}
			}
			if !methods["GET"] || !methods["POST"] || !methods["DELETE"] {
				t.Fatalf("methods %v", methods)
			}
			t.Logf("%d requests, %d with X-Stripe-Client-Telemetry, all answered 200", len(all), telemetry)
		})
	})
}

// sdkKeyOf returns the bearer key the recorder saw first (the merchant's test key).
func sdkKeyOf(t *testing.T, tr *sdkTransport) string {
	t.Helper()
	all := tr.exchanges()
	if len(all) == 0 {
		t.Fatal("no exchanges")
	}
	k, ok := strings.CutPrefix(all[0].Header.Get("Authorization"), "Bearer ")
	if !ok || !strings.HasPrefix(k, "sk_test_") {
		t.Fatalf("Authorization %q", all[0].Header.Get("Authorization"))
	}
	return k
}
