package api_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tenderhq/tender/internal/contract"
	"github.com/tenderhq/tender/internal/testserver"
)

// conforms asserts a 200 answer whose body conforms to Stripe's schema of
// kind, and returns the body decoded. The body is validated as sent, not
// as decoded, so that what is checked is what a client reads.
func (c *client) conforms(kind string, resp *testserver.Response) map[string]any {
	c.t.Helper()
	obj := c.ok(resp)
	contract.Validate(c.t, kind, resp.Body)
	return obj
}

// conformingList is conforms for a list of kind; it insists the list is
// not empty, since an empty list proves nothing about its items.
func (c *client) conformingList(kind string, resp *testserver.Response) []any {
	c.t.Helper()
	data, _ := c.ok(resp)["data"].([]any)
	contract.ValidateList(c.t, kind, resp.Body)
	if len(data) == 0 {
		c.t.Fatalf("empty list of %s: nothing to hold to the contract", kind)
	}
	return data
}

// conformingError asserts an error answer with status and holds its body to
// Stripe's "error" schema: the {"error": {...}} envelope, whose inner
// object is Stripe's api_errors (with a card error's payment_intent).
func conformingError(t *testing.T, resp *testserver.Response, status int) map[string]any {
	t.Helper()
	if resp.Status != status {
		t.Fatalf("status %d, want %d: %s", resp.Status, status, resp.Body)
	}
	contract.Validate(t, "error", resp.Body)
	return resp.Error(t)
}

// routeMissing tells whether the server does not serve a route yet, so a
// contract for a feature still being built skips instead of failing.
func routeMissing(t *testing.T, resp *testserver.Response) bool {
	t.Helper()
	if resp.Status != http.StatusNotFound {
		return false
	}
	msg, _ := resp.Error(t)["message"].(string)
	return strings.Contains(msg, "Unrecognized request URL")
}

// asString is v if it is a string, else "": a missing id makes a request
// that fails visibly rather than a panic that hides the other subtests.
func asString(v any) string { s, _ := v.(string); return s }

