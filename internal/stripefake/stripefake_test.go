package stripefake

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	skA = "sk_test_51AaAaAaAaAaAaAaAaAaAaAa00fakeA"
	pkA = "pk_test_51AaAaAaAaAaAaAaAaAaAaAa00fakeA"
	skB = "sk_test_51BbBbBbBbBbBbBbBbBbBbBb00fakeB"
)

func newFake(t *testing.T) *Fake {
	t.Helper()
	f := New()
	t.Cleanup(f.Close)
	f.AddAccount("A", skA, pkA)
	f.AddAccount("B", skB, "")
	return f
}

type answer struct {
	status   int
	replayed bool
	body     map[string]any
}

func call(t *testing.T, f *Fake, method, path, key, idem string, form url.Values) answer {
	t.Helper()
	req, err := http.NewRequest(method, f.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+key)
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return a
}

func payment(pm, capture string) url.Values {
	return url.Values{"amount": {"5000"}, "currency": {"usd"}, "confirm": {"true"}, "payment_method": {pm},
		"payment_method_types[0]": {"card"}, "capture_method": {capture}, "metadata[order]": {"42"}}
}

func TestKeysAndIsolation(t *testing.T) {
	f := newFake(t)
	if a := call(t, f, "GET", "/v1/balance", "sk_test_unknown0000", "", nil); a.status != 401 {
		t.Fatalf("unknown key: %+v", a)
	}
	if a := call(t, f, "GET", "/v1/balance", pkA, "", nil); a.status != 401 {
		t.Fatalf("publishable key: %+v", a)
	}
	if a := call(t, f, "GET", "/v1/balance", skA, "", nil); a.status != 200 || a.body["object"] != "balance" {
		t.Fatalf("balance: %+v", a)
	}
	f.AddRestrictedKey("A", "rk_test_51restricted")
	if a := call(t, f, "GET", "/v1/balance", "rk_test_51restricted", "", nil); a.status != 403 {
		t.Fatalf("restricted key on the balance: %+v", a)
	}
	pi := call(t, f, "POST", "/v1/payment_intents", skA, "k1", payment("pm_card_visa", "automatic"))
	id, _ := pi.body["id"].(string)
	if pi.status != 200 || pi.body["status"] != "succeeded" {
		t.Fatalf("payment: %+v", pi)
	}
	if a := call(t, f, "GET", "/v1/payment_intents/"+id, skB, "", nil); a.status != 404 {
		t.Fatalf("B reads A's PaymentIntent: %+v", a)
	}
	if a := call(t, f, "GET", "/v1/payment_intents/"+id, "rk_test_51restricted", "", nil); a.status != 200 {
		t.Fatalf("A's restricted key reads A's PaymentIntent: %+v", a)
	}
	// The same Idempotency-Key in B's account is B's own.
	if a := call(t, f, "POST", "/v1/payment_intents", skB, "k1", payment("pm_card_visa", "manual")); a.status != 200 || a.replayed {
		t.Fatalf("B's k1: %+v", a)
	}
	if f.Created("A") != 1 || f.Created("B") != 1 || len(f.PaymentIntents("A")) != 1 || f.PaymentIntents("B")[0].Status != "requires_capture" {
		t.Fatalf("accounts: %+v / %+v", f.PaymentIntents("A"), f.PaymentIntents("B"))
	}
	reqs := f.Requests()
	if len(reqs) != 8 || reqs[0].Account != "" || reqs[0].Status != 401 || reqs[4].Key != skA || reqs[4].IdempotencyKey != "k1" ||
		reqs[4].Form.Get("metadata[order]") != "42" || reqs[4].Account != "A" {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestIdempotency(t *testing.T) {
	f := newFake(t)
	first := call(t, f, "POST", "/v1/payment_intents", skA, "k1", payment("pm_card_chargeDeclined", "automatic"))
	again := call(t, f, "POST", "/v1/payment_intents", skA, "k1", payment("pm_card_chargeDeclined", "automatic"))
	if first.status != 402 || again.status != 402 || !again.replayed || first.replayed || f.Created("A") != 1 {
		t.Fatalf("first %+v, again %+v, %d created", first, again, f.Created("A"))
	}
	other := call(t, f, "POST", "/v1/payment_intents", skA, "k1", payment("pm_card_visa", "automatic"))
	if other.status != 400 || other.body["error"].(map[string]any)["type"] != "idempotency_error" {
		t.Fatalf("same key, other parameters: %+v", other)
	}
	if a := call(t, f, "POST", "/v1/payment_intents", skA, "k2", url.Values{"amount": {"5000"}, "bogus": {"1"}}); a.status != 400 {
		t.Fatalf("unknown parameter: %+v", a)
	}
}

func TestFaults(t *testing.T) {
	f := newFake(t)
	f.FailNext(Fault500, 1)
	if a := call(t, f, "GET", "/v1/balance", skA, "", nil); a.status != 500 {
		t.Fatalf("500: %+v", a)
	}
	if a := call(t, f, "GET", "/v1/balance", skA, "", nil); a.status != 200 {
		t.Fatalf("after the fault: %+v", a)
	}
	// A dropped answer: the payment happened.
	f.FailNext(FaultDrop, 1)
	req, _ := http.NewRequest("POST", f.URL+"/v1/payment_intents", strings.NewReader(payment("pm_card_visa", "automatic").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+skA)
	if resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("a dropped answer arrived")
	}
	if f.Created("A") != 1 {
		t.Fatalf("%d created", f.Created("A"))
	}
	// A hanging request is released by Close.
	f.FailNext(FaultHang, 1)
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(f.URL + "/v1/balance")
		if err == nil {
			resp.Body.Close()
			err = errors.New("answered")
		}
		done <- err
	}()
	<-f.Hung()
	f.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close left a request hanging")
	}
}

func TestStripeSideChangesAndEvents(t *testing.T) {
	f := newFake(t)
	pi := call(t, f, "POST", "/v1/payment_intents", skA, "", payment("pm_card_processing", "automatic"))
	id := pi.body["id"].(string)
	if pi.body["status"] != "processing" {
		t.Fatalf("processing card: %+v", pi)
	}
	if err := f.Capture(id); err == nil {
		t.Fatal("captured a processing payment")
	}
	if err := f.SettleAsync(id); err != nil {
		t.Fatal(err)
	}
	raw, err := f.Event("payment_intent.succeeded", id)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		ID, Object, Type string
		Livemode         bool
		Data             struct {
			Object map[string]any
		}
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ev.ID, "evt_") || ev.Object != "event" || ev.Type != "payment_intent.succeeded" || ev.Livemode ||
		ev.Data.Object["id"] != id || ev.Data.Object["status"] != "succeeded" || ev.Data.Object["amount_received"] != 5000.0 {
		t.Fatalf("event %s", raw)
	}
	if _, err := f.Event("payment_intent.succeeded", "pi_nope"); err == nil {
		t.Fatal("an event about nothing")
	}
	pm, err := f.CreatePaymentMethod("B", "pm_card_mastercard")
	if err != nil {
		t.Fatal(err)
	}
	if a := call(t, f, "GET", "/v1/payment_methods/"+pm, skA, "", nil); a.status != 404 {
		t.Fatalf("A reads B's payment method: %+v", a)
	}
	if a := call(t, f, "GET", "/v1/payment_methods/"+pm, skB, "", nil); a.status != 200 || a.body["card"].(map[string]any)["brand"] != "mastercard" {
		t.Fatalf("B's payment method: %+v", a)
	}
}
