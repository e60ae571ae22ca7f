package api_test

import (
	"database/sql"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/tenderhq/tender/internal/testserver"
)

func cardForm(number string, extra ...string) url.Values {
	return form(append([]string{"type", "card", "card[number]", number, "card[exp_month]", "12", "card[exp_year]", "2034", "card[cvc]", "7351"}, extra...)...)
}

func TestCustomers(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		cus := c.ok(c.post("/v1/customers", form("email", "jane@example.com", "name", "Jane Doe", "metadata[tier]", "gold", "phone", "+15550100")))
		id := cus["id"].(string)
		if !strings.HasPrefix(id, "cus_") || cus["object"] != "customer" || cus["email"] != "jane@example.com" || cus["metadata"].(map[string]any)["tier"] != "gold" {
			t.Fatalf("customer %v", cus)
		}
		c.ok(c.post("/v1/customers", form("email", "other@example.com")))
		got := c.ok(c.post("/v1/customers/"+id, form("name", "Jane Q. Doe", "metadata[tier]", "", "metadata[since]", "2026")))
		md := got["metadata"].(map[string]any)
		if got["name"] != "Jane Q. Doe" || md["tier"] != nil || md["since"] != "2026" {
			t.Fatalf("updated %v", got)
		}
		byEmail := c.ok(c.get("/v1/customers?email=jane@example.com"))["data"].([]any)
		if len(byEmail) != 1 || byEmail[0].(map[string]any)["id"] != id {
			t.Fatalf("email filter %v", byEmail)
		}
		if n := len(c.ok(c.get("/v1/customers"))["data"].([]any)); n != 2 {
			t.Fatalf("list %d", n)
		}
		if r := c.post("/v1/customers", form("email", "not an email")); r.Status != 400 || r.Error(t)["param"] != "email" {
			t.Fatalf("bad email %d %s", r.Status, r.Body)
		}
		del := c.ok(s.Do(t, testserver.Request{Method: "DELETE", Path: "/v1/customers/" + id, Key: c.key}))
		if del["deleted"] != true || del["id"] != id {
			t.Fatalf("delete %v", del)
		}
		if r := c.post("/v1/customers/"+id, form("name", "x")); r.Status != 404 {
			t.Fatalf("update deleted: %d", r.Status)
		}
		if n := len(c.ok(c.get("/v1/customers"))["data"].([]any)); n != 1 {
			t.Fatalf("deleted customer still listed (%d)", n)
		}
		types, _ := c.events()
		if !slices.Equal(types, []string{"customer.created", "customer.created", "customer.updated", "customer.deleted"}) {
			t.Fatalf("events %v", types)
		}
		_, evs := c.events()
		prev := evs[2]["data"].(map[string]any)["previous_attributes"].(map[string]any)
		if prev["name"] != "Jane Doe" {
			t.Fatalf("previous_attributes %v", prev)
		}
		// Another merchant's customer does not exist for this one.
		other := newClient(t, s, s.NewMerchant(t, "Other").TestSecretKey)
		o := other.ok(other.post("/v1/customers", form("email", "x@example.com")))
		for _, path := range []string{"/v1/customers/" + o["id"].(string), "/v1/customers/" + o["id"].(string) + "/payment_methods"} {
			if r := c.get(path); r.Status != 404 {
				t.Fatalf("GET %s of another merchant: %d", path, r.Status)
			}
		}
		if r := c.post("/v1/payment_intents", form("amount", "100", "currency", "usd", "customer", o["id"].(string))); r.Status != 404 {
			t.Fatalf("intent with another merchant's customer: %d %s", r.Status, r.Body)
		}
	})
}