// TestContract drives Tender through its flows on a real server and holds
// every answer to Stripe's OpenAPI schema of that object: the field names,
// types, nullability, enums and required fields that Stripe's SDKs and
// existing integrations rely on. Fields Tender adds are allowed only when
// tender.Extensions lists them. Subtests share one server per database, in
// order: the events and lists at the end cover every object made before.
func TestContract(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		key := s.Merchant.TestSecretKey
		// Objects made by one subtest and read by later ones.
		var succeeded, declined, captured, processing map[string]any

		t.Run("payment_intent", func(t *testing.T) {
			c := newClient(t, s, key)
			pi := c.conforms("payment_intent", c.post("/v1/payment_intents", form("amount", "1000", "currency", "usd",
				"description", "Order 7", "metadata[order]", "7", "receipt_email", "jane@example.com")))
			if pi["status"] != "requires_payment_method" {
				t.Fatalf("created intent %v", pi)
			}
			c.conforms("payment_intent", c.post("/v1/payment_intents/"+asString(pi["id"]), form("description", "Order 7, updated")))
			c.conforms("payment_intent", c.get("/v1/payment_intents/"+asString(pi["id"])))

			if pi := c.conforms("payment_intent", c.post("/v1/payment_intents", form("amount", "1000", "currency", "eur",
				"payment_method", "pm_card_visa"))); pi["status"] != "requires_confirmation" {
				t.Fatalf("intent with a payment method %v", pi)
			}

			pi = c.conforms("payment_intent", c.payment(2000, "pm_card_threeDSecure2Required", "return_url", "https://shop.example/return"))
			if pi["status"] != "requires_action" || pi["next_action"] == nil {
				t.Fatalf("3-D Secure intent %v", pi)
			}

			pi = c.conforms("payment_intent", c.payment(1000, "pm_card_visa", "capture_method", "manual"))
			if pi["status"] != "requires_capture" {
				t.Fatalf("authorized intent %v", pi)
			}
			captured = c.conforms("payment_intent", c.post("/v1/payment_intents/"+asString(pi["id"])+"/capture", form("amount_to_capture", "600")))
			if captured["status"] != "succeeded" {
				t.Fatalf("captured intent %v", captured)
			}

			succeeded = c.conforms("payment_intent", c.payment(1500, "pm_card_visa"))
			if succeeded["status"] != "succeeded" || asString(succeeded["latest_charge"]) == "" {
				t.Fatalf("paid intent %v", succeeded)
			}

			pi = c.ok(c.post("/v1/payment_intents", form("amount", "500", "currency", "usd")))
			pi = c.conforms("payment_intent", c.post("/v1/payment_intents/"+asString(pi["id"])+"/cancel", form("cancellation_reason", "requested_by_customer")))
			if pi["status"] != "canceled" {
				t.Fatalf("canceled intent %v", pi)
			}

			processing = c.conforms("payment_intent", c.payment(700, "pm_card_async"))
			if processing["status"] != "processing" {
				t.Fatalf("async intent %v", processing)
			}

			// A decline answers 402 with the intent inside the error object.
			e := conformingError(t, c.payment(1000, "pm_card_chargeDeclined"), http.StatusPaymentRequired)
			declined, _ = e["payment_intent"].(map[string]any)
			if declined == nil || declined["status"] != "requires_payment_method" || declined["last_payment_error"] == nil {
				t.Fatalf("declined intent in the error %v", e)
			}
			contract.Validate(t, "payment_intent", declined)
			c.conforms("payment_intent", c.get("/v1/payment_intents/"+asString(declined["id"])))

			// Expanded latest_charge, on create and on retrieve: the charge
			// inside is held to Stripe's charge schema.
			for _, resp := range []*testserver.Response{
				c.payment(800, "pm_card_visa", "expand[]", "latest_charge"),
				c.get("/v1/payment_intents/" + asString(succeeded["id"]) + "?expand[]=latest_charge"),
				c.get("/v1/payment_intents/" + asString(declined["id"]) + "?expand[]=latest_charge"),
			} {
				pi := c.conforms("payment_intent", resp)
				if ch, ok := pi["latest_charge"].(map[string]any); !ok || ch["object"] != "charge" {
					t.Fatalf("latest_charge not expanded: %v", pi["latest_charge"])
				}
			}
		})

		t.Run("payment_intent with manual instructions", func(t *testing.T) {
			// Its own merchant: enabling manual makes it the default for usd.
			c := newClient(t, s, s.NewMerchant(t, "Manual").TestSecretKey)
			c.ok(s.Do(t, testserver.Request{Method: "PUT", Path: "/v1/provider_configs/manual", Key: c.key,
				JSON: map[string]any{"enabled": true, "settings": map[string]string{"instructions": "Mail a check."}}}))
			pi := c.conforms("payment_intent", c.post("/v1/payment_intents", form("amount", "4000", "currency", "usd", "provider", "manual", "confirm", "true")))
			if pi["status"] != "requires_capture" || pi["next_action"] == nil {
				t.Fatalf("manual intent %v", pi)
			}
		})

		t.Run("charge", func(t *testing.T) {
			if succeeded == nil || declined == nil || captured == nil || processing == nil {
				t.Fatal("the payment_intent subtest did not get far enough")
			}
			c := newClient(t, s, key)
			for _, tc := range []struct {
				name   string
				id     any
				status string
			}{
				{"succeeded", succeeded["latest_charge"], "succeeded"},
				{"partially captured", captured["latest_charge"], "succeeded"},
				{"failed", declined["latest_charge"], "failed"},
				// Pending until the sandbox settles it, which may have happened.
				{"async", processing["latest_charge"], ""},
			} {
				ch := c.conforms("charge", c.get("/v1/charges/"+asString(tc.id)))
				if tc.status != "" && ch["status"] != tc.status {
					t.Fatalf("%s charge %v", tc.name, ch)
				}
			}
			ch := c.conforms("charge", c.get("/v1/charges/"+asString(succeeded["latest_charge"])+"?expand[]=payment_intent"))
			if pi, ok := ch["payment_intent"].(map[string]any); !ok || pi["object"] != "payment_intent" {
				t.Fatalf("payment_intent not expanded: %v", ch["payment_intent"])
			}
		})

		t.Run("refund", func(t *testing.T) {
			if succeeded == nil {
				t.Fatal("the payment_intent subtest did not get far enough")
			}
			c := newClient(t, s, key)
			r := c.conforms("refund", c.post("/v1/refunds", form("payment_intent", asString(succeeded["id"]), "amount", "500",
				"reason", "requested_by_customer", "metadata[ticket]", "42")))
			if r["status"] != "succeeded" {
				t.Fatalf("refund %v", r)
			}
			c.conforms("refund", c.get("/v1/refunds/"+asString(r["id"])))
			c.conforms("refund", c.post("/v1/refunds", form("charge", asString(succeeded["latest_charge"]))))
			r = c.conforms("refund", c.get("/v1/refunds/"+asString(r["id"])+"?expand[]=charge&expand[]=payment_intent"))
			if ch, ok := r["charge"].(map[string]any); !ok || ch["object"] != "charge" {
				t.Fatalf("charge not expanded: %v", r["charge"])
			}
			// The charge refunded in full.
			if ch := c.conforms("charge", c.get("/v1/charges/"+asString(succeeded["latest_charge"]))); ch["refunded"] != true {
				t.Fatalf("refunded charge %v", ch)
			}
		})

		t.Run("error", func(t *testing.T) {
			c := newClient(t, s, key)
			canceled := c.ok(c.post("/v1/payment_intents", form("amount", "100", "currency", "usd")))
			c.ok(c.post("/v1/payment_intents/"+asString(canceled["id"])+"/cancel", nil))
			for _, tc := range []struct {
				name    string
				req     testserver.Request
				status  int
				errType string
			}{
				{"400 missing parameter", testserver.Request{Method: "POST", Path: "/v1/payment_intents", Key: key, Form: form("amount", "100")}, 400, "invalid_request_error"},
				{"400 unknown parameter", testserver.Request{Method: "POST", Path: "/v1/payment_intents", Key: key, Form: form("amount", "100", "currency", "usd", "colour", "red")}, 400, "invalid_request_error"},
				{"400 unexpected state", testserver.Request{Method: "POST", Path: "/v1/payment_intents/" + asString(canceled["id"]) + "/capture", Key: key, Form: form()}, 400, "invalid_request_error"},
				{"402 card declined", testserver.Request{Method: "POST", Path: "/v1/payment_intents", Key: key, Form: form("amount", "100", "currency", "usd", "payment_method", "pm_card_chargeDeclined", "confirm", "true")}, 402, "card_error"},
				{"404 no such object", testserver.Request{Method: "GET", Path: "/v1/payment_intents/pi_nope", Key: key}, 404, "invalid_request_error"},
				{"404 unknown route", testserver.Request{Method: "GET", Path: "/v1/nothing", Key: key}, 404, "invalid_request_error"},
				{"405 wrong method", testserver.Request{Method: "DELETE", Path: "/v1/charges", Key: key}, 405, "invalid_request_error"},
				// Stripe's api_errors allows four types; a bad key and a key
				// without the permission are errors every client meets.
				{"401 unknown key", testserver.Request{Method: "GET", Path: "/v1/charges", Key: "sk_test_" + strings.Repeat("A", 40)}, 401, ""},
				{"403 publishable key", testserver.Request{Method: "GET", Path: "/v1/charges", Key: s.Merchant.TestPublishableKey}, 403, ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e := conformingError(t, s.Do(t, tc.req), tc.status)
					if tc.errType != "" && e["type"] != tc.errType {
						t.Fatalf("error %v", e)
					}
				})
			}
		})

		var customer map[string]any
		attached := false
		t.Run("customer", func(t *testing.T) {
			c := newClient(t, s, key)
			resp := c.post("/v1/customers", form("email", "jane@example.com", "name", "Jane Doe", "phone", "+15550100",
				"description", "A regular", "metadata[tier]", "gold"))
			if routeMissing(t, resp) {
				t.Skip("POST /v1/customers is not served yet (404 Unrecognized request URL)")
			}
			customer = c.conforms("customer", resp)
			c.conforms("customer", c.get("/v1/customers/"+asString(customer["id"])))
			c.conforms("customer", c.post("/v1/customers/"+asString(customer["id"]), form("name", "Jane Q. Doe")))
			gone := c.conforms("customer", c.post("/v1/customers", form("email", "gone@example.com")))
			c.conformingList("customer", c.get("/v1/customers"))
			// Deleting answers Stripe's deleted_customer.
			c.conforms("deleted_customer", s.Do(t, testserver.Request{Method: "DELETE", Path: "/v1/customers/" + asString(gone["id"]), Key: key}))
		})

		t.Run("payment_method", func(t *testing.T) {
			c := newClient(t, s, key)
			resp := c.post("/v1/payment_methods", form("type", "card", "card[number]", "4242424242424242",
				"card[exp_month]", "12", "card[exp_year]", "2030", "card[cvc]", "123", "billing_details[name]", "Jane Doe"))
			if routeMissing(t, resp) {
				t.Skip("POST /v1/payment_methods is not served yet (404 Unrecognized request URL)")
			}
			pm := c.conforms("payment_method", resp)
			c.conforms("payment_method", c.get("/v1/payment_methods/"+asString(pm["id"])))
			if customer == nil {
				t.Skip("no customer to attach the payment method to")
			}
			cus := asString(customer["id"])
			pm = c.conforms("payment_method", c.post("/v1/payment_methods/"+asString(pm["id"])+"/attach", form("customer", cus)))
			if pm["customer"] != cus {
				t.Fatalf("attached payment method %v", pm)
			}
			attached = true
			c.conformingList("payment_method", c.get("/v1/customers/"+cus+"/payment_methods"))
			c.conformingList("payment_method", c.get("/v1/payment_methods?customer="+cus))
			// A payment with the saved card names the customer.
			pi := c.conforms("payment_intent", c.payment(1200, asString(pm["id"]), "customer", cus))
			if pi["customer"] != cus || pi["status"] != "succeeded" {
				t.Fatalf("payment with a saved card %v", pi)
			}
			c.conforms("charge", c.get("/v1/charges/"+asString(pi["latest_charge"])))
			c.conforms("payment_method", c.post("/v1/payment_methods/"+asString(pm["id"])+"/detach", nil))
		})

		t.Run("event", func(t *testing.T) {
			c := newClient(t, s, key)
			seen := map[string]bool{}
			after := ""
			for {
				path := "/v1/events?limit=100"
				if after != "" {
					path += "&starting_after=" + after
				}
				resp := c.get(path)
				page := c.ok(resp)
				for _, e := range c.conformingList("event", resp) {
					ev := e.(map[string]any)
					typ := asString(ev["type"])
					// The list held the envelope to Stripe's event schema,
					// in which data.object may be any object; it is the
					// object of its kind as the API returned it at the time.
					data, _ := ev["data"].(map[string]any)
					obj, _ := data["object"].(map[string]any)
					kind := asString(obj["object"])
					if kind == "" || !strings.HasPrefix(typ, kind+".") {
						t.Fatalf("event %s holds a %q object", typ, kind)
					}
					contract.Validate(t, kind, obj)
					if !seen[typ] {
						seen[typ] = true
						c.conforms("event", c.get("/v1/events/"+asString(ev["id"])))
					}
					after = asString(ev["id"])
				}
				if page["has_more"] != true {
					break
				}
			}
			want := []string{"payment_intent.created", "payment_intent.requires_action", "payment_intent.amount_capturable_updated",
				"payment_intent.processing", "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
				"charge.succeeded", "charge.failed", "charge.captured", "charge.refunded", "charge.pending", "refund.created"}
			if customer != nil {
				want = append(want, "customer.created", "customer.updated", "customer.deleted")
			}
			if attached {
				want = append(want, "payment_method.attached", "payment_method.detached")
			}
			for _, typ := range want {
				if !seen[typ] {
					t.Errorf("no %s event was checked; saw %v", typ, slices.Sorted(maps.Keys(seen)))
				}
			}
		})

		t.Run("list", func(t *testing.T) {
			for _, l := range []struct{ kind, path string }{
				{"payment_intent", "/v1/payment_intents?limit=100"},
				{"payment_intent", "/v1/payment_intents?limit=100&expand[]=data.latest_charge"},
				{"charge", "/v1/charges?limit=100"},
				{"charge", "/v1/charges?limit=3&expand[]=data.payment_intent"},
				{"refund", "/v1/refunds?limit=100"},
				{"refund", "/v1/refunds?payment_intent=" + asString(succeeded["id"])},
				{"event", "/v1/events?limit=100"},
				{"event", "/v1/events?type=charge.failed"},
			} {
				t.Run(l.path, func(t *testing.T) {
					c := newClient(t, s, key)
					c.conformingList(l.kind, c.get(l.path))
				})
			}
		})
	})
}
