package reliability_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testserver"
)

// nested returns JSON nested depth objects deep.
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func manyMetadata(n int) string {
	var b strings.Builder
	b.WriteString(`{"amount":100,"currency":"usd","metadata":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	b.WriteString("}}")
	return b.String()
}

// TestHostileInput sends bad requests to the endpoints that take input:
// each must be answered 4xx (naming the parameter where there is one) or,
// for odd-but-valid input, 200 — never 5xx.
func TestHostileInput(t *testing.T) {
	type bad struct {
		name, method, path, ctype, body string
		status                          int    // 0: any 4xx
		param                           string // "": not checked
	}
	js := "application/json"
	fm := "application/x-www-form-urlencoded"
	cases := []bad{
		{"huge body", "POST", "/v1/payment_intents", fm, "amount=1&currency=usd&description=" + strings.Repeat("x", 2<<20), 413, ""},
		{"deep JSON", "POST", "/v1/payment_intents", js, nested(60), 0, ""},
		{"deep form", "POST", "/v1/payment_intents", fm, "metadata" + strings.Repeat("[a]", 40) + "=1", 0, ""},
		{"malformed JSON", "POST", "/v1/payment_intents", js, `{"amount":`, 0, ""},
		{"JSON array", "POST", "/v1/payment_intents", js, `[1,2]`, 0, ""},
		{"NaN", "POST", "/v1/payment_intents", js, `{"amount":NaN,"currency":"usd"}`, 0, ""},
		{"amount as object", "POST", "/v1/payment_intents", js, `{"amount":{"x":1},"currency":"usd"}`, 400, "amount"},
		{"amount as bool", "POST", "/v1/payment_intents", js, `{"amount":true,"currency":"usd"}`, 400, "amount"},
		{"amount as text", "POST", "/v1/payment_intents", fm, "amount=abc&currency=usd", 400, "amount"},
		{"amount overflow", "POST", "/v1/payment_intents", js, `{"amount":1e30,"currency":"usd"}`, 400, "amount"},
		{"amount 2^63", "POST", "/v1/payment_intents", fm, "amount=9223372036854775808&currency=usd", 400, "amount"},
		{"amount negative", "POST", "/v1/payment_intents", fm, "amount=-1&currency=usd", 400, "amount"},
		{"amount float", "POST", "/v1/payment_intents", js, `{"amount":10.5,"currency":"usd"}`, 400, "amount"},
		{"currency unicode", "POST", "/v1/payment_intents", fm, "amount=100&currency=%C3%BCsd", 400, "currency"},
		{"10,000 metadata keys", "POST", "/v1/payment_intents", js, manyMetadata(10000), 400, ""},
		{"51 metadata keys", "POST", "/v1/payment_intents", js, manyMetadata(51), 400, "metadata"},
		{"NUL in a string", "POST", "/v1/customers", js, "{\"name\":\"a\\u0000b\"}", 400, "name"},
		{"invalid UTF-8", "POST", "/v1/customers", fm, "name=%ff%fe", 400, "name"},
		{"SQL in an email", "POST", "/v1/customers", fm, "email=a'%20OR%201=1--@x.example", 400, "email"},
		{"param twice", "POST", "/v1/customers", fm, "email=a@x.example&email=b@x.example", 400, "email"},
		{"array and object", "POST", "/v1/payment_intents", fm, "amount=1&currency=usd&metadata=x&metadata[a]=b", 400, "metadata"},
		{"gap in an array", "POST", "/v1/checkout/sessions", fm, "currency=usd&success_url=https://x.example&line_items[1][name]=a&line_items[1][unit_amount]=1", 400, ""},
		{"index too large", "POST", "/v1/checkout/sessions", fm, "currency=usd&line_items[100000][name]=a", 400, ""},
		{"unknown parameter", "POST", "/v1/refunds", fm, "payment_intent=pi_x&drop_table=1", 400, "drop_table"},
		{"decimal 1e3", "POST", "/v1/payments", js, `{"amount":"1e3","currency":"USD","payment_method":"pm_card_visa"}`, 400, "amount"},
		{"decimal too precise", "POST", "/v1/payments", js, `{"amount":"1.001","currency":"USD","payment_method":"pm_card_visa"}`, 400, "amount"},
		{"decimal overflow", "POST", "/v1/payments", js, `{"amount":"123456789012345678901234567890","currency":"USD","payment_method":"pm_card_visa"}`, 400, "amount"},
		{"card number letters", "POST", "/v1/payment_methods", fm, "type=card&card[number]=4242abcd42424242&card[exp_month]=1&card[exp_year]=2030&card[cvc]=123", 0, "card[number]"},
		{"webhook URL javascript", "POST", "/v1/webhook_endpoints", fm, "url=javascript:alert(1)&enabled_events[]=*", 400, "url"},
		{"id with SQL", "GET", "/v1/payment_intents/pi_'%20OR%201=1--", "", "", 404, ""},
		{"id with NUL", "GET", "/v1/customers/cus_%00", "", "", 404, ""},
		{"huge id", "GET", "/v1/charges/" + strings.Repeat("c", 5000), "", "", 404, ""},
		{"bad created filter", "GET", "/v1/events?created[gt]=-1", "", "", 400, "created[gt]"},
		{"content type XML", "POST", "/v1/customers", "application/xml", "<x/>", 415, ""},
		{"no content type", "POST", "/v1/customers", "", "email=a@x.example", 415, ""},
		{"create-intent garbage", "POST", "/api/v1/payments/create-intent", js, `{"order_id":{"$ne":1}}`, 0, "order_id"},
		{"webhook garbage", "POST", "/v1/webhooks/stripe", js, `{"id":1,"type":[]}`, 0, ""},
		{"webhook unknown provider", "POST", "/v1/webhooks/paypal", js, `{}`, 0, ""},
	}
	// Odd but valid input is accepted and kept verbatim.
	valid := []bad{
		{"unicode description", "POST", "/v1/payment_intents", js, `{"amount":100,"currency":"usd","description":"Café ☕ 注文 🚀"}`, 200, ""},
		{"SQL and HTML in strings", "POST", "/v1/customers", js, `{"name":"Robert'); DROP TABLE customers;--","description":"<script>alert(1)</script>"}`, 200, ""},
		{"HTML metadata", "POST", "/v1/payment_intents", fm, "amount=100&currency=usd&metadata[%3Cb%3E]=%3Cscript%3E", 200, ""},
	}
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			s := watched(t, testserver.Options{Kind: kind})
			for _, tc := range append(cases, valid...) {
				t.Run(tc.name, func(t *testing.T) {
					h := http.Header{}
					if tc.ctype != "" {
						h.Set("Content-Type", tc.ctype)
					}
					req := testserver.Request{Method: tc.method, Path: tc.path, Key: s.Merchant.TestSecretKey, Header: h}
					if tc.body != "" {
						req.Raw = []byte(tc.body)
					}
					resp := s.Do(t, req)
					capture(string(resp.Body))
					count(func() {
						tally.requests++
						tally.badInputs++
						if resp.Status >= 500 {
							tally.bad5xx++
						}
					})
					if resp.Status >= 500 {
						t.Fatalf("5xx for bad input: %d %s", resp.Status, resp.Body)
					}
					if tc.status != 0 && resp.Status != tc.status || tc.status == 0 && resp.Status/100 != 4 {
						t.Fatalf("status %d, want %d: %.300s", resp.Status, tc.status, resp.Body)
					}
					if tc.param != "" {
						var m map[string]any
						json.Unmarshal(resp.Body, &m)
						e, _ := m["error"].(map[string]any)
						if e["param"] != tc.param {
							t.Fatalf("param %v, want %s: %.300s", e["param"], tc.param, resp.Body)
						}
					}
					if tc.status == 200 && strings.Contains(tc.name, "SQL") {
						var m map[string]any
						json.Unmarshal(resp.Body, &m)
						if m["name"] != "Robert'); DROP TABLE customers;--" {
							t.Fatalf("not kept verbatim: %s", resp.Body)
						}
					}
				})
			}
		})
	}
}
