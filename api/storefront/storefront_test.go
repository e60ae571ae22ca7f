package storefront_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testserver"
)

func eachDB(t *testing.T, fn func(t *testing.T, s *testserver.Server)) {
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) { fn(t, testserver.Start(t, testserver.Options{Kind: kind})) })
	}
}

func do(t *testing.T, s *testserver.Server, key, method, path string, body any) (int, map[string]any) {
	t.Helper()
	resp := s.Do(t, testserver.Request{Method: method, Path: path, Key: key, JSON: body})
	var m map[string]any
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.Status, resp.Body)
	}
	return resp.Status, m
}

// ok asserts a 200: ok(t)(do(…)).
func ok(t *testing.T) func(int, map[string]any) map[string]any {
	return func(status int, m map[string]any) map[string]any {
		t.Helper()
		if status != 200 {
			t.Fatalf("status %d: %v", status, m)
		}
		return m
	}
}

func num(v any) int64 { f, _ := v.(float64); return int64(f) }

// TestSeed000Providers checks GET /api/v1/payments/providers against seed 000's JSON.
func TestSeed000Providers(t *testing.T) {
	eachDB(t, func(t *testing.T, s *testserver.Server) {
		_, m := do(t, s, "", "GET", "/api/v1/payments/providers", nil)
		byKey := map[string]map[string]any{}
		for _, p := range m["providers"].([]any) {
			pm := p.(map[string]any)
			byKey[pm["key"].(string)] = pm
		}
		var want map[string]any
		json.Unmarshal([]byte(`{
      "key": "stripe",
      "name": "Credit/Debit Card",
      "description": "Pay securely with your credit or debit card via Stripe",
      "capabilities": {
        "supports_redirect": false,
        "supports_webhook": true,
        "supports_refund": true,
        "requires_client_side": true,
        "supported_currencies": ["usd", "eur", "gbp", "cad", "aud"]
      },
      "required_credentials": [
        {"key": "publishable_key", "label": "Stripe Publishable Key", "required": true},
        {"key": "secret_key", "label": "Stripe Secret Key", "required": true, "encrypted": true}
      ]}`), &want)
		got := byKey["stripe"]
		creds := got["required_credentials"].([]any)
		// Seed 000 lists the two keys; Tender adds the optional webhook secret.
		got["required_credentials"] = creds[:2]
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stripe provider:\n got %v\nwant %v", got, want)
		}
		if len(creds) != 3 || creds[2].(map[string]any)["key"] != "webhook_secret" || creds[2].(map[string]any)["required"] != false {
			t.Fatalf("webhook secret credential %v", creds)
		}
		want = nil
		json.Unmarshal([]byte(`{
      "key": "manual",
      "name": "Check / Money Order",
      "description": "Pay by check or money order mailed to the merchant",
      "capabilities": {
        "supports_redirect": false,
        "supports_webhook": false,
        "supports_refund": false,
        "requires_client_side": false,
        "supported_currencies": ["usd"]
      }}`), &want)
		if !reflect.DeepEqual(byKey["manual"], want) {
			t.Fatalf("manual provider:\n got %v\nwant %v", byKey["manual"], want)
		}
		if byKey["sandbox"] == nil {
			t.Fatal("the sandbox is not listed")
		}
	})
}

