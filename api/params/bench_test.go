package params

import "testing"

// A realistic payment-intent creation, as stripe-node would send it.
const (
	benchForm = "amount=2000&currency=usd&metadata[order_id]=6735&metadata[customer_ref]=cus_884" +
		"&metadata[channel]=web&expand[]=customer&expand[]=latest_charge&payment_method_types[]=card"
	benchJSON = `{"amount":2000,"currency":"usd","metadata":{"order_id":"6735","customer_ref":"cus_884",` +
		`"channel":"web"},"expand":["customer","latest_charge"],"payment_method_types":["card"]}`
)

func BenchmarkParseForm(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseForm(benchForm); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJSON(b *testing.B) {
	b.ReportAllocs()
	body := []byte(benchJSON)
	for b.Loop() {
		if _, err := ParseJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	v, err := ParseForm(benchForm)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var p testParams
		if err := Decode(v, &p); err != nil {
			b.Fatal(err)
		}
	}
}
