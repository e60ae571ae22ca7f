package webhook

import (
	"testing"
	"time"
)

// benchEvent is a payment_intent.succeeded event as a delivery sends it.
var benchEvent = []byte(`{"id":"evt_01JB7ZQ4W9KX3M5T8RPN2HVYCD","object":"event","api_version":"2026-11-01.tender",` +
	`"created":1763776800,"data":{"object":{"id":"pi_01JB7ZQ4W7E2D9GQ6F4S1AXBNR","object":"payment_intent",` +
	`"amount":2000,"amount_capturable":0,"amount_received":2000,"application":null,"application_fee_amount":null,` +
	`"automatic_payment_methods":null,"canceled_at":null,"cancellation_reason":null,"capture_method":"automatic",` +
	`"client_secret":"pi_01JB7ZQ4W7E2D9GQ6F4S1AXBNR_secret_Jk2s9QwL3mX8vB1nR5tY7uZ0","confirmation_method":"automatic",` +
	`"created":1763776800,"currency":"usd","customer":null,"description":null,"last_payment_error":null,` +
	`"latest_charge":"ch_01JB7ZQ4W8HT0R3YB6N5C2KQEM","livemode":false,"metadata":{"order_id":"6735"},"next_action":null,` +
	`"on_behalf_of":null,"payment_method":"pm_card_visa","payment_method_configuration_details":null,` +
	`"payment_method_options":{"card":{}},"payment_method_types":["card"],"processing":null,"receipt_email":null,` +
	`"review":null,"setup_future_usage":null,"shipping":null,"statement_descriptor":null,` +
	`"statement_descriptor_suffix":null,"status":"succeeded","transfer_data":null,"transfer_group":null,` +
	`"provider":"sandbox"}},"livemode":false,"pending_webhooks":1,"request":{"id":"req_01JB7ZQ4W6P1","idempotency_key":"order-6735"},` +
	`"type":"payment_intent.succeeded"}`)

func BenchmarkSign(b *testing.B) {
	secret := NewSecret()
	now := time.Unix(1763776800, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		_ = Sign(secret, now, benchEvent)
	}
}

func BenchmarkSignStandard(b *testing.B) {
	secret := NewSecret()
	now := time.Unix(1763776800, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		_ = SignStandard(secret, "whd_01JB7ZQ4WAM3", now, benchEvent)
	}
}