func TestPaymentMethodsFromTestCards(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		tests := []struct {
			number      string
			brand       string
			status      int
			code        string
			declineCode string
			piStatus    string
		}{
			{"4242424242424242", "visa", 200, "", "", "succeeded"},
			{"4242 4242 4242 4242", "visa", 200, "", "", "succeeded"},
			{"5555555555554444", "mastercard", 200, "", "", "succeeded"},
			{"4000000000000002", "visa", 402, "card_declined", "generic_decline", ""},
			{"4000000000009995", "visa", 402, "card_declined", "insufficient_funds", ""},
			{"4000000000009987", "visa", 402, "card_declined", "lost_card", ""},
			{"4000000000009979", "visa", 402, "card_declined", "stolen_card", ""},
			{"4000000000000069", "visa", 402, "expired_card", "expired_card", ""},
			{"4000000000000127", "visa", 402, "incorrect_cvc", "incorrect_cvc", ""},
			{"4000000000000119", "visa", 402, "processing_error", "processing_error", ""},
			{"4000000000003220", "visa", 200, "", "", "requires_action"},
			{"4000002500003155", "visa", 200, "", "", "requires_action"},
			{"4000000000007726", "visa", 200, "", "", "processing"},
		}
		for _, tc := range tests {
			t.Run(tc.number, func(t *testing.T) {
				c := newClient(t, s, c.key)
				pm := c.ok(c.post("/v1/payment_methods", cardForm(tc.number, "billing_details[name]", "Jane", "billing_details[address][country]", "US")))
				card := pm["card"].(map[string]any)
				last4 := strings.ReplaceAll(tc.number, " ", "")[12:]
				if card["brand"] != tc.brand || card["last4"] != last4 || num(card["exp_month"]) != 12 || card["fingerprint"] == nil {
					t.Fatalf("card %v", card)
				}
				if strings.Contains(string(c.get("/v1/payment_methods/"+pm["id"].(string)).Body), strings.ReplaceAll(tc.number, " ", "")) {
					t.Fatal("the card number is in the payment method")
				}
				r := c.payment(900, pm["id"].(string), "return_url", "https://shop.example/r")
				if r.Status != tc.status {
					t.Fatalf("payment: %d %s", r.Status, r.Body)
				}
				if tc.status == 402 {
					e := r.Error(t)
					if e["code"] != tc.code || e["decline_code"] != tc.declineCode {
						t.Fatalf("decline %v", e)
					}
					return
				}
				pi := r.JSON(t)
				if pi["status"] != tc.piStatus || pi["payment_method"] != pm["id"] {
					t.Fatalf("intent %v", pi)
				}
			})
		}
		t.Run("refused numbers", func(t *testing.T) {
			for _, bad := range []struct {
				f           url.Values
				code, param string
			}{
				{cardForm("4242424242424241"), "incorrect_number", "card[number]"},
				{form("type", "card", "card[number]", "4242424242424242", "card[exp_month]", "13", "card[exp_year]", "2034", "card[cvc]", "123"), "invalid_expiry_month", "card[exp_month]"},
				{form("type", "card", "card[number]", "4242424242424242", "card[exp_month]", "1", "card[exp_year]", "2020", "card[cvc]", "123"), "invalid_expiry_year", "card[exp_year]"},
				{form("type", "card", "card[number]", "4242424242424242", "card[exp_month]", "1", "card[exp_year]", "2034", "card[cvc]", "1"), "invalid_cvc", "card[cvc]"},
			} {
				r := c.post("/v1/payment_methods", bad.f)
				if r.Status/100 != 4 || r.Error(t)["code"] != bad.code || r.Error(t)["param"] != bad.param {
					t.Fatalf("%v: %d %s", bad.f, r.Status, r.Body)
				}
			}
			if r := c.post("/v1/payment_methods", form("type", "sepa_debit")); r.Status != 400 || r.Error(t)["param"] != "type" {
				t.Fatalf("type: %d %s", r.Status, r.Body)
			}
		})
		t.Run("fingerprints", func(t *testing.T) {
			a := c.ok(c.post("/v1/payment_methods", cardForm("4242424242424242")))["card"].(map[string]any)["fingerprint"]
			b := c.ok(c.post("/v1/payment_methods", cardForm("4242 4242 4242 4242")))["card"].(map[string]any)["fingerprint"]
			d := c.ok(c.post("/v1/payment_methods", cardForm("5555555555554444")))["card"].(map[string]any)["fingerprint"]
			other := newClient(t, s, s.NewMerchant(t, "Fingerprints").TestSecretKey)
			o := other.ok(other.post("/v1/payment_methods", cardForm("4242424242424242")))["card"].(map[string]any)["fingerprint"]
			if a != b || a == d || a == o {
				t.Fatalf("fingerprints: same card %v %v, other card %v, other merchant %v", a, b, d, o)
			}
		})
		t.Run("live mode refuses raw cards", func(t *testing.T) {
			live := newClient(t, s, s.Merchant.LiveSecretKey)
			r := live.post("/v1/payment_methods", cardForm("4242424242424242", "provider", "sandbox"))
			if r.Status != 400 {
				t.Fatalf("live raw card: %d %s", r.Status, r.Body)
			}
			r = live.post("/v1/payment_methods", cardForm("4242424242424242"))
			if r.Status != 400 {
				t.Fatalf("live raw card without provider: %d %s", r.Status, r.Body)
			}
		})
		t.Run("publishable key may create", func(t *testing.T) {
			pk := newClient(t, s, s.Merchant.TestPublishableKey)
			pm := pk.ok(pk.post("/v1/payment_methods", cardForm("4242424242424242")))
			if r := pk.get("/v1/payment_methods/" + pm["id"].(string)); r.Status != 403 {
				t.Fatalf("publishable key reads a payment method: %d", r.Status)
			}
		})
	})
}

