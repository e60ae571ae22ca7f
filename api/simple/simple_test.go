package simple_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testserver"
)

// call sends a seed 001 request (X-API-Key, JSON) and decodes the envelope.
func call(t *testing.T, s *testserver.Server, key, method, path string, body any, hdr ...string) (int, map[string]any) {
	t.Helper()
	h := http.Header{"X-Api-Key": {key}}
	for i := 0; i < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	req := testserver.Request{Method: method, Path: path, Header: h}
	if body != nil {
		req.JSON = body
	}
	resp := s.Do(t, req)
	var m map[string]any
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.Status, resp.Body)
	}
	return resp.Status, m
}

func data(t *testing.T, status int, m map[string]any) map[string]any {
	t.Helper()
	if status != 200 || m["success"] != true {
		t.Fatalf("status %d: %v", status, m)
	}
	d, _ := m["data"].(map[string]any)
	return d
}

func eachDB(t *testing.T, fn func(t *testing.T, s *testserver.Server)) {
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) { fn(t, testserver.Start(t, testserver.Options{Kind: kind})) })
	}
}

// TestSeed001Examples replays seed 001's requests and checks its answers'
// shapes (ids and times aside).
func TestSeed001Examples(t *testing.T) {
	eachDB(t, func(t *testing.T, s *testserver.Server) {
		key := s.Merchant.TestSecretKey

		// Step 6: make your first payment (in test mode the sandbox stands in for Stripe).
		st, m := call(t, s, key, "POST", "/v1/payments", map[string]any{"amount": 10.00, "currency": "USD", "provider": "sandbox", "payment_method": "pm_card_visa"}, "Idempotency-Key", "test-stripe-001")
		p := data(t, st, m)
		for _, field := range []string{"id", "merchant_id", "amount", "currency", "provider", "status", "provider_ref", "idempotency_key", "created_at"} {
			if _, ok := p[field]; !ok {
				t.Fatalf("payment lacks %s: %v", field, p)
			}
		}
		if p["amount"] != "10.00" || p["currency"] != "USD" || p["status"] != "completed" || p["merchant_id"] != s.Merchant.ID ||
			p["idempotency_key"] != "test-stripe-001" || !strings.HasPrefix(p["provider_ref"].(string), "sbx_") {
			t.Fatalf("payment %v", p)
		}
		if _, err := time.Parse(time.RFC3339, p["created_at"].(string)); err != nil {
			t.Fatalf("created_at %v", p["created_at"])
		}
		// The same key replays.
		st2, m2 := call(t, s, key, "POST", "/v1/payments", map[string]any{"amount": 10.00, "currency": "USD", "provider": "sandbox", "payment_method": "pm_card_visa"}, "Idempotency-Key", "test-stripe-001")
		if data(t, st2, m2)["id"] != p["id"] {
			t.Fatal("replay made another payment")
		}

		// Create Payment (50.00 with return_url).
		st, m = call(t, s, key, "POST", "/v1/payments", map[string]any{"amount": 50.00, "currency": "USD", "payment_method": "pm_card_visa", "return_url": "https://merchant.com/return"}, "Idempotency-Key", "order-123")
		p50 := data(t, st, m)
		if p50["amount"] != "50.00" || p50["status"] != "completed" {
			t.Fatalf("50.00 payment %v", p50)
		}

		// The declined test method of seed 001.
		st, m = call(t, s, key, "POST", "/v1/payments", map[string]any{"amount": "5.00", "currency": "USD", "payment_method": "pm_card_declined"})
		if st != 402 || m["success"] != false || m["error"].(map[string]any)["code"] != "card_declined" || m["data"].(map[string]any)["status"] != "failed" {
			t.Fatalf("decline: %d %v", st, m)
		}

		// Saved cards: save, list, charge off-session, delete.
		st, m = call(t, s, key, "POST", "/v1/payments/cards", map[string]any{"payment_method_id": "pm_card_visa", "customer_email": "user@example.com", "customer_name": "Jane Doe"})
		card := data(t, st, m)
		if card["brand"] != "visa" || card["last4"] != "4242" || card["is_default"] != true || num(card["exp_month"]) == 0 || card["provider"] != "sandbox" {
			t.Fatalf("saved card %v", card)
		}
		st, m = call(t, s, key, "POST", "/v1/payments/cards", map[string]any{"payment_method_id": "pm_card_mastercard", "customer_email": "user@example.com"})
		second := data(t, st, m)
		if second["is_default"] != false || second["customer"] != card["customer"] {
			t.Fatalf("second card %v (first %v)", second, card)
		}
		st, m = call(t, s, key, "GET", "/v1/payments/cards", nil)
		if st != 200 || len(m["data"].([]any)) != 2 {
			t.Fatalf("cards %v", m)
		}
		st, m = call(t, s, key, "POST", "/v1/payments", map[string]any{"amount": 29.99, "currency": "USD", "saved_card_id": card["id"]}, "Idempotency-Key", "subscription-may-2025")
		sub := data(t, st, m)
		if sub["amount"] != "29.99" || sub["status"] != "completed" {
			t.Fatalf("saved-card payment %v", sub)
		}
		pi := s.Do(t, testserver.Request{Method: "GET", Path: "/v1/payment_intents/" + sub["id"].(string), Key: key}).JSON(t)
		if pi["customer"] != card["customer"] || pi["payment_method"] != card["id"] {
			t.Fatalf("saved-card intent %v", pi)
		}
		st, m = call(t, s, key, "DELETE", "/v1/payments/cards/"+second["id"].(string), nil)
		if data(t, st, m)["deleted"] != true {
			t.Fatalf("delete card %v", m)
		}
		if st, _ := call(t, s, key, "DELETE", "/v1/payments/cards/"+second["id"].(string), nil); st != 404 {
			t.Fatalf("delete twice: %d", st)
		}
		if st, m := call(t, s, key, "POST", "/v1/payments", map[string]any{"amount": 1, "currency": "USD", "saved_card_id": second["id"]}); st != 404 || m["error"].(map[string]any)["param"] != "saved_card_id" {
			t.Fatalf("charge a deleted card: %d %v", st, m)
		}

		// Refund, partially, by payment_id.
		st, m = call(t, s, key, "POST", "/v1/refunds", map[string]any{"payment_id": p50["id"], "amount": 25.00})
		ref := data(t, st, m)
		if ref["payment_id"] != p50["id"] || ref["status"] != "completed" || ref["amount"] != "25.00" || !strings.HasPrefix(ref["provider_ref"].(string), "sbx_re_") || ref["created_at"] == nil {
			t.Fatalf("refund %v", ref)
		}
		// And the rest through the canonical face, on the same path.
		canon := s.Do(t, testserver.Request{Method: "POST", Path: "/v1/refunds", Key: key, JSON: map[string]any{"payment_intent": p50["id"]}})
		if canon.Status != 200 || canon.JSON(t)["object"] != "refund" || num(canon.JSON(t)["amount"]) != 2500 {
			t.Fatalf("canonical refund %d %s", canon.Status, canon.Body)
		}
		if st, m := call(t, s, key, "POST", "/v1/refunds", map[string]any{"payment_id": p50["id"], "amount": 1}); st != 400 || m["success"] != false {
			t.Fatalf("over-refund %d %v", st, m)
		}

		// List & filter.
		st, m = call(t, s, key, "GET", "/v1/payments?provider=sandbox&status=completed", nil)
		if st != 200 || len(m["data"].([]any)) != 3 {
			t.Fatalf("completed sandbox payments: %v", m)
		}
		st, m = call(t, s, key, "GET", "/v1/payments?min_amount=20&currency=USD", nil)
		if st != 200 || len(m["data"].([]any)) != 2 {
			t.Fatalf("min_amount 20: %v", m)
		}
		st, m = call(t, s, key, "GET", "/v1/payments?status=failed", nil)
		if st != 200 || len(m["data"].([]any)) != 1 {
			t.Fatalf("failed: %v", m)
		}
		st, m = call(t, s, key, "GET", "/v1/payments?since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), nil)
		if st != 200 || len(m["data"].([]any)) != 4 {
			t.Fatalf("since: %v", m)
		}
		st, m = call(t, s, key, "GET", "/v1/payments?limit=2", nil)
		if st != 200 || m["has_more"] != true || m["next_cursor"] == nil {
			t.Fatalf("page: %v", m)
		}
		st, m = call(t, s, key, "GET", "/v1/payments?limit=2&cursor="+m["next_cursor"].(string), nil)
		if st != 200 || len(m["data"].([]any)) != 2 || m["has_more"] != false {
			t.Fatalf("second page: %v", m)
		}
		for _, bad := range []string{"status=lost", "min_amount=5", "since=yesterday", "limit=0", "currency=XYZ"} {
			if st, m := call(t, s, key, "GET", "/v1/payments?"+bad, nil); st != 400 || m["success"] != false {
				t.Fatalf("%s: %d %v", bad, st, m)
			}
		}
		st, m = call(t, s, key, "GET", "/v1/payments/"+p["id"].(string), nil)
		if data(t, st, m)["id"] != p["id"] {
			t.Fatal("get payment")
		}
	})
}

func num(v any) int64 { f, _ := v.(float64); return int64(f) }

func TestAmountsAreExact(t *testing.T) {
	eachDB(t, func(t *testing.T, s *testserver.Server) {
		key := s.Merchant.TestSecretKey
		good := []struct {
			amount   any
			currency string
			text     string
			minor    int64
		}{
			{10.00, "USD", "10.00", 1000},
			{"0.10", "USD", "0.10", 10},
			{json.Number("19.99"), "USD", "19.99", 1999},
			{500, "JPY", "500", 500},
			{"1.250", "KWD", "1.250", 1250},
			{1.005, "KWD", "1.005", 1005},
			{"1500.50", "KES", "1500.50", 150050},
		}
		for _, g := range good {
			st, m := call(t, s, key, "POST", "/v1/payments", map[string]any{"amount": g.amount, "currency": g.currency, "payment_method": "pm_card_visa"})
			p := data(t, st, m)
			if p["amount"] != g.text || p["currency"] != g.currency {
				t.Fatalf("%v %s → %v %v", g.amount, g.currency, p["amount"], p["currency"])
			}
			pi := s.Do(t, testserver.Request{Method: "GET", Path: "/v1/payment_intents/" + p["id"].(string), Key: key}).JSON(t)
			if num(pi["amount"]) != g.minor || pi["currency"] != strings.ToLower(g.currency) {
				t.Fatalf("%v %s → intent %v %v", g.amount, g.currency, pi["amount"], pi["currency"])
			}
		}
		bad := []struct {
			amount   any
			currency string
		}{
			{"10.001", "USD"}, {10.001, "USD"}, {0, "USD"}, {"0.00", "USD"}, {-5, "USD"}, {"-5", "USD"}, {"1.5", "JPY"},
			{"1.2345", "KWD"}, {"1e3", "USD"}, {"abc", "USD"}, {"", "USD"}, {true, "USD"}, {"1000000.00", "USD"},
		}
		for _, b := range bad {
			st, m := call(t, s, key, "POST", "/v1/payments", map[string]any{"amount": b.amount, "currency": b.currency, "payment_method": "pm_card_visa"})
			if st != 400 || m["success"] != false || m["error"].(map[string]any)["param"] != "amount" {
				t.Fatalf("%v %s: %d %v", b.amount, b.currency, st, m)
			}
		}
		if st, m := call(t, s, key, "POST", "/v1/payments", map[string]any{"currency": "USD", "payment_method": "pm_card_visa"}); st != 400 || m["error"].(map[string]any)["param"] != "amount" {
			t.Fatalf("no amount: %d %v", st, m)
		}
	})
}

func TestOneCoreTwoFaces(t *testing.T) {
	eachDB(t, func(t *testing.T, s *testserver.Server) {
		key := s.Merchant.TestSecretKey
		// A canonical payment shows through the simple face, and the other way round.
		canon := s.Do(t, testserver.Request{Method: "POST", Path: "/v1/payment_intents", Key: key,
			JSON: map[string]any{"amount": 1234, "currency": "eur", "payment_method": "pm_card_visa", "confirm": true}}).JSON(t)
		st, m := call(t, s, key, "GET", "/v1/payments/"+canon["id"].(string), nil)
		if p := data(t, st, m); p["amount"] != "12.34" || p["currency"] != "EUR" || p["status"] != "completed" {
			t.Fatalf("canonical via simple %v", p)
		}
		st, m = call(t, s, key, "POST", "/v1/payments", map[string]any{"amount": "7.00", "currency": "USD", "payment_method": "pm_card_visa"})
		simple := data(t, st, m)
		pi := s.Do(t, testserver.Request{Method: "GET", Path: "/v1/payment_intents/" + simple["id"].(string), Key: key}).JSON(t)
		if pi["status"] != "succeeded" || num(pi["amount"]) != 700 {
			t.Fatalf("simple via canonical %v", pi)
		}
		// Refundable through both faces.
		if st, m := call(t, s, key, "POST", "/v1/refunds", map[string]any{"payment_id": canon["id"], "amount": "2.34"}); st != 200 || m["data"].(map[string]any)["amount"] != "2.34" {
			t.Fatalf("simple refund of a canonical payment: %d %v", st, m)
		}
		r := s.Do(t, testserver.Request{Method: "POST", Path: "/v1/refunds", Key: key, JSON: map[string]any{"payment_intent": simple["id"]}})
		if r.Status != 200 || num(r.JSON(t)["amount"]) != 700 {
			t.Fatalf("canonical refund of a simple payment: %d %s", r.Status, r.Body)
		}
		// Seed 001's manual provider configuration.
		st, m = call(t, s, key, "PUT", "/v1/merchant/providers", map[string]any{"provider": "manual", "manual": map[string]any{"instructions": "Mail a check."}})
		if cfg := data(t, st, m); cfg["provider"] != "manual" || cfg["enabled"] != true {
			t.Fatalf("manual config %v", cfg)
		}
		st, m = call(t, s, key, "GET", "/v1/merchant/providers", nil)
		if st != 200 || len(m["data"].([]any)) != 1 {
			t.Fatalf("providers %v", m)
		}
		if st, m := call(t, s, key, "PUT", "/v1/merchant/providers", map[string]any{"provider": "stripe"}); st != 400 || m["error"].(map[string]any)["param"] != "stripe" {
			t.Fatalf("stripe without keys: %d %v", st, m)
		}
		// Scopes: a read-only key cannot pay.
		out, err := s.CLI(t, "keys", "create", "--merchant", s.Merchant.ID, "--mode", "test", "--scopes", "payments:read", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var k struct{ Key string }
		json.Unmarshal([]byte(out), &k)
		if st, m := call(t, s, k.Key, "POST", "/v1/payments", map[string]any{"amount": 1, "currency": "USD", "payment_method": "pm_card_visa"}); st != 403 || m["success"] != false {
			t.Fatalf("read-only key paid: %d %v", st, m)
		}
		if st, _ := call(t, s, k.Key, "GET", "/v1/payments", nil); st != 200 {
			t.Fatalf("read-only key cannot list: %d", st)
		}
	})
}