func TestSeed000CheckoutFlows(t *testing.T) {
	eachDB(t, func(t *testing.T, s *testserver.Server) {
		sk, pk := s.Merchant.TestSecretKey, s.Merchant.TestPublishableKey
		newOrder := func() map[string]any {
			return ok(t)(do(t, s, sk, "POST", "/v1/checkout/sessions", map[string]any{
				"line_items":  []any{map[string]any{"name": "Mug", "quantity": 2, "unit_amount": 1500}, map[string]any{"name": "Tea", "quantity": 1, "unit_amount": 1000}},
				"currency":    "usd",
				"success_url": "https://shop.example/thanks",
				"cancel_url":  "https://shop.example/cart",
				"metadata":    map[string]any{"cart": "42"},
			}))
		}
		order := newOrder()
		if order["object"] != "checkout.session" || num(order["amount_total"]) != 4000 || order["status"] != "open" ||
			order["payment_status"] != "unpaid" || order["url"] != s.URL+"/checkout/"+order["id"].(string) || order["client_token"] == nil {
			t.Fatalf("session %v", order)
		}

		// Options: live mode without a key (no live provider configured yet), test mode with the publishable key.
		_, m := do(t, s, "", "GET", "/api/v1/payments/store/"+s.Merchant.ID+"/options", nil)
		if len(m["payment_options"].([]any)) != 0 {
			t.Fatalf("live options %v", m)
		}
		do(t, s, sk, "PUT", "/v1/provider_configs/manual", map[string]any{"enabled": true, "priority": 10, "settings": map[string]any{"instructions": "Make checks payable to Shop."}})
		_, m = do(t, s, pk, "GET", "/api/v1/payments/store/"+s.Merchant.ID+"/options", nil)
		opts := m["payment_options"].([]any)
		if len(opts) != 2 || opts[0].(map[string]any)["key"] != "manual" || num(opts[0].(map[string]any)["priority"]) != 10 || opts[1].(map[string]any)["key"] != "sandbox" {
			t.Fatalf("test options %v", m)
		}
		if st, _ := do(t, s, "", "GET", "/api/v1/payments/store/mer_nope/options", nil); st != 404 {
			t.Fatalf("unknown store: %d", st)
		}
		other := s.NewMerchant(t, "Other")
		if st, _ := do(t, s, other.TestPublishableKey, "GET", "/api/v1/payments/store/"+s.Merchant.ID+"/options", nil); st != 404 {
			t.Fatalf("another store's key: %d", st)
		}

		// Manual: instructions, order awaiting payment until the check arrives.
		manual := ok(t)(do(t, s, pk, "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order["id"], "provider": "manual"}))
		if manual["provider"] != "manual" || num(manual["amount"]) != 4000 || manual["currency"] != "usd" || manual["payment_instructions"] != "Make checks payable to Shop." {
			t.Fatalf("manual create-intent %v", manual)
		}
		sess := ok(t)(do(t, s, sk, "GET", "/v1/checkout/sessions/"+order["id"].(string), nil))
		if sess["status"] != "complete" || sess["payment_status"] != "awaiting_payment" || sess["url"] != nil {
			t.Fatalf("manual order %v", sess)
		}
		ok(t)(do(t, s, sk, "POST", "/v1/payment_intents/"+manual["payment_intent_id"].(string)+"/capture", nil))
		sess = ok(t)(do(t, s, sk, "GET", "/v1/checkout/sessions/"+order["id"].(string), nil))
		if sess["payment_status"] != "paid" {
			t.Fatalf("after the check arrived %v", sess)
		}

		// Sandbox, chosen after another provider: the first intent is canceled.
		order2 := newOrder()
		first := ok(t)(do(t, s, pk, "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order2["id"], "provider": "sandbox"}))
		again := ok(t)(do(t, s, pk, "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order2["id"], "provider": "sandbox"}))
		if first["payment_intent_id"] != again["payment_intent_id"] || first["client_secret"] == nil || first["publishable_key"] != pk {
			t.Fatalf("sandbox create-intent twice: %v / %v", first, again)
		}
		if sess := ok(t)(do(t, s, sk, "GET", "/v1/checkout/sessions/"+order2["id"].(string), nil)); sess["status"] != "open" {
			t.Fatalf("order 2 before choosing manual: %v", sess)
		}
		// Without a provider: the store's first option (manual) replaces it.
		def := ok(t)(do(t, s, pk, "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order2["id"]}))
		if def["provider"] != "manual" {
			t.Fatalf("default provider %v", def)
		}
		old := ok(t)(do(t, s, sk, "GET", "/v1/payment_intents/"+first["payment_intent_id"].(string), nil))
		if old["status"] != "canceled" {
			t.Fatalf("the replaced intent is %v", old["status"])
		}
		if st, _ := do(t, s, pk, "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order2["id"], "provider": "sandbox"}); st != 400 {
			t.Fatalf("changing provider on a placed order: %d", st)
		}

		// Sandbox paid in the browser through Tender's API (publishable key + client secret).
		order3 := newOrder()
		sb := ok(t)(do(t, s, "", "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order3["id"], "provider": "sandbox", "client_token": order3["client_token"]}))
		if sb["publishable_key"] != nil {
			t.Fatalf("publishable key without one sent: %v", sb)
		}
		paid := ok(t)(do(t, s, pk, "POST", "/v1/payment_intents/"+sb["payment_intent_id"].(string)+"/confirm",
			map[string]any{"payment_method": "pm_card_visa", "client_secret": sb["client_secret"]}))
		if paid["status"] != "succeeded" {
			t.Fatalf("browser confirm %v", paid)
		}
		sess = ok(t)(do(t, s, sk, "GET", "/v1/checkout/sessions/"+order3["id"].(string), nil))
		if sess["status"] != "complete" || sess["payment_status"] != "paid" || sess["payment_intent"] != sb["payment_intent_id"] {
			t.Fatalf("paid order %v", sess)
		}
		if st, _ := do(t, s, pk, "POST", "/v1/payment_intents/"+sb["payment_intent_id"].(string)+"/confirm", map[string]any{"payment_method": "pm_card_visa", "client_secret": "wrong"}); st != 404 {
			t.Fatalf("confirm with a wrong client secret: %d", st)
		}
		if st, _ := do(t, s, "", "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order3["id"], "client_token": "cst_wrong"}); st != 404 {
			t.Fatalf("a wrong client token: %d", st)
		}
		if st, _ := do(t, s, "", "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order3["id"]}); st != 401 {
			t.Fatalf("no key, no token: %d", st)
		}
		if st, _ := do(t, s, other.TestPublishableKey, "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order3["id"]}); st != 404 {
			t.Fatalf("another merchant's key: %d", st)
		}

		// Expiry cancels the order's intent.
		order4 := newOrder()
		o4 := ok(t)(do(t, s, pk, "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order4["id"], "provider": "sandbox"}))
		exp := ok(t)(do(t, s, sk, "POST", "/v1/checkout/sessions/"+order4["id"].(string)+"/expire", nil))
		if exp["status"] != "expired" {
			t.Fatalf("expired %v", exp)
		}
		if pi := ok(t)(do(t, s, sk, "GET", "/v1/payment_intents/"+o4["payment_intent_id"].(string), nil)); pi["status"] != "canceled" {
			t.Fatalf("expired order's intent %v", pi["status"])
		}
		if st, _ := do(t, s, pk, "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order4["id"]}); st != 400 {
			t.Fatalf("create-intent on an expired order: %d", st)
		}

		// Events.
		_, evs := do(t, s, sk, "GET", "/v1/events?types[]=checkout.session.completed&types[]=checkout.session.expired&types[]=checkout.session.async_payment_succeeded&limit=100", nil)
		var types []string
		for _, e := range evs["data"].([]any) {
			types = append(types, e.(map[string]any)["type"].(string))
		}
		slices.Sort(types)
		want := []string{"checkout.session.async_payment_succeeded", "checkout.session.completed", "checkout.session.completed", "checkout.session.completed", "checkout.session.expired"}
		if !slices.Equal(types, want) {
			t.Fatalf("checkout events %v, want %v", types, want)
		}
		list := ok(t)(do(t, s, sk, "GET", "/v1/checkout/sessions?limit=100", nil))
		if len(list["data"].([]any)) != 4 {
			t.Fatalf("sessions %v", list)
		}
		// Validation.
		for _, bad := range []map[string]any{
			{"currency": "usd", "success_url": "https://x.example"},
			{"amount": 100, "currency": "usd"},
			{"amount": 100, "line_items": []any{map[string]any{"name": "a", "unit_amount": 1}}, "currency": "usd", "success_url": "https://x.example"},
			{"line_items": []any{map[string]any{"name": "a", "quantity": 0, "unit_amount": 1}}, "currency": "usd", "success_url": "https://x.example"},
			{"amount": 100, "currency": "usd", "success_url": "ftp://x"},
			{"amount": 100, "currency": "usd", "success_url": "https://x.example", "expires_at": 1},
		} {
			if st, m := do(t, s, sk, "POST", "/v1/checkout/sessions", bad); st != 400 {
				t.Fatalf("%v: %d %v", bad, st, m)
			}
		}
	})
}
