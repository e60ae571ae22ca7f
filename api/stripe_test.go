package api_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/stripefake"
	"github.com/tenderhq/tender/internal/testserver"
	"github.com/tenderhq/tender/provider/stripe"
)

// These tests run Tender with its Stripe provider pointed at a stateful
// fake of Stripe (internal/stripefake, TENDER_STRIPE_API_URL), and drive
// everything through Tender's HTTP API: connecting Stripe, paying,
// receiving Stripe's webhooks and reconciling with Stripe.

// stripeAccount is a Stripe account at the fake, with its keys.
type stripeAccount struct {
	name, sk, pk, whsec string
}

const stripeAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func stripeRandom(n int) string {
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(stripeAlnum))))
		b[i] = stripeAlnum[k.Int64()]
	}
	return string(b)
}

// stripeEnv is a Tender server wired to a fake Stripe, with every
// response body it answered recorded and every secret the test handed out
// remembered, so that the test can check none of them leaked.
type stripeEnv struct {
	t    *testing.T
	s    *testserver.Server
	fake *stripefake.Fake
	c    *client
	rec  *stripeBodyRecorder
	// base is how many requests the fake had seen before this server
	// started: the fake outlives one database's server.
	base int

	mu      sync.Mutex
	secrets []string
}

// stripeTest runs fn on each database with a server whose Stripe provider
// talks to a fake Stripe. When fn ends, the server is stopped and its logs
// and every response body are checked for secrets.
func stripeTest(t *testing.T, env map[string]string, fn func(t *testing.T, e *stripeEnv)) {
	fake := stripefake.New()
	t.Cleanup(fake.Close)
	opt := testserver.Options{Env: map[string]string{"TENDER_STRIPE_API_URL": fake.URL}}
	for k, v := range env {
		opt.Env[k] = v
	}
	eachDB(t, opt, func(t *testing.T, s *testserver.Server) {
		rec := &stripeBodyRecorder{next: s.Client.Transport}
		if rec.next == nil {
			rec.next = http.DefaultTransport
		}
		s.Client.Transport = rec
		e := &stripeEnv{t: t, s: s, fake: fake, c: newClient(t, s, s.Merchant.TestSecretKey), rec: rec, base: len(fake.Requests())}
		e.secret(s.Env()["TENDER_MASTER_KEY"])
		t.Cleanup(func() {
			s.Stop(t) // the logs are complete once it has stopped
			e.assertNoSecrets(t)
		})
		fn(t, e)
	})
}

// secret remembers a value that must never appear in a log or a response.
func (e *stripeEnv) secret(v string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, v)
	return v
}

func (e *stripeEnv) assertNoSecrets(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	secrets := append([]string(nil), e.secrets...)
	e.mu.Unlock()
	logs := e.s.Logs()
	bodies := e.rec.all()
	if len(bodies) == 0 || logs == "" {
		t.Errorf("nothing to check: %d bodies, %d bytes of logs", len(bodies), len(logs))
	}
	for _, sec := range secrets {
		// The secret, and its random part without the prefix (sk_test_,
		// whsec_), in case a prefix was masked but not the rest.
		needles := []string{sec}
		if i := strings.LastIndexByte(sec[:min(len(sec), 9)], '_'); i > 0 && len(sec)-i > 12 {
			needles = append(needles, sec[i+1:])
		}
		for _, n := range needles {
			if strings.Contains(logs, n) {
				t.Errorf("the server's logs hold a secret (%.10s…)", sec)
			}
			for _, b := range bodies {
				if bytes.Contains(b, []byte(n)) {
					t.Errorf("a response body holds a secret (%.10s…): %.300s", sec, b)
					break
				}
			}
		}
	}
}

// stripeBodyRecorder is an http.RoundTripper that keeps a copy of every
// response body.
type stripeBodyRecorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies [][]byte
}

func (r *stripeBodyRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	r.mu.Lock()
	r.bodies = append(r.bodies, b)
	r.mu.Unlock()
	return resp, nil
}

func (r *stripeBodyRecorder) all() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}

// account makes a test-mode account at the fake with fresh keys.
func (e *stripeEnv) account(label string) stripeAccount {
	a := stripeAccount{name: label + "-" + stripeRandom(8),
		sk:    e.secret("sk_test_51" + stripeRandom(40)),
		pk:    "pk_test_51" + stripeRandom(40),
		whsec: e.secret("whsec_" + stripeRandom(32))}
	e.fake.AddAccount(a.name, a.sk, a.pk)
	return a
}

// putStripe sends PUT /v1/provider_configs/stripe with the given
// credentials ("" leaves one out).
func (e *stripeEnv) putStripe(key, sk, pk, whsec string) *testserver.Response {
	e.t.Helper()
	f := form()
	for k, v := range map[string]string{"secret_key": sk, "publishable_key": pk, "webhook_secret": whsec} {
		if v != "" {
			f.Set("credentials["+k+"]", v)
		}
	}
	return e.s.Do(e.t, testserver.Request{Method: "PUT", Path: "/v1/provider_configs/stripe", Key: key, Form: f})
}

// connect configures Stripe for a merchant (test mode) with a's keys.
func (e *stripeEnv) connect(m testserver.Merchant, a stripeAccount) {
	e.t.Helper()
	if r := e.putStripe(m.TestSecretKey, a.sk, a.pk, a.whsec); r.Status != 200 {
		e.t.Fatalf("connect Stripe for %s: %d %s", m.ID, r.Status, r.Body)
	}
}

// stripeRef returns the Stripe PaymentIntent of a Tender PaymentIntent: the
// provider_reference of its latest charge, checked against the fake.
func (e *stripeEnv) stripeRef(c *client, a stripeAccount, pi map[string]any) stripefake.PaymentIntent {
	e.t.Helper()
	chID, _ := pi["latest_charge"].(string)
	if chID == "" {
		e.t.Fatalf("PaymentIntent %v has no charge", pi["id"])
	}
	ch := c.ok(c.get("/v1/charges/" + chID))
	ref, _ := ch["provider_reference"].(string)
	spi, ok := e.fake.PaymentIntent(ref)
	if !ok {
		e.t.Fatalf("charge %s names provider_reference %q, unknown to Stripe", chID, ref)
	}
	if spi.Account != a.name || spi.Metadata["tender_payment_intent"] != pi["id"] || spi.Metadata["tender_charge"] != chID {
		e.t.Fatalf("Stripe PaymentIntent %s is in account %s with metadata %v; want account %s, %s/%s",
			spi.ID, spi.Account, spi.Metadata, a.name, pi["id"], chID)
	}
	return spi
}

// requests returns what the fake saw from this server.
func (e *stripeEnv) requests() []stripefake.Request { return e.fake.Requests()[e.base:] }

