package stripe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tenderhq/tender"
)

// WebhookTolerance is how far a Stripe-Signature timestamp may be from now,
// either way: older is a possible replay, newer a clock gone wrong.
const WebhookTolerance = 300 * time.Second

// Errors of VerifyWebhook. They are the sender's fault (answer 400), except
// ErrWebhookNoSecret, which is the merchant's configuration.
var (
	// ErrWebhookNoSecret: the merchant configured no webhook signing secret.
	ErrWebhookNoSecret = errors.New("stripe webhook: no signing secret configured")
	// ErrWebhookNoSignature: the request has no Stripe-Signature header.
	ErrWebhookNoSignature = errors.New("stripe webhook: no Stripe-Signature header")
	// ErrWebhookBadHeader: the header is not t=…,v1=….
	ErrWebhookBadHeader = errors.New("stripe webhook: malformed Stripe-Signature header")
	// ErrWebhookTimestamp: the signed timestamp is more than WebhookTolerance from now.
	ErrWebhookTimestamp = errors.New("stripe webhook: signature timestamp outside the tolerance")
	// ErrWebhookBadSignature: no v1 signature matches the payload and secret.
	ErrWebhookBadSignature = errors.New("stripe webhook: no valid signature")
	// ErrWebhookPayload: the payload is not a Stripe event.
	ErrWebhookPayload = errors.New("stripe webhook: payload is not a Stripe event")
)

// WebhookEvent is a Stripe event as Tender reads it.
type WebhookEvent struct {
	// ID is Stripe's event id (evt_…), for de-duplication.
	ID string
	// Type is Stripe's event type (payment_intent.succeeded …).
	Type string
	// Livemode is the mode Stripe says the event is from; the caller should
	// check it against the mode of the configuration whose secret verified
	// it.
	Livemode bool
	// Created is when Stripe created the event (not when it was sent).
	Created time.Time
	// ObjectID is the id of the event's object: pi_…, re_… or ch_….
	ObjectID string
	// Metadata is the object's metadata: tender_payment_intent and
	// tender_charge on PaymentIntents and their charges, tender_refund on
	// refunds.
	Metadata map[string]string
	// PaymentIntentRef is the PaymentIntent the event is about: the object
	// itself, or a charge's or refund's payment_intent.
	PaymentIntentRef string
	// Apply is what Tender should apply: Payment set for payment_intent.*
	// events, Refund set for refund events and charge.refunded (the latest
	// refund), nil for types Tender ignores. Provider, Reference, Payment or
	// Refund and PaymentReference are filled; MerchantID and Livemode are
	// left for the caller, who knows which merchant's secret verified it.
	// Never set by PeekWebhook.
	Apply *tender.ProviderEvent
	// Refunds is, for charge.refunded, every refund in the charge's refunds
	// list (Stripe includes the list only on API versions before
	// 2022-11-15; later ones send refund.* events instead).
	Refunds []tender.ProviderEvent
}

// VerifyWebhook checks a Stripe-Signature header (t=…,v1=…: HMAC-SHA256 of
// "t.payload" under secret, compared in constant time; several v1
// signatures are accepted, as Stripe sends while a secret is being rolled)
// with a tolerance of WebhookTolerance around now, and returns the parsed
// event. The API version of the event is not checked: Tender reads only
// fields every version has, so a webhook endpoint pinned to another version
// than stripe-go's still works.
func VerifyWebhook(payload []byte, header, secret string, now time.Time) (*WebhookEvent, error) {
	if secret == "" {
		return nil, ErrWebhookNoSecret
	}
	ts, sigs, err := parseSignatureHeader(header)
	if err != nil {
		return nil, err
	}
	if d := now.Sub(time.Unix(ts, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return nil, ErrWebhookTimestamp
	}
	want := signature(ts, payload, secret)
	ok := false
	for _, sig := range sigs {
		// Every candidate is compared, so the time taken does not say
		// which one matched.
		if hmac.Equal(sig, want) {
			ok = true
		}
	}
	if !ok {
		return nil, ErrWebhookBadSignature
	}
	return parseEvent(payload, true)
}

// PeekWebhook parses an event WITHOUT verifying it, only to find which
// merchant it may belong to (its object's tender_* metadata and ids).
// Nothing in it may be trusted or applied until VerifyWebhook passes with
// that merchant's secret; to make that hard to get wrong, it never sets
// Apply or Refunds.
func PeekWebhook(payload []byte) (*WebhookEvent, error) {
	return parseEvent(payload, false)
}

// SignWebhook computes a Stripe-Signature header for payload at t, as
// Stripe does: for tests and for tools that replay events.
func SignWebhook(payload []byte, secret string, t time.Time) string {
	return "t=" + strconv.FormatInt(t.Unix(), 10) + ",v1=" + hex.EncodeToString(signature(t.Unix(), payload, secret))
}

func signature(ts int64, payload []byte, secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(payload)
	return mac.Sum(nil)
}

// parseSignatureHeader reads "t=1495999758,v1=ABC,v1=DEF,v0=GHI": exactly
// one timestamp, at least one well-formed v1 signature; other schemes are
// ignored.
func parseSignatureHeader(header string) (int64, [][]byte, error) {
	if strings.TrimSpace(header) == "" {
		return 0, nil, ErrWebhookNoSignature
	}
	var ts int64
	seenT := false
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, ErrWebhookBadHeader
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || seenT {
				return 0, nil, ErrWebhookBadHeader
			}
			ts, seenT = n, true
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				continue // not a signature we could have made
			}
			sigs = append(sigs, sig)
		}
	}
	if !seenT {
		return 0, nil, ErrWebhookBadHeader
	}
	if len(sigs) == 0 {
		return 0, nil, ErrWebhookBadSignature
	}
	return ts, sigs, nil
}

