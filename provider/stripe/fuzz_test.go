package stripe

import (
	"testing"
	"time"
)

// FuzzVerifyWebhook feeds arbitrary Stripe-Signature headers and payloads
// to the verifier: it must never panic, never accept a header that does not
// carry a valid signature of the payload, and always accept one it signed.
func FuzzVerifyWebhook(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	payload := []byte(`{"id":"evt_1","object":"event","type":"payment_intent.succeeded","livemode":false,"created":1800000000,"data":{"object":{"id":"pi_1","object":"payment_intent","status":"succeeded","metadata":{}}}}`)
	f.Add(payload, SignWebhook(payload, "whsec_fuzz", now))
	f.Add(payload, "t=1800000000,v1=00")
	f.Add([]byte("{}"), "t=,v1=")
	f.Add([]byte(""), "v1=abc,t=1,v0=x,v1=")
	f.Add(payload, "t=99999999999999999999,v1=ff")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		ev, err := VerifyWebhook(body, header, "whsec_fuzz", now)
		if err == nil {
			// Only a header carrying a signature computed with the secret can pass.
			if header != SignWebhook(body, "whsec_fuzz", now) && !containsSignature(header, body, now) {
				t.Fatalf("accepted a header it did not sign: %q", header)
			}
			_ = ev
		}
		if _, err := VerifyWebhook(body, SignWebhook(body, "whsec_fuzz", now), "whsec_fuzz", now); err != nil && err != ErrWebhookPayload {
			if _, perr := PeekWebhook(body); perr == nil {
				t.Fatalf("refused its own signature of a parseable event: %v", err)
			}
		}
		PeekWebhook(body)
	})
}

// containsSignature reports whether header has a v1 equal to the right
// signature (a header may carry several, in any order).
func containsSignature(header string, body []byte, now time.Time) bool {
	ts, sigs, err := parseSignatureHeader(header)
	if err != nil {
		return false
	}
	want := signature(ts, body, "whsec_fuzz")
	for _, s := range sigs {
		if string(s) == string(want) {
			return true
		}
	}
	return false
}