// requestsTo returns the fake's requests of method whose path is path.
func (e *stripeEnv) requestsTo(method, path string) []stripefake.Request {
	var out []stripefake.Request
	for _, r := range e.requests() {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// deliver POSTs a webhook to path, with a Stripe-Signature unless sig is "".
func (e *stripeEnv) deliver(path string, payload []byte, sig string) *testserver.Response {
	e.t.Helper()
	h := header("Content-Type", "application/json; charset=utf-8")
	if sig != "" {
		h.Set("Stripe-Signature", sig)
	}
	return e.s.Do(e.t, testserver.Request{Method: "POST", Path: path, Raw: payload, Header: h})
}

// event builds the event Stripe would send about the object now.
func (e *stripeEnv) event(typ, objectID string) []byte {
	e.t.Helper()
	b, err := e.fake.Event(typ, objectID)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// stripeObjectEvents returns the types of the events about one object, oldest
// first, and the events.
func stripeObjectEvents(c *client, id string) ([]string, []map[string]any) {
	_, evs := c.events()
	var types []string
	var out []map[string]any
	for _, ev := range evs {
		obj, _ := ev["data"].(map[string]any)["object"].(map[string]any)
		if obj["id"] == id || obj["payment_intent"] == id {
			types = append(types, ev["type"].(string))
			out = append(out, ev)
		}
	}
	return types, out
}

func stripeCount(types []string, typ string) int {
	n := 0
	for _, t := range types {
		if t == typ {
			n++
		}
	}
	return n
}

// stripeEventRequestID is an event's request.id (nil when no API request caused it).
func stripeEventRequestID(ev map[string]any) any {
	req, _ := ev["request"].(map[string]any)
	return req["id"]
}

// assertMadeByStripe checks that the events of types about id exist and
// carry no request: Stripe's news, not an API call, caused them.
func assertMadeByStripe(t *testing.T, c *client, id string, types ...string) {
	t.Helper()
	_, evs := stripeObjectEvents(c, id)
	for _, typ := range types {
		found := false
		for _, ev := range evs {
			if ev["type"] != typ {
				continue
			}
			found = true
			if stripeEventRequestID(ev) != nil {
				t.Errorf("event %s %s was caused by Stripe but names request %v", ev["id"], typ, stripeEventRequestID(ev))
			}
		}
		if !found {
			t.Errorf("no %s event about %s", typ, id)
		}
	}
	for _, ev := range evs {
		if ev["type"] == "payment_intent.created" && stripeEventRequestID(ev) == nil {
			t.Errorf("payment_intent.created has no request id: the check above proves nothing")
		}
	}
}

// payStripe creates and confirms a Stripe payment of 5000 with pm.
func payStripe(c *client, pm string, extra ...string) *testserver.Response {
	c.t.Helper()
	return c.post("/v1/payment_intents", form(append([]string{"amount", "5000", "currency", "usd", "provider", "stripe",
		"payment_method", pm, "confirm", "true"}, extra...)...))
}

func TestStripeKeyValidation(t *testing.T) {
	stripeTest(t, nil, func(t *testing.T, e *stripeEnv) {
		c := e.c
		key := e.s.Merchant.TestSecretKey
		a := e.account("valid")
		resp := e.putStripe(key, a.sk, a.pk, a.whsec)
		cfg := c.ok(resp)
		creds, _ := cfg["credentials"].(map[string]any)
		if cfg["object"] != "provider_config" || cfg["provider"] != "stripe" || cfg["configured"] != true || cfg["enabled"] != true ||
			cfg["livemode"] != false {
			t.Fatalf("config %s", resp.Body)
		}
		if creds["secret_key"] != "sk_test_…"+a.sk[len(a.sk)-4:] || creds["webhook_secret"] != "whsec_…"+a.whsec[len(a.whsec)-4:] ||
			creds["publishable_key"] != a.pk {
			t.Fatalf("credential hints %v", creds)
		}
		validated, ok := cfg["validated_at"].(float64)
		if !ok || time.Since(time.Unix(int64(validated), 0)) > time.Minute {
			t.Fatalf("validated_at = %v", cfg["validated_at"])
		}
		for _, sec := range []string{a.sk, a.sk[8:], a.whsec, a.whsec[6:]} {
			if bytes.Contains(resp.Body, []byte(sec)) {
				t.Fatalf("the config answer holds a secret: %s", resp.Body)
			}
		}
		balance := e.requestsTo("GET", "/v1/balance")
		if len(balance) != 1 || balance[0].Key != a.sk || balance[0].Status != 200 {
			t.Fatalf("validation at Stripe: %+v", balance)
		}

		unknown := e.secret("sk_test_51" + stripeRandom(40)) // Stripe has never heard of it
		liveSK := e.secret("sk_live_51" + stripeRandom(40))
		tests := []struct {
			name          string
			sk, pk, whsec string
			code          string // "" = not checked
			param         string
			sent          bool // whether Stripe was asked
		}{
			{"key unknown to Stripe", unknown, a.pk, a.whsec, "invalid_provider_credentials", "credentials[secret_key]", true},
			{"live secret key in test mode", liveSK, a.pk, a.whsec, "", "credentials[secret_key]", false},
			{"publishable and secret keys of different modes", a.sk, "pk_live_51" + stripeRandom(40), a.whsec, "", "credentials[publishable_key]", false},
			{"webhook secret that is not whsec_", a.sk, a.pk, e.secret("wh_" + stripeRandom(32)), "invalid_provider_credentials", "credentials[webhook_secret]", false},
			{"publishable key given as the secret key", a.pk, a.pk, a.whsec, "", "credentials[secret_key]", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := len(e.requests())
				r := e.putStripe(key, tt.sk, tt.pk, tt.whsec)
				if r.Status != 400 {
					t.Fatalf("status %d, want 400: %s", r.Status, r.Body)
				}
				er := r.Error(t)
				if er["type"] != "invalid_request_error" || tt.code != "" && er["code"] != tt.code || er["param"] != tt.param {
					t.Fatalf("error %v, want code %q param %s", er, tt.code, tt.param)
				}
				reqs := e.requests()[before:]
				if sent := len(reqs) > 0; sent != tt.sent {
					t.Fatalf("asked Stripe: %v (%+v), want %v", sent, reqs, tt.sent)
				}
				for _, req := range reqs {
					if req.Key != tt.sk || req.Status != 401 {
						t.Fatalf("Stripe saw %+v", req)
					}
				}
				// The good configuration stands.
				got := c.ok(c.get("/v1/provider_configs/stripe"))
				if fmt.Sprint(got["credentials"]) != fmt.Sprint(cfg["credentials"]) || got["validated_at"] != cfg["validated_at"] {
					t.Fatalf("a refused PUT changed the configuration: %v", got)
				}
			})
		}

		t.Run("restricted key", func(t *testing.T) {
			m := e.s.NewMerchant(t, "Restricted Shop")
			rk := e.secret("rk_test_51" + stripeRandom(40))
			e.fake.AddRestrictedKey(a.name, rk)
			got := c.ok(e.putStripe(m.TestSecretKey, rk, a.pk, ""))
			if got["credentials"].(map[string]any)["secret_key"] != "rk_test_…"+rk[len(rk)-4:] || got["validated_at"] == nil {
				t.Fatalf("config with a restricted key %v", got)
			}
		})

		t.Run("Stripe unreachable", func(t *testing.T) {
			b := e.account("unreachable")
			e.fake.FailNext(stripefake.Fault500, 10) // more than every retry
			r := e.putStripe(key, b.sk, b.pk, b.whsec)
			e.fake.FailNext("", 0)
			if r.Status < 500 || r.Error(t)["code"] != "provider_unreachable" {
				t.Fatalf("validation with Stripe down: %d %s", r.Status, r.Body)
			}
			if got := c.ok(c.get("/v1/provider_configs/stripe")); fmt.Sprint(got["credentials"]) != fmt.Sprint(cfg["credentials"]) {
				t.Fatalf("an unvalidated PUT changed the configuration: %v", got)
			}
		})

		t.Run("live mode", func(t *testing.T) {
			live := newClient(t, e.s, e.s.Merchant.LiveSecretKey)
			la := stripeAccount{name: "live-" + stripeRandom(8), sk: liveSK, pk: "pk_live_51" + stripeRandom(40), whsec: e.secret("whsec_" + stripeRandom(32))}
			e.fake.AddAccount(la.name, la.sk, la.pk)
			if r := e.putStripe(live.key, a.sk, a.pk, ""); r.Status != 400 {
				t.Fatalf("test keys in live mode: %d %s", r.Status, r.Body)
			}
			if r := e.putStripe(live.key, la.sk, a.pk, ""); r.Status != 400 {
				t.Fatalf("live secret key with a test publishable key: %d %s", r.Status, r.Body)
			}
			liveCfg := live.ok(e.putStripe(live.key, la.sk, la.pk, la.whsec))
			if liveCfg["livemode"] != true || liveCfg["validated_at"] == nil ||
				liveCfg["credentials"].(map[string]any)["secret_key"] != "sk_live_…"+la.sk[len(la.sk)-4:] {
				t.Fatalf("live config %v", liveCfg)
			}
			// The test-mode configuration is another one, untouched.
			if got := c.ok(c.get("/v1/provider_configs/stripe")); fmt.Sprint(got["credentials"]) != fmt.Sprint(cfg["credentials"]) ||
				got["livemode"] != false {
				t.Fatalf("test config %v", got)
			}
		})
	})
}

func TestStripePayments(t *testing.T) {
	stripeTest(t, nil, func(t *testing.T, e *stripeEnv) {
		c := e.c
		a := e.account("payments")
		e.connect(e.s.Merchant, a)

		t.Run("automatic capture", func(t *testing.T) {
			pi := c.ok(payStripe(c, "pm_card_visa", "description", "Order 42", "metadata[order_id]", "42"))
			if pi["status"] != "succeeded" || num(pi["amount_received"]) != 5000 || pi["provider"] != "stripe" {
				t.Fatalf("payment %v", pi)
			}
			spi := e.stripeRef(c, a, pi)
			if spi.Status != "succeeded" || spi.AmountReceived != 5000 || spi.CaptureMethod != "automatic" || spi.Currency != "usd" ||
				spi.Description != "Order 42" || spi.Metadata["order_id"] != "42" {
				t.Fatalf("at Stripe: %+v", spi)
			}
			ch := c.ok(c.get("/v1/charges/" + pi["latest_charge"].(string)))
			card, _ := ch["payment_method_details"].(map[string]any)["card"].(map[string]any)
			if ch["captured"] != true || num(ch["amount_captured"]) != 5000 || card["last4"] != "4242" || card["brand"] != "visa" {
				t.Fatalf("charge %v", ch)
			}
			var creates []stripefake.Request
			for _, r := range e.requestsTo("POST", "/v1/payment_intents") {
				if r.Form.Get("metadata[tender_payment_intent]") == pi["id"] {
					creates = append(creates, r)
				}
			}
			if len(creates) != 1 || creates[0].Key != a.sk || creates[0].IdempotencyKey != "tender-authorize-"+pi["latest_charge"].(string) {
				t.Fatalf("requests to Stripe %+v", creates)
			}
		})

		t.Run("manual capture, partial capture, refunds", func(t *testing.T) {
			pi := c.ok(payStripe(c, "pm_card_visa", "capture_method", "manual"))
			if pi["status"] != "requires_capture" || num(pi["amount_capturable"]) != 5000 {
				t.Fatalf("hold %v", pi)
			}
			id := pi["id"].(string)
			spi := e.stripeRef(c, a, pi)
			if spi.Status != "requires_capture" || spi.AmountCapturable != 5000 || spi.CaptureMethod != "manual" {
				t.Fatalf("at Stripe: %+v", spi)
			}
			pi = c.ok(c.post("/v1/payment_intents/"+id+"/capture", form("amount_to_capture", "3000")))
			if pi["status"] != "succeeded" || num(pi["amount_received"]) != 3000 || num(pi["amount_capturable"]) != 0 {
				t.Fatalf("captured %v", pi)
			}
			spi, _ = e.fake.PaymentIntent(spi.ID)
			if spi.Status != "succeeded" || spi.AmountReceived != 3000 {
				t.Fatalf("at Stripe after capture: %+v", spi)
			}
			if caps := e.requestsTo("POST", "/v1/payment_intents/"+spi.ID+"/capture"); len(caps) != 1 || caps[0].Form.Get("amount_to_capture") != "3000" || caps[0].Key != a.sk {
				t.Fatalf("capture at Stripe %+v", caps)
			}

			r1 := c.ok(c.post("/v1/refunds", form("payment_intent", id, "amount", "1000", "reason", "requested_by_customer")))
			if r1["status"] != "succeeded" || num(r1["amount"]) != 1000 {
				t.Fatalf("refund %v", r1)
			}
			r2 := c.ok(c.post("/v1/refunds", form("payment_intent", id))) // the rest
			if r2["status"] != "succeeded" || num(r2["amount"]) != 2000 {
				t.Fatalf("refund of the rest %v", r2)
			}
			for _, amount := range []string{"1", ""} {
				f := form("payment_intent", id)
				if amount != "" {
					f.Set("amount", amount)
				}
				if r := c.post("/v1/refunds", f); r.Status != 400 {
					t.Fatalf("refund beyond the captured amount (%q): %d %s", amount, r.Status, r.Body)
				}
			}
			spi, _ = e.fake.PaymentIntent(spi.ID)
			if spi.AmountRefunded != 3000 || spi.AmountReceived != 3000 {
				t.Fatalf("at Stripe: refunded %d of %d captured, want 3000 of 3000", spi.AmountRefunded, spi.AmountReceived)
			}
			ch := c.ok(c.get("/v1/charges/" + pi["latest_charge"].(string)))
			if num(ch["amount_refunded"]) != 3000 || ch["refunded"] != true || num(ch["amount_captured"]) != 3000 {
				t.Fatalf("charge %v", ch)
			}
		})

		t.Run("refund more than captured", func(t *testing.T) {
			pi := c.ok(payStripe(c, "pm_card_mastercard"))
			spi := e.stripeRef(c, a, pi)
			if r := c.post("/v1/refunds", form("payment_intent", pi["id"].(string), "amount", "5001")); r.Status != 400 {
				t.Fatalf("over-refund: %d %s", r.Status, r.Body)
			}
			if spi, _ = e.fake.PaymentIntent(spi.ID); spi.AmountRefunded != 0 {
				t.Fatalf("at Stripe: %+v", spi)
			}
		})

		t.Run("declines", func(t *testing.T) {
			for _, tt := range []struct{ pm, decline string }{
				{"pm_card_chargeDeclined", "generic_decline"},
				{"pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"},
			} {
				r := payStripe(c, tt.pm)
				if r.Status != 402 {
					t.Fatalf("%s: %d %s", tt.pm, r.Status, r.Body)
				}
				er := r.Error(t)
				pi, _ := er["payment_intent"].(map[string]any)
				if er["type"] != "card_error" || er["code"] != "card_declined" || er["decline_code"] != tt.decline || pi == nil ||
					pi["status"] != "requires_payment_method" {
					t.Fatalf("%s: error %v", tt.pm, er)
				}
				got := c.ok(c.get("/v1/payment_intents/" + pi["id"].(string)))
				lpe, _ := got["last_payment_error"].(map[string]any)
				if got["status"] != "requires_payment_method" || lpe["decline_code"] != tt.decline || lpe["code"] != "card_declined" {
					t.Fatalf("%s: intent %v", tt.pm, got)
				}
				ch := c.ok(c.get("/v1/charges/" + got["latest_charge"].(string)))
				spi, ok := e.fake.PaymentIntent(asString(ch["provider_reference"]))
				if ch["status"] != "failed" || !ok || spi.Status != "requires_payment_method" || spi.DeclineCode != tt.decline {
					t.Fatalf("%s: charge %v, at Stripe %+v", tt.pm, ch, spi)
				}
			}
		})

		t.Run("3-D Secure", func(t *testing.T) {
			pi := c.ok(payStripe(c, "pm_card_threeDSecure2Required", "return_url", "https://shop.example/return"))
			na, _ := pi["next_action"].(map[string]any)
			redirect, _ := na["redirect_to_url"].(map[string]any)
			spi := e.stripeRef(c, a, pi)
			if pi["status"] != "requires_action" || na["type"] != "redirect_to_url" || redirect["url"] != e.fake.URL+"/3ds/"+spi.ID ||
				redirect["return_url"] != "https://shop.example/return" {
				t.Fatalf("3-D Secure with return_url: %v", pi)
			}
			pi2 := c.ok(payStripe(c, "pm_card_threeDSecure2Required"))
			na2, _ := pi2["next_action"].(map[string]any)
			sdk, _ := na2["use_stripe_sdk"].(map[string]any)
			spi2 := e.stripeRef(c, a, pi2)
			if pi2["status"] != "requires_action" || na2["type"] != "use_stripe_sdk" || sdk["type"] != "three_d_secure_redirect" ||
				sdk["stripe_js"] != e.fake.URL+"/3ds/"+spi2.ID {
				t.Fatalf("3-D Secure for Stripe.js: %v", pi2)
			}
			// The customer passes the challenge; Stripe says so by webhook.
			if err := e.fake.Authenticate(spi.ID, true); err != nil {
				t.Fatal(err)
			}
			payload := e.event("payment_intent.succeeded", spi.ID)
			if r := e.deliver("/v1/webhooks/stripe/"+e.s.Merchant.ID, payload, stripe.SignWebhook(payload, a.whsec, time.Now())); r.Status != 200 {
				t.Fatalf("webhook: %d %s", r.Status, r.Body)
			}
			got := c.ok(c.get("/v1/payment_intents/" + pi["id"].(string)))
			if got["status"] != "succeeded" || num(got["amount_received"]) != 5000 || got["next_action"] != nil {
				t.Fatalf("after 3-D Secure: %v", got)
			}
			assertMadeByStripe(t, c, pi["id"].(string), "payment_intent.succeeded")
		})

		t.Run("saved card, charged off session", func(t *testing.T) {
			cus := c.ok(c.post("/v1/customers", form("email", "jane@example.com", "name", "Jane Doe")))["id"].(string)
			token, err := e.fake.CreatePaymentMethod(a.name, "pm_card_visa") // what Stripe.js would make
			if err != nil {
				t.Fatal(err)
			}
			pm := c.ok(c.post("/v1/payment_methods", form("type", "card", "provider", "stripe", "card[token]", token)))
			card, _ := pm["card"].(map[string]any)
			if pm["provider"] != "stripe" || card["last4"] != "4242" || card["brand"] != "visa" {
				t.Fatalf("payment method %v", pm)
			}
			pmID := pm["id"].(string)
			if got := c.ok(c.post("/v1/payment_methods/"+pmID+"/attach", form("customer", cus))); got["customer"] != cus {
				t.Fatalf("attach %v", got)
			}
			custs := e.fake.Customers(a.name)
			if len(custs) != 1 || custs[0].Email != "jane@example.com" || custs[0].Name != "Jane Doe" ||
				custs[0].Metadata["tender_customer"] != cus || len(custs[0].PaymentMethods) != 1 || custs[0].PaymentMethods[0] != token {
				t.Fatalf("customers at Stripe %+v", custs)
			}
			pi := c.ok(c.post("/v1/payment_intents", form("amount", "2500", "currency", "usd", "provider", "stripe", "customer", cus,
				"payment_method", pmID, "off_session", "true", "confirm", "true")))
			if pi["status"] != "succeeded" || pi["customer"] != cus || pi["payment_method"] != pmID || num(pi["amount_received"]) != 2500 {
				t.Fatalf("off-session payment %v", pi)
			}
			spi := e.stripeRef(c, a, pi)
			if !spi.OffSession || spi.Customer != custs[0].ID || spi.PaymentMethod != token || spi.AmountReceived != 2500 {
				t.Fatalf("off-session payment at Stripe %+v", spi)
			}
		})

		t.Run("key revoked at Stripe", func(t *testing.T) {
			b := e.account("revoked")
			m := e.s.NewMerchant(t, "Revoked Shop")
			e.connect(m, b)
			e.fake.RemoveKey(b.sk)
			bc := newClient(t, e.s, m.TestSecretKey)
			r := payStripe(bc, "pm_card_visa")
			if r.Status != 400 || r.Error(t)["code"] != "invalid_provider_credentials" {
				t.Fatalf("payment with a revoked key: %d %s", r.Status, r.Body)
			}
			if n := e.fake.Created(b.name); n != 0 {
				t.Fatalf("%d payments made with a revoked key", n)
			}
		})
	})
}

// processingPayment makes a payment with a card that stays processing at
// Stripe, and returns the Tender and Stripe PaymentIntents.
func (e *stripeEnv) processingPayment(c *client, a stripeAccount, extra ...string) (string, string) {
	e.t.Helper()
	pi := c.ok(payStripe(c, "pm_card_processing", extra...))
	if pi["status"] != "processing" {
		e.t.Fatalf("async card: %v", pi)
	}
	spi := e.stripeRef(c, a, pi)
	if spi.Status != "processing" {
		e.t.Fatalf("at Stripe: %+v", spi)
	}
	return pi["id"].(string), spi.ID
}

func TestStripeInboundWebhooks(t *testing.T) {
	// Recovery must not settle what the webhooks are to settle.
	stripeTest(t, map[string]string{"TENDER_RECOVER_AFTER": "1h"}, func(t *testing.T, e *stripeEnv) {
		c := e.c
		m := e.s.Merchant
		a := e.account("A")
		e.connect(m, a)
		mb := e.s.NewMerchant(t, "Shop B")
		b := e.account("B")
		e.connect(mb, b)
		merchantURL := "/v1/webhooks/stripe/" + m.ID

		for _, path := range []string{merchantURL, "/v1/webhooks/stripe"} {
			t.Run("delivered three times to "+strings.Replace(path, m.ID, "{merchant_id}", 1), func(t *testing.T) {
				id, ref := e.processingPayment(c, a)
				if err := e.fake.SettleAsync(ref); err != nil {
					t.Fatal(err)
				}
				payload := e.event("payment_intent.succeeded", ref)
				sig := stripe.SignWebhook(payload, a.whsec, time.Now())
				for i := range 3 {
					r := e.deliver(path, payload, sig)
					if r.Status < 200 || r.Status > 299 {
						t.Fatalf("delivery %d: %d %s", i+1, r.Status, r.Body)
					}
					got := r.JSON(t)
					if i == 0 && got["applied"] != true || i > 0 && (got["applied"] != false || got["reason"] != "duplicate") {
						t.Fatalf("delivery %d: %s", i+1, r.Body)
					}
				}
				pi := c.ok(c.get("/v1/payment_intents/" + id))
				if pi["status"] != "succeeded" || num(pi["amount_received"]) != 5000 {
					t.Fatalf("after the webhook: %v", pi)
				}
				types, _ := stripeObjectEvents(c, id)
				if stripeCount(types, "payment_intent.succeeded") != 1 || stripeCount(types, "charge.succeeded") != 1 {
					t.Fatalf("events %v, want one payment_intent.succeeded and one charge.succeeded", types)
				}
				assertMadeByStripe(t, c, id, "payment_intent.succeeded", "charge.succeeded")
			})
		}

		t.Run("delivered concurrently", func(t *testing.T) {
			id, ref := e.processingPayment(c, a)
			if err := e.fake.SettleAsync(ref); err != nil {
				t.Fatal(err)
			}
			payload := e.event("payment_intent.succeeded", ref)
			sig := stripe.SignWebhook(payload, a.whsec, time.Now())
			var wg sync.WaitGroup
			statuses := make(chan string, 5)
			for i := range 5 {
				path := merchantURL
				if i%2 == 1 {
					path = "/v1/webhooks/stripe"
				}
				wg.Go(func() {
					r := e.deliver(path, payload, sig)
					statuses <- fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body))
				})
			}
			wg.Wait()
			close(statuses)
			for st := range statuses {
				if !strings.HasPrefix(st, "2") {
					t.Errorf("concurrent delivery answered %s", st)
				}
			}
			types, _ := stripeObjectEvents(c, id)
			if pi := c.ok(c.get("/v1/payment_intents/" + id)); pi["status"] != "succeeded" || stripeCount(types, "payment_intent.succeeded") != 1 ||
				stripeCount(types, "charge.succeeded") != 1 {
				t.Fatalf("status %v, events %v", pi["status"], types)
			}
		})

		t.Run("refused deliveries change nothing", func(t *testing.T) {
			id, ref := e.processingPayment(c, a)
			if err := e.fake.SettleAsync(ref); err != nil {
				t.Fatal(err)
			}
			payload := e.event("payment_intent.succeeded", ref)
			now := time.Now()
			tampered := bytes.Replace(payload, []byte(`"amount_received":5000`), []byte(`"amount_received":9000`), 1)
			live := bytes.ReplaceAll(payload, []byte(`"livemode":false`), []byte(`"livemode":true`))
			if bytes.Equal(tampered, payload) || bytes.Equal(live, payload) {
				t.Fatal("could not tamper with the payload")
			}
			typesBefore, _ := stripeObjectEvents(c, id)
			cases := []struct {
				name    string
				payload []byte
				sig     string
			}{
				{"bad signature", payload, stripe.SignWebhook(payload, "whsec_"+stripeRandom(32), now)},
				{"tampered payload", tampered, stripe.SignWebhook(payload, a.whsec, now)},
				{"no Stripe-Signature", payload, ""},
				{"malformed Stripe-Signature", payload, "garbage"},
				{"stale timestamp (301 s)", payload, stripe.SignWebhook(payload, a.whsec, now.Add(-301*time.Second))},
				{"another merchant's secret", payload, stripe.SignWebhook(payload, b.whsec, now)},
				{"live event signed with the test secret", live, stripe.SignWebhook(live, a.whsec, now)},
			}
			for _, path := range []string{merchantURL, "/v1/webhooks/stripe"} {
				for _, tc := range cases {
					r := e.deliver(path, tc.payload, tc.sig)
					if r.Status != 400 {
						t.Errorf("%s to %s: %d %s", tc.name, path, r.Status, r.Body)
						continue
					}
					if er := r.Error(t); er["type"] != "invalid_request_error" {
						t.Errorf("%s to %s: error %v", tc.name, path, er)
					}
				}
			}
			// Merchant B's own URL and secret, about merchant A's payment:
			// verified as B's, it finds nothing of B's to change.
			other := e.event("payment_intent.succeeded", ref)
			if r := e.deliver("/v1/webhooks/stripe/"+mb.ID, other, stripe.SignWebhook(other, b.whsec, now)); r.Status != 200 || r.JSON(t)["applied"] != false {
				t.Errorf("B's event about A's payment: %d %s", r.Status, r.Body)
			}
			if r := e.deliver("/v1/webhooks/stripe/mer_"+strings.Repeat("0", 26), payload, stripe.SignWebhook(payload, a.whsec, now)); r.Status != 400 {
				t.Errorf("unknown merchant in the URL: %d %s", r.Status, r.Body)
			}
			pi := c.ok(c.get("/v1/payment_intents/" + id))
			typesAfter, _ := stripeObjectEvents(c, id)
			if pi["status"] != "processing" || fmt.Sprint(typesAfter) != fmt.Sprint(typesBefore) {
				t.Fatalf("refused deliveries changed the payment: %v, events %v → %v", pi["status"], typesBefore, typesAfter)
			}
			// None of them used the event up: the genuine delivery applies.
			r := e.deliver(merchantURL, payload, stripe.SignWebhook(payload, a.whsec, time.Now()))
			if r.Status != 200 || r.JSON(t)["applied"] != true {
				t.Fatalf("genuine delivery after the refused ones: %d %s", r.Status, r.Body)
			}
			if pi := c.ok(c.get("/v1/payment_intents/" + id)); pi["status"] != "succeeded" {
				t.Fatalf("after the genuine delivery: %v", pi)
			}
		})

		t.Run("merchant without a webhook secret", func(t *testing.T) {
			mc := e.s.NewMerchant(t, "Shop C")
			ac := e.account("C")
			if r := e.putStripe(mc.TestSecretKey, ac.sk, ac.pk, ""); r.Status != 200 {
				t.Fatalf("connect without a webhook secret: %d %s", r.Status, r.Body)
			}
			cc := newClient(t, e.s, mc.TestSecretKey)
			id, ref := e.processingPayment(cc, ac)
			if err := e.fake.SettleAsync(ref); err != nil {
				t.Fatal(err)
			}
			payload := e.event("payment_intent.succeeded", ref)
			for _, path := range []string{"/v1/webhooks/stripe/" + mc.ID, "/v1/webhooks/stripe"} {
				if r := e.deliver(path, payload, stripe.SignWebhook(payload, a.whsec, time.Now())); r.Status != 400 {
					t.Errorf("to %s: %d %s", path, r.Status, r.Body)
				}
			}
			if pi := cc.ok(cc.get("/v1/payment_intents/" + id)); pi["status"] != "processing" {
				t.Fatalf("an unverifiable webhook changed the payment: %v", pi["status"])
			}
		})

		t.Run("unknown PaymentIntent", func(t *testing.T) {
			typesBefore, _ := c.events()
			unknown := e.fake.NewEvent("payment_intent.succeeded", map[string]any{"id": "pi_" + stripeRandom(24), "object": "payment_intent",
				"status": "succeeded", "amount": 5000, "amount_received": 5000, "amount_capturable": 0, "currency": "usd",
				"metadata": map[string]string{}, "latest_charge": nil, "payment_method": nil}, false)
			for _, path := range []string{merchantURL, "/v1/webhooks/stripe"} {
				r := e.deliver(path, unknown, stripe.SignWebhook(unknown, a.whsec, time.Now()))
				if r.Status < 200 || r.Status > 299 || r.JSON(t)["applied"] != false {
					t.Fatalf("event about an unknown PaymentIntent to %s: %d %s", path, r.Status, r.Body)
				}
			}
			if typesAfter, _ := c.events(); fmt.Sprint(typesAfter) != fmt.Sprint(typesBefore) {
				t.Fatalf("events changed: %v → %v", typesBefore, typesAfter)
			}
		})

		t.Run("out of order: succeeded, then an older processing", func(t *testing.T) {
			id, ref := e.processingPayment(c, a)
			older := e.event("payment_intent.processing", ref)
			if err := e.fake.SettleAsync(ref); err != nil {
				t.Fatal(err)
			}
			newer := e.event("payment_intent.succeeded", ref)
			for _, p := range [][]byte{newer, older} {
				if r := e.deliver(merchantURL, p, stripe.SignWebhook(p, a.whsec, time.Now())); r.Status != 200 {
					t.Fatalf("delivery: %d %s", r.Status, r.Body)
				}
			}
			pi := c.ok(c.get("/v1/payment_intents/" + id))
			types, _ := stripeObjectEvents(c, id)
			if pi["status"] != "succeeded" || stripeCount(types, "payment_intent.processing") != 1 || stripeCount(types, "payment_intent.succeeded") != 1 {
				t.Fatalf("status %v, events %v", pi["status"], types)
			}
		})

		t.Run("out of order: captured from the dashboard, then an older amount_capturable_updated", func(t *testing.T) {
			pi := c.ok(payStripe(c, "pm_card_visa", "capture_method", "manual"))
			id := pi["id"].(string)
			spi := e.stripeRef(c, a, pi)
			older := e.event("payment_intent.amount_capturable_updated", spi.ID)
			if err := e.fake.Capture(spi.ID); err != nil {
				t.Fatal(err)
			}
			newer := e.event("payment_intent.succeeded", spi.ID)
			for _, p := range [][]byte{newer, older} {
				if r := e.deliver("/v1/webhooks/stripe", p, stripe.SignWebhook(p, a.whsec, time.Now())); r.Status != 200 {
					t.Fatalf("delivery: %d %s", r.Status, r.Body)
				}
			}
			pi = c.ok(c.get("/v1/payment_intents/" + id))
			types, _ := stripeObjectEvents(c, id)
			if pi["status"] != "succeeded" || num(pi["amount_received"]) != 5000 || num(pi["amount_capturable"]) != 0 ||
				stripeCount(types, "payment_intent.succeeded") != 1 || stripeCount(types, "charge.captured") != 1 ||
				stripeCount(types, "payment_intent.amount_capturable_updated") != 1 {
				t.Fatalf("intent %v, events %v", pi, types)
			}
			ch := c.ok(c.get("/v1/charges/" + pi["latest_charge"].(string)))
			if ch["captured"] != true || num(ch["amount_captured"]) != 5000 {
				t.Fatalf("charge %v", ch)
			}
			assertMadeByStripe(t, c, id, "payment_intent.succeeded", "charge.captured")
			// Captured at Stripe, so Tender must not capture again.
			if r := c.post("/v1/payment_intents/"+id+"/capture", nil); r.Status != 400 {
				t.Fatalf("second capture: %d %s", r.Status, r.Body)
			}
		})

		t.Run("hold canceled from the dashboard, then an older amount_capturable_updated", func(t *testing.T) {
			pi := c.ok(payStripe(c, "pm_card_visa", "capture_method", "manual"))
			id := pi["id"].(string)
			spi := e.stripeRef(c, a, pi)
			older := e.event("payment_intent.amount_capturable_updated", spi.ID)
			if err := e.fake.Cancel(spi.ID, "abandoned"); err != nil {
				t.Fatal(err)
			}
			newer := e.event("payment_intent.canceled", spi.ID)
			for _, p := range [][]byte{newer, older} {
				if r := e.deliver(merchantURL, p, stripe.SignWebhook(p, a.whsec, time.Now())); r.Status != 200 {
					t.Fatalf("delivery: %d %s", r.Status, r.Body)
				}
			}
			pi = c.ok(c.get("/v1/payment_intents/" + id))
			types, _ := stripeObjectEvents(c, id)
			if pi["status"] != "canceled" || num(pi["amount_capturable"]) != 0 || stripeCount(types, "payment_intent.canceled") != 1 {
				t.Fatalf("intent %v, events %v", pi, types)
			}
			assertMadeByStripe(t, c, id, "payment_intent.canceled")
			if r := c.post("/v1/payment_intents/"+id+"/capture", nil); r.Status != 400 {
				t.Fatalf("capture after a cancel at Stripe: %d %s", r.Status, r.Body)
			}
			if spi, _ = e.fake.PaymentIntent(spi.ID); spi.Status != "canceled" || spi.AmountReceived != 0 {
				t.Fatalf("at Stripe: %+v", spi)
			}
		})

		// Stripe sends every event of an account to every webhook endpoint
		// of that account. When two Tender merchants connect the same Stripe
		// account, each event reaches both merchants' URLs, signed with each
		// endpoint's own secret; only the merchant whose payment it is about
		// can apply it, whichever delivery arrives first.
		t.Run("Stripe account shared by two merchants", func(t *testing.T) {
			m2 := e.s.NewMerchant(t, "Shop A2")
			a2 := a
			a2.whsec = e.secret("whsec_" + stripeRandom(32)) // its own endpoint's secret
			e.connect(m2, a2)
			pi := c.ok(payStripe(c, "pm_card_visa", "capture_method", "manual"))
			id := pi["id"].(string)
			spi := e.stripeRef(c, a, pi)
			if err := e.fake.Capture(spi.ID); err != nil { // from the dashboard
				t.Fatal(err)
			}
			payload := e.event("payment_intent.succeeded", spi.ID)
			now := time.Now()
			if r := e.deliver("/v1/webhooks/stripe/"+m2.ID, payload, stripe.SignWebhook(payload, a2.whsec, now)); r.Status != 200 {
				t.Fatalf("delivery to the other merchant's endpoint: %d %s", r.Status, r.Body)
			}
			r := e.deliver(merchantURL, payload, stripe.SignWebhook(payload, a.whsec, now))
			if r.Status != 200 || r.JSON(t)["applied"] != true {
				t.Errorf("delivery to the owner's endpoint after the other's: %d %s", r.Status, r.Body)
			}
			if pi := c.ok(c.get("/v1/payment_intents/" + id)); pi["status"] != "succeeded" {
				t.Errorf("captured at Stripe, but Tender says %v", pi["status"])
			}
		})

		t.Run("failed asynchronously", func(t *testing.T) {
			id, ref := e.processingPayment(c, a)
			if err := e.fake.FailAsync(ref, "insufficient_funds"); err != nil {
				t.Fatal(err)
			}
			p := e.event("payment_intent.payment_failed", ref)
			if r := e.deliver(merchantURL, p, stripe.SignWebhook(p, a.whsec, time.Now())); r.Status != 200 || r.JSON(t)["applied"] != true {
				t.Fatalf("delivery: %d %s", r.Status, r.Body)
			}
			pi := c.ok(c.get("/v1/payment_intents/" + id))
			lpe, _ := pi["last_payment_error"].(map[string]any)
			if pi["status"] != "requires_payment_method" || lpe["decline_code"] != "insufficient_funds" {
				t.Fatalf("intent %v", pi)
			}
			assertMadeByStripe(t, c, id, "payment_intent.payment_failed", "charge.failed")
		})
	})
}

