package tender

import (
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkPaymentIntentJSON renders a succeeded card payment as every
// create, retrieve and event does: pi.JSON(), then encoding/json.
func BenchmarkPaymentIntentJSON(b *testing.B) {
	created := time.Unix(1763776800, 0).UTC()
	pi := &PaymentIntent{
		ID: NewID(PrefixPaymentIntent), MerchantID: NewID(PrefixMerchant), Amount: 2000, Currency: MustCurrency("usd"),
		Status: StatusSucceeded, CaptureMethod: CaptureAutomatic, Description: "Order 6735",
		Metadata:      map[string]string{"order_id": "6735", "customer_ref": "cus_884", "channel": "web"},
		PaymentMethod: "pm_card_visa", PaymentMethodTypes: []string{"card"}, Provider: "sandbox",
		ReceiptEmail: "jenny@example.com", AmountReceived: 2000, LatestCharge: NewID(PrefixCharge),
		ClientSecret: "pi_secret_Jk2s9QwL3mX8vB1nR5tY7uZ0", Created: created, IdempotencyKey: "order-6735", Version: 3,
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(pi.JSON()); err != nil {
			b.Fatal(err)
		}
	}
}
