package reliability_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/cli"
	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testserver"
)

// objects are one tenant's objects of every kind, by the path segment that
// names them.
type objects map[string]string

// makeObjects creates one object of every kind for a client's tenant.
func makeObjects(c *client) objects {
	pi := c.ok("POST", "/v1/payment_intents", form("amount", "1000", "currency", "usd", "payment_method", "pm_card_visa", "confirm", "true"))
	re := c.ok("POST", "/v1/refunds", form("payment_intent", pi["id"].(string), "amount", "100"))
	cus := c.ok("POST", "/v1/customers", form("email", "iso@example.com"))
	pm := c.ok("POST", "/v1/payment_methods", form("type", "card", "card[number]", "4242424242424242", "card[exp_month]", "12", "card[exp_year]", "2034", "card[cvc]", "123"))
	c.ok("POST", "/v1/payment_methods/"+pm["id"].(string)+"/attach", form("customer", cus["id"].(string)))
	cs := c.ok("POST", "/v1/checkout/sessions", form("amount", "500", "currency", "usd", "success_url", "https://shop.example/ok"))
	we := c.ok("POST", "/v1/webhook_endpoints", form("url", "https://203.0.113.9/hook", "enabled_events[]", "*"))
	c.ok("PUT", "/v1/provider_configs/manual", form("enabled", "true", "settings[instructions]", "Mail a check."))
	evs := c.ok("GET", "/v1/events?limit=1", nil)
	return objects{
		"payment_intents": pi["id"].(string), "charges": pi["latest_charge"].(string), "refunds": re["id"].(string),
		"events": evs["data"].([]any)[0].(map[string]any)["id"].(string), "customers": cus["id"].(string),
		"payment_methods": pm["id"].(string), "sessions": cs["id"].(string), "webhook_endpoints": we["id"].(string),
		"payments": pi["id"].(string), "cards": pm["id"].(string), "provider_configs": "manual",
	}
}

// fill puts ids into a route pattern: the segment before each {param}
// tells which kind of object it names.
func fill(pattern string, ids objects) (method, path string, ok bool) {
	method, path, _ = strings.Cut(pattern, " ")
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if !strings.HasPrefix(p, "{") {
			continue
		}
		id, found := ids[parts[i-1]]
		if !found {
			return "", "", false
		}
		parts[i] = id
	}
	return method, strings.Join(parts, "/"), true
}

// paramsFor gives the parameters a route needs to get past validation to
// the lookup, with the caller's own ids where it names other objects.
func paramsFor(pattern string, own objects) url.Values {
	switch {
	case strings.HasSuffix(pattern, "/attach"):
		return form("customer", own["customers"])
	}
	return url.Values{}
}

// TestIsolation walks every route: another merchant's ids and the other
// mode's ids are 404; no key is 401; restricted keys meet their scopes.
func TestIsolation(t *testing.T) {
	routes, err := cli.RouteTable()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			s := watched(t, testserver.Options{Kind: kind})
			owner := &client{t, s, s.Merchant.TestSecretKey}
			ids := makeObjects(owner)
			other := s.NewMerchant(t, "Intruder")
			intruders := map[string]*client{
				"another merchant": {t, s, other.TestSecretKey},
				"the other mode":   {t, s, s.Merchant.LiveSecretKey},
			}
			checked := 0
			for name, in := range intruders {
				// The intruder's own objects, for parameters that name them.
				own := objects{}
				own["customers"] = in.ok("POST", "/v1/customers", form("email", "x@example.com"))["id"].(string)
				for _, r := range routes {
					if r.Route.Public || !strings.Contains(r.Pattern, "{") {
						continue
					}
					if strings.Contains(r.Pattern, "/provider_configs/") && !strings.HasPrefix(r.Pattern, "GET") && !strings.HasPrefix(r.Pattern, "DELETE") {
						continue // an upsert of the caller's own configuration, not a lookup
					}
					method, path, ok := fill(r.Pattern, ids)
					if !ok {
						continue
					}
					resp := in.do(method, path, paramsFor(r.Pattern, own))
					if resp.Status != http.StatusNotFound {
						t.Errorf("%s: %s %s answered %d, want 404: %s", name, method, path, resp.Status, resp.Body)
						continue
					}
					var body map[string]any
					json.Unmarshal(resp.Body, &body)
					e, _ := body["error"].(map[string]any)
					if e["code"] != tender.CodeResourceMissing {
						t.Errorf("%s: %s %s: %s", name, method, path, resp.Body)
					}
					for _, id := range ids {
						if id != "manual" && strings.Contains(string(resp.Body), id) && !strings.Contains(e["message"].(string), id) {
							t.Errorf("%s: %s %s leaks %s", name, method, path, id)
						}
					}
					checked++
				}
			}
			// Every route without a key.
			noKey := &client{t, s, ""}
			for _, r := range routes {
				if r.Route.Public {
					continue
				}
				method, path, ok := fill(r.Pattern, ids)
				if !ok {
					method, path, _ = strings.Cut(r.Pattern, " ")
				}
				if resp := noKey.do(method, path, url.Values{}); resp.Status != http.StatusUnauthorized {
					t.Errorf("no key: %s %s answered %d", method, path, resp.Status)
				}
				checked++
			}
			// Restricted keys: without the route's scope 403; with it, past the check.
			scopes := []string{}
			for _, sc := range tender.AllScopes {
				scopes = append(scopes, string(sc))
			}
			keys := map[string]string{}
			for _, sc := range scopes {
				var rest []string
				for _, o := range scopes {
					if o != sc {
						rest = append(rest, o)
					}
				}
				keys["without "+sc] = restrictedKey(t, s, s.Merchant.ID, "test", strings.Join(rest, ","))
				keys["only "+sc] = restrictedKey(t, s, s.Merchant.ID, "test", sc)
			}
			for _, r := range routes {
				if r.Route.Public || r.Route.Scope == "" {
					continue
				}
				method, path, ok := fill(r.Pattern, ids)
				if !ok {
					method, path, _ = strings.Cut(r.Pattern, " ")
				}
				without := &client{t, s, keys["without "+string(r.Route.Scope)]}
				if resp := without.do(method, path, paramsFor(r.Pattern, ids)); resp.Status != http.StatusForbidden {
					t.Errorf("key without %s: %s %s answered %d", r.Route.Scope, method, path, resp.Status)
				}
				if !slices.Contains([]string{"DELETE"}, method) {
					with := &client{t, s, keys["only "+string(r.Route.Scope)]}
					if resp := with.do(method, path, paramsFor(r.Pattern, ids)); resp.Status == http.StatusForbidden || resp.Status == http.StatusUnauthorized {
						t.Errorf("key with only %s: %s %s answered %d: %s", r.Route.Scope, method, path, resp.Status, resp.Body)
					}
				}
				checked += 2
			}
			t.Logf("%s: %d route checks", kind, checked)
			if checked < 150 {
				t.Fatalf("only %d checks: the route table is not being walked", checked)
			}

		})
	}
}