func TestStripeReconciliation(t *testing.T) {
	env := map[string]string{"TENDER_RECOVER_AFTER": "1s", "TENDER_RECOVERY_INTERVAL": "200ms"}
	stripeTest(t, env, func(t *testing.T, e *stripeEnv) {
		c := e.c
		a := e.account("recovery")
		e.connect(e.s.Merchant, a)

		t.Run("settled at Stripe, no webhook", func(t *testing.T) {
			id, ref := e.processingPayment(c, a)
			// Recovery asks Stripe while the payment is still processing…
			polls := func() []stripefake.Request { return e.requestsTo("GET", "/v1/payment_intents/"+ref) }
			waitFor(t, 20*time.Second, "recovery to ask Stripe", func() bool { return len(polls()) >= 2 })
			types, _ := stripeObjectEvents(c, id)
			if pi := c.ok(c.get("/v1/payment_intents/" + id)); pi["status"] != "processing" || stripeCount(types, "payment_intent.processing") != 1 {
				t.Fatalf("still processing at Stripe, yet %v, events %v", pi["status"], types)
			}
			// …and settles it once Stripe has.
			if err := e.fake.SettleAsync(ref); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 20*time.Second, "recovery to settle the payment", func() bool {
				return c.ok(c.get("/v1/payment_intents/" + id))["status"] == "succeeded"
			})
			pi := c.ok(c.get("/v1/payment_intents/" + id))
			types, _ = stripeObjectEvents(c, id)
			if num(pi["amount_received"]) != 5000 || stripeCount(types, "payment_intent.succeeded") != 1 || stripeCount(types, "charge.succeeded") != 1 {
				t.Fatalf("intent %v, events %v", pi, types)
			}
			assertMadeByStripe(t, c, id, "payment_intent.succeeded", "charge.succeeded")
			for _, r := range polls() {
				if r.Key != a.sk || r.Account != a.name {
					t.Fatalf("recovery asked with another key: %+v", r)
				}
			}
		})

		t.Run("answer lost, recovered by idempotency key", func(t *testing.T) {
			// Stripe charges but every answer is lost, the SDK's retry's too:
			// the outcome is unknown to Tender until recovery asks again with
			// the same key, and Stripe replays the first answer.
			e.fake.FailNext(stripefake.FaultDrop, 10) // more than the SDK and net/http retry
			r := payStripe(c, "pm_card_visa")
			e.fake.FailNext("", 0)
			if r.Status != 200 {
				t.Fatalf("payment whose answer was lost: %d %s", r.Status, r.Body)
			}
			pi := r.JSON(t)
			id := pi["id"].(string)
			if pi["status"] != "processing" {
				t.Fatalf("Tender knew the outcome of a request whose answers were all lost: %v", pi["status"])
			}
			waitFor(t, 20*time.Second, "recovery to settle the lost answer", func() bool {
				return c.ok(c.get("/v1/payment_intents/" + id))["status"] == "succeeded"
			})
			pi = c.ok(c.get("/v1/payment_intents/" + id))
			var keys []string
			var last stripefake.Request
			for _, r := range e.requestsTo("POST", "/v1/payment_intents") {
				if r.Form.Get("metadata[tender_payment_intent]") == id {
					keys = append(keys, r.IdempotencyKey)
					last = r
				}
			}
			if !last.Replayed || last.Status != 200 {
				t.Fatalf("the answer that settled it was not Stripe's replay of the first: %+v", last)
			}
			spi := e.stripeRef(c, a, pi)
			n := 0
			for _, p := range e.fake.PaymentIntents(a.name) {
				if p.Metadata["tender_payment_intent"] == id {
					n++
				}
			}
			if n != 1 || spi.Status != "succeeded" || num(pi["amount_received"]) != 5000 {
				t.Fatalf("%d PaymentIntents at Stripe for %s (requests with keys %v), want exactly one", n, id, keys)
			}
			for _, k := range keys {
				if k != "tender-authorize-"+pi["latest_charge"].(string) {
					t.Fatalf("requests with keys %v, want one key", keys)
				}
			}
			types, _ := stripeObjectEvents(c, id)
			if stripeCount(types, "payment_intent.succeeded") != 1 {
				t.Fatalf("events %v", types)
			}
		})

		t.Run("capture and refund answers lost", func(t *testing.T) {
			pi := c.ok(payStripe(c, "pm_card_visa", "capture_method", "manual"))
			id := pi["id"].(string)
			spi := e.stripeRef(c, a, pi)

			// Stripe captures; the answer, and every retry's, are lost.
			e.fake.FailNext(stripefake.FaultDrop, 10)
			r := c.post("/v1/payment_intents/"+id+"/capture", form("amount_to_capture", "4000"))
			e.fake.FailNext("", 0)
			if r.Status != 200 || r.JSON(t)["status"] != "processing" {
				t.Fatalf("capture whose answer was lost: %d %s", r.Status, r.Body)
			}
			waitFor(t, 20*time.Second, "recovery to settle the capture", func() bool {
				return c.ok(c.get("/v1/payment_intents/" + id))["status"] == "succeeded"
			})
			pi = c.ok(c.get("/v1/payment_intents/" + id))
			spi, _ = e.fake.PaymentIntent(spi.ID)
			if num(pi["amount_received"]) != 4000 || spi.AmountReceived != 4000 || spi.Status != "succeeded" {
				t.Fatalf("captured: Tender %v, Stripe %+v", pi["amount_received"], spi)
			}
			for _, r := range e.requestsTo("POST", "/v1/payment_intents/"+spi.ID+"/capture") {
				if r.IdempotencyKey != "tender-capture-"+pi["latest_charge"].(string) {
					t.Fatalf("capture re-sent with another key: %+v", r)
				}
			}

			// Stripe refunds; the answers are lost.
			e.fake.FailNext(stripefake.FaultDrop, 10)
			r = c.post("/v1/refunds", form("payment_intent", id, "amount", "1500"))
			e.fake.FailNext("", 0)
			if r.Status != 200 || r.JSON(t)["status"] != "pending" {
				t.Fatalf("refund whose answer was lost: %d %s", r.Status, r.Body)
			}
			re := r.JSON(t)
			reID, _ := re["id"].(string)
			if reID == "" {
				t.Fatalf("refund %s", r.Body)
			}
			waitFor(t, 20*time.Second, "recovery to settle the refund", func() bool {
				return c.ok(c.get("/v1/refunds/" + reID))["status"] == "succeeded"
			})
			spi, _ = e.fake.PaymentIntent(spi.ID)
			ch := c.ok(c.get("/v1/charges/" + pi["latest_charge"].(string)))
			if spi.AmountRefunded != 1500 || num(ch["amount_refunded"]) != 1500 {
				t.Fatalf("refunded: Stripe %d, Tender %v; want 1500 once", spi.AmountRefunded, ch["amount_refunded"])
			}
		})

		t.Run("failed at Stripe, no webhook", func(t *testing.T) {
			id, ref := e.processingPayment(c, a)
			if err := e.fake.FailAsync(ref, "generic_decline"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 20*time.Second, "recovery to fail the payment", func() bool {
				return c.ok(c.get("/v1/payment_intents/" + id))["status"] == "requires_payment_method"
			})
			pi := c.ok(c.get("/v1/payment_intents/" + id))
			if lpe, _ := pi["last_payment_error"].(map[string]any); lpe["decline_code"] != "generic_decline" {
				t.Fatalf("intent %v", pi)
			}
		})
	})
}