// parseEvent reads an event; with apply, it also maps it to what Tender
// should apply.
func parseEvent(payload []byte, apply bool) (*WebhookEvent, error) {
	var ev struct {
		ID       string `json:"id"`
		Object   string `json:"object"`
		Type     string `json:"type"`
		Livemode bool   `json:"livemode"`
		Created  int64  `json:"created"`
		Data     struct {
			Object json.RawMessage `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWebhookPayload, err)
	}
	if ev.Object != "event" || ev.ID == "" || ev.Type == "" || len(ev.Data.Object) == 0 {
		return nil, ErrWebhookPayload
	}
	var head struct {
		ID            string            `json:"id"`
		Object        string            `json:"object"`
		Metadata      map[string]string `json:"metadata"`
		PaymentIntent expandable        `json:"payment_intent"`
	}
	if err := json.Unmarshal(ev.Data.Object, &head); err != nil {
		return nil, fmt.Errorf("%w: data.object: %v", ErrWebhookPayload, err)
	}
	we := &WebhookEvent{ID: ev.ID, Type: ev.Type, Livemode: ev.Livemode, Created: time.Unix(ev.Created, 0).UTC(),
		ObjectID: head.ID, Metadata: head.Metadata, PaymentIntentRef: head.PaymentIntent.ID}
	if head.Object == "payment_intent" {
		we.PaymentIntentRef = head.ID
	}
	if !apply {
		return we, nil
	}
	switch {
	case head.Object == "payment_intent" && strings.HasPrefix(ev.Type, "payment_intent."):
		pi, err := decodeObject[apiPaymentIntent](ev.Data.Object, "PaymentIntent")
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrWebhookPayload, err)
		}
		if res := paymentEvent(ev.Type, pi); res != nil {
			we.Apply = &tender.ProviderEvent{Provider: Key, Reference: pi.ID, Payment: res}
		}
	case head.Object == "refund" && refundEventTypes[ev.Type]:
		re, err := decodeObject[apiRefund](ev.Data.Object, "refund")
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrWebhookPayload, err)
		}
		if e, ok := refundEvent(re, ""); ok {
			we.Apply = &e
		}
	case head.Object == "charge" && ev.Type == "charge.refunded":
		ch, err := decodeObject[apiCharge](ev.Data.Object, "charge")
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrWebhookPayload, err)
		}
		if ch.Refunds == nil {
			break
		}
		var latest *apiRefund
		for _, re := range ch.Refunds.Data {
			if re == nil {
				continue
			}
			if e, ok := refundEvent(re, ch.PaymentIntent.ID); ok {
				we.Refunds = append(we.Refunds, e)
				if latest == nil || re.Created >= latest.Created {
					latest = re
				}
			}
		}
		if latest != nil {
			e, _ := refundEvent(latest, ch.PaymentIntent.ID)
			we.Apply = &e
		}
	}
	return we, nil
}

// refundEventTypes are the events whose object is a refund that Tender
// applies (charge.refund.updated is the older name of refund.updated).
var refundEventTypes = map[string]bool{
	"refund.created": true, "refund.updated": true, "refund.failed": true, "charge.refund.updated": true,
}

// paymentEvent maps a payment_intent.* event, by its type, to Tender's
// result; nil for types Tender ignores (created, updated, partially_funded …).
func paymentEvent(typ string, pi *apiPaymentIntent) *tender.ProviderResult {
	res := &tender.ProviderResult{Reference: pi.ID, PaymentMethod: pi.PaymentMethod.ID, Card: chargeCard(pi.LatestCharge)}
	switch typ {
	case "payment_intent.succeeded":
		res.Status, res.AmountCaptured = tender.ProviderSucceeded, pi.AmountReceived
	case "payment_intent.amount_capturable_updated":
		res.Status, res.AmountCapturable = tender.ProviderRequiresCapture, pi.AmountCapturable
	case "payment_intent.requires_action":
		res.Status, res.NextAction = tender.ProviderRequiresAction, nextAction(pi.NextAction)
	case "payment_intent.processing":
		res.Status = tender.ProviderProcessing
	case "payment_intent.payment_failed":
		res.Status, res.Error = tender.ProviderFailed, paymentFailure(pi)
	case "payment_intent.canceled":
		res.Status = tender.ProviderCanceled
	default:
		return nil
	}
	return res
}

// refundEvent maps a refund; a refund in a status unknown to Tender is
// skipped rather than guessed at.
func refundEvent(re *apiRefund, paymentRef string) (tender.ProviderEvent, bool) {
	res, err := refundResult(re)
	if err != nil {
		return tender.ProviderEvent{}, false
	}
	if re.PaymentIntent.ID != "" {
		paymentRef = re.PaymentIntent.ID
	}
	return tender.ProviderEvent{Provider: Key, Reference: re.ID, Refund: res, PaymentReference: paymentRef}, true
}