func TestSavedCardsAndOffSession(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		cus := c.ok(c.post("/v1/customers", form("email", "sub@example.com")))["id"].(string)
		visa := c.ok(c.post("/v1/payment_methods", cardForm("4242424242424242")))["id"].(string)
		auth := c.ok(c.post("/v1/payment_methods", cardForm("4000002500003155")))["id"].(string)
		for _, pm := range []string{visa, auth} {
			got := c.ok(c.post("/v1/payment_methods/"+pm+"/attach", form("customer", cus)))
			if got["customer"] != cus {
				t.Fatalf("attach %v", got)
			}
		}
		list := c.ok(c.get("/v1/customers/" + cus + "/payment_methods"))["data"].([]any)
		list2 := c.ok(c.get("/v1/payment_methods?customer=" + cus + "&type=card"))["data"].([]any)
		if len(list) != 2 || len(list2) != 2 {
			t.Fatalf("saved methods %d %d", len(list), len(list2))
		}
		other := c.ok(c.post("/v1/customers", form("email", "b@example.com")))["id"].(string)
		if r := c.post("/v1/payment_methods/"+visa+"/attach", form("customer", other)); r.Status != 400 {
			t.Fatalf("attach to a second customer: %d %s", r.Status, r.Body)
		}
		// Off-session with a card that needs no authentication succeeds.
		pi := c.ok(c.post("/v1/payment_intents", form("amount", "2999", "currency", "usd", "customer", cus, "payment_method", visa, "off_session", "true", "confirm", "true")))
		if pi["status"] != "succeeded" {
			t.Fatalf("off-session visa %v", pi)
		}
		// Off-session with a card that needs authentication fails recoverably.
		r := c.post("/v1/payment_intents", form("amount", "2999", "currency", "usd", "customer", cus, "payment_method", auth, "off_session", "true", "confirm", "true"))
		if r.Status != 402 || r.Error(t)["code"] != "authentication_required" {
			t.Fatalf("off-session 3155: %d %s", r.Status, r.Body)
		}
		id := r.Error(t)["payment_intent"].(map[string]any)["id"].(string)
		back := c.ok(c.post("/v1/payment_intents/"+id+"/confirm", form("payment_method", auth, "return_url", "https://shop.example/r")))
		if back["status"] != "requires_action" {
			t.Fatalf("on-session retry %v", back)
		}
		// Off-session needs a method saved to the customer.
		if r := c.post("/v1/payment_intents", form("amount", "100", "currency", "usd", "customer", other, "payment_method", visa, "off_session", "true", "confirm", "true")); r.Status != 400 {
			t.Fatalf("off-session with another customer's card: %d %s", r.Status, r.Body)
		}
		// setup_future_usage saves a token to the customer.
		fresh := c.ok(c.post("/v1/customers", form("email", "new@example.com")))["id"].(string)
		pi = c.ok(c.post("/v1/payment_intents", form("amount", "500", "currency", "usd", "customer", fresh, "payment_method", "pm_card_mastercard", "setup_future_usage", "off_session", "confirm", "true")))
		saved := c.ok(c.get("/v1/customers/" + fresh + "/payment_methods"))["data"].([]any)
		if pi["status"] != "succeeded" || len(saved) != 1 || saved[0].(map[string]any)["card"].(map[string]any)["brand"] != "mastercard" || pi["payment_method"] != saved[0].(map[string]any)["id"] {
			t.Fatalf("setup_future_usage: %v saved %v", pi["status"], saved)
		}
		// Expansions.
		exp := c.ok(c.get("/v1/payment_intents/" + pi["id"].(string) + "?expand[]=customer&expand[]=payment_method&expand[]=latest_charge"))
		if exp["customer"].(map[string]any)["id"] != fresh || exp["payment_method"].(map[string]any)["object"] != "payment_method" || exp["latest_charge"].(map[string]any)["object"] != "charge" {
			t.Fatalf("expanded %v", exp)
		}
		// Detach.
		d := c.ok(c.post("/v1/payment_methods/"+visa+"/detach", nil))
		if d["customer"] != nil {
			t.Fatalf("detached %v", d)
		}
		if r := c.post("/v1/payment_methods/"+visa+"/detach", nil); r.Status != 400 {
			t.Fatalf("detach twice: %d", r.Status)
		}
		types, _ := c.events()
		attached, detached := 0, 0
		for _, ty := range types {
			switch ty {
			case "payment_method.attached":
				attached++
			case "payment_method.detached":
				detached++
			}
		}
		if attached != 3 || detached != 1 {
			t.Fatalf("attach/detach events %d/%d: %v", attached, detached, types)
		}
		// Another merchant cannot use or see these.
		o := newClient(t, s, s.NewMerchant(t, "Other").TestSecretKey)
		for _, path := range []string{"/v1/payment_methods/" + visa, "/v1/payment_methods?customer=" + cus} {
			r := o.get(path)
			if path == "/v1/payment_methods?customer="+cus {
				if r.Status != 200 || len(r.JSON(t)["data"].([]any)) != 0 {
					t.Fatalf("%s: %d %s", path, r.Status, r.Body)
				}
				continue
			}
			if r.Status != 404 {
				t.Fatalf("%s: %d", path, r.Status)
			}
		}
		if r := o.post("/v1/payment_methods/"+auth+"/attach", form("customer", cus)); r.Status != 404 {
			t.Fatalf("attach another merchant's method: %d", r.Status)
		}
		if r := o.payment(100, visa); r.Status != 404 {
			t.Fatalf("pay with another merchant's method: %d %s", r.Status, r.Body)
		}
	})
}