func TestStripePerRequestIsolation(t *testing.T) {
	stripeTest(t, nil, func(t *testing.T, e *stripeEnv) {
		ma, mb := e.s.Merchant, e.s.NewMerchant(t, "Shop B")
		a, b := e.account("A"), e.account("B")
		e.connect(ma, a)
		e.connect(mb, b)
		merchants := []struct {
			m    testserver.Merchant
			acct stripeAccount
		}{{ma, a}, {mb, b}}

		var mu sync.Mutex
		made := map[string]map[string]bool{a.name: {}, b.name: {}} // Stripe account → Tender PaymentIntents
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			mc := merchants[i%2]
			wg.Go(func() {
				<-start
				r := e.s.Do(t, testserver.Request{Method: "POST", Path: "/v1/payment_intents", Key: mc.m.TestSecretKey,
					Form: form("amount", fmt.Sprint(1000+i), "currency", "usd", "provider", "stripe", "payment_method", "pm_card_visa", "confirm", "true")})
				if r.Status != 200 {
					errs <- fmt.Errorf("payment %d: %d %s", i, r.Status, r.Body)
					return
				}
				pi := r.JSON(t)
				if pi["status"] != "succeeded" {
					errs <- fmt.Errorf("payment %d: %v", i, pi["status"])
					return
				}
				mu.Lock()
				made[mc.acct.name][pi["id"].(string)] = true
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			t.FailNow()
		}
		keyOf := map[string]string{a.name: a.sk, b.name: b.sk}
		for _, r := range e.requests() {
			if r.Account == "" || r.Key != keyOf[r.Account] {
				t.Errorf("request %s %s with key %.12s… reached account %q", r.Method, r.Path, r.Key, r.Account)
			}
			if md := r.Form.Get("metadata[tender_payment_intent]"); md != "" && !made[r.Account][md] {
				t.Errorf("account %s was asked to charge for %s, another merchant's payment", r.Account, md)
			}
		}
		for _, acct := range []stripeAccount{a, b} {
			pis := e.fake.PaymentIntents(acct.name)
			if len(pis) != 10 || e.fake.Created(acct.name) != 10 || len(made[acct.name]) != 10 {
				t.Errorf("account %s holds %d PaymentIntents (%d created), want 10", acct.name, len(pis), e.fake.Created(acct.name))
			}
			for _, pi := range pis {
				if !made[acct.name][pi.Metadata["tender_payment_intent"]] {
					t.Errorf("account %s holds %s, not one of its merchant's payments", acct.name, pi.Metadata["tender_payment_intent"])
				}
			}
		}
	})
}