// TestNoCardDataStored scans every table after payments made with raw test
// card numbers: no full number and no CVC may be anywhere.
func TestNoCardDataStored(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		numbers := []string{"4242424242424242", "4000000000009995", "4000000000003220", "5555555555554444"}
		cus := c.ok(c.post("/v1/customers", form("email", "scan@example.com")))["id"].(string)
		for _, n := range numbers {
			pm := c.ok(c.post("/v1/payment_methods", cardForm(n)))["id"].(string)
			c.payment(100, pm)
			c.post("/v1/payment_methods/"+pm+"/attach", form("customer", cus))
		}
		c.post("/v1/payment_methods", cardForm("4242424242424241")) // refused
		driver, dsn := "sqlite", s.DBURL
		if strings.HasPrefix(dsn, "postgres") {
			driver = "pgx"
		}
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var tables []string
		q := `SELECT name FROM sqlite_master WHERE type = 'table'`
		if driver == "pgx" {
			q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
		}
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name string
			rows.Scan(&name)
			tables = append(tables, name)
		}
		rows.Close()
		if len(tables) < 8 {
			t.Fatalf("found only tables %v", tables)
		}
		scanned := 0
		for _, table := range tables {
			rows, err := db.Query(fmt.Sprintf(`SELECT * FROM %s`, table))
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					text := fmt.Sprint(v)
					if b, ok := v.([]byte); ok {
						text = string(b)
					}
					scanned++
					for _, n := range append(numbers, "4242424242424241") {
						if strings.Contains(text, n) {
							t.Fatalf("table %s column %s holds a card number", table, cols[i])
						}
					}
					if strings.Contains(text, `"7351"`) || strings.Contains(text, `:7351`) || strings.Contains(strings.ToLower(text), `"cvc":"`) {
						t.Fatalf("table %s column %s holds a CVC", table, cols[i])
					}
				}
			}
			rows.Close()
		}
		if scanned < 100 {
			t.Fatalf("scanned only %d values", scanned)
		}
	})
}
