package manual

import (
	"context"
	"errors"
	"testing"

	"github.com/tenderhq/tender"
)

var usd = tender.MustCurrency("usd")

func call(key string, settings map[string]string) tender.ProviderCall {
	return tender.ProviderCall{MerchantID: "mer_test", IdempotencyKey: key, Settings: settings}
}

func TestAuthorize(t *testing.T) {
	m := New()
	for _, c := range []struct {
		name     string
		settings map[string]string
		capture  bool
		want     string
	}{
		{"configured", map[string]string{"instructions": "Mail to 1 Main St, Springfield. Payable to Acme."}, true,
			"Mail to 1 Main St, Springfield. Payable to Acme."},
		{"manual capture", map[string]string{"instructions": "Payable to Acme."}, false, "Payable to Acme."},
		{"no settings", nil, true, DefaultInstructions},
		{"empty instructions", map[string]string{"instructions": ""}, true, DefaultInstructions},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := &tender.AuthorizeRequest{ProviderCall: call("k1", c.settings), Amount: 4000, Currency: usd, Capture: c.capture}
			res, err := m.Authorize(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			// Whatever Capture says: the money has not arrived.
			if res.Status != tender.ProviderRequiresCapture || res.AmountCapturable != 4000 || res.AmountCaptured != 0 || res.Error != nil {
				t.Errorf("result = %+v", res)
			}
			// "man_" and the first 24 hex digits of SHA-256("k1").
			if res.Reference != "man_6ab9f1eb8f7d3388f4f9d586" {
				t.Errorf("reference = %s", res.Reference)
			}
			na := res.NextAction
			if na == nil || na.Type != "display_payment_instructions" || na.DisplayPaymentInstructions == nil ||
				na.DisplayPaymentInstructions.Instructions != c.want || na.DisplayPaymentInstructions.Reference != res.Reference {
				t.Errorf("next_action = %+v", na)
			}
		})
	}
}

func TestAuthorizeRefused(t *testing.T) {
	m := New()
	for _, c := range []struct {
		name string
		req  *tender.AuthorizeRequest
		code string // "" = not a client error
	}{
		{"eur", &tender.AuthorizeRequest{ProviderCall: call("k", nil), Amount: 100, Currency: tender.MustCurrency("eur")}, tender.CodeInvalidCurrency},
		{"no currency", &tender.AuthorizeRequest{ProviderCall: call("k", nil), Amount: 100}, tender.CodeInvalidCurrency},
		{"zero amount", &tender.AuthorizeRequest{ProviderCall: call("k", nil), Amount: 0, Currency: usd}, tender.CodeParameterInvalidInt},
		{"no key", &tender.AuthorizeRequest{ProviderCall: call("", nil), Amount: 100, Currency: usd}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Authorize(context.Background(), c.req)
			if err == nil {
				t.Fatal("authorized")
			}
			te, ok := tender.AsError(err)
			if c.code == "" {
				if ok {
					t.Errorf("error = %v, want an internal error", err)
				}
				return
			}
			if !ok || te.Type != tender.InvalidRequestError || te.Code != c.code {
				t.Errorf("error = %v, want %s", err, c.code)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	ctx := context.Background()
	auth := func(key string) string {
		t.Helper()
		// A new provider each time: nothing is remembered between calls.
		res, err := New().Authorize(ctx, &tender.AuthorizeRequest{ProviderCall: call(key, nil), Amount: 100, Currency: usd})
		if err != nil {
			t.Fatal(err)
		}
		return res.Reference
	}
	a := auth("k1")
	if a != auth("k1") || a != Reference("k1") || a == auth("k2") {
		t.Errorf("references not deterministic per key: %s %s %s", a, auth("k1"), auth("k2"))
	}

	m := New()
	for _, c := range []struct {
		name string
		req  *tender.RetrieveRequest
		ref  string
	}{
		{"by key", &tender.RetrieveRequest{ProviderCall: call("k1", map[string]string{"instructions": "x"})}, a},
		{"by reference", &tender.RetrieveRequest{ProviderCall: call("", map[string]string{"instructions": "x"}), Reference: "man_given"}, "man_given"},
	} {
		res, err := m.Retrieve(ctx, c.req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Reference != c.ref || res.Status != tender.ProviderRequiresCapture || res.NextAction == nil ||
			res.NextAction.DisplayPaymentInstructions.Instructions != "x" || res.NextAction.DisplayPaymentInstructions.Reference != c.ref {
			t.Errorf("%s: %+v", c.name, res)
		}
	}
	if _, err := m.Retrieve(ctx, &tender.RetrieveRequest{}); !errors.Is(err, tender.ErrNotFound) {
		t.Errorf("Retrieve with neither reference nor key = %v, want ErrNotFound", err)
	}
}

func TestCaptureCancel(t *testing.T) {
	m := New()
	ctx := context.Background()
	ref := Reference("k1")
	res, err := m.Capture(ctx, &tender.CaptureRequest{ProviderCall: call("cap", nil), Reference: ref, Amount: 4000, Currency: usd})
	if err != nil || res.Status != tender.ProviderSucceeded || res.AmountCaptured != 4000 || res.Reference != ref {
		t.Errorf("Capture = %+v, %v", res, err)
	}
	if _, err := m.Capture(ctx, &tender.CaptureRequest{ProviderCall: call("cap", nil), Reference: ref, Amount: 0}); err == nil {
		t.Error("capture of 0 accepted")
	}
	res, err = m.Cancel(ctx, &tender.CancelRequest{ProviderCall: call("cancel", nil), Reference: ref})
	if err != nil || res.Status != tender.ProviderCanceled || res.Reference != ref {
		t.Errorf("Cancel = %+v, %v", res, err)
	}
}

func TestRefundRefused(t *testing.T) {
	m := New()
	ctx := context.Background()
	_, err := m.Refund(ctx, &tender.RefundRequest{ProviderCall: call("re", nil), Reference: Reference("k1"), Amount: 100, Currency: usd})
	te, ok := tender.AsError(err)
	if !ok || te.Type != tender.InvalidRequestError || te.Code != "refund_unsupported" || te.Message == "" {
		t.Fatalf("Refund error = %v", err)
	}
	if _, err := m.RetrieveRefund(ctx, &tender.RetrieveRequest{ProviderCall: call("re", nil)}); !errors.Is(err, tender.ErrNotFound) {
		t.Errorf("RetrieveRefund = %v, want ErrNotFound", err)
	}
}

func TestContextCanceled(t *testing.T) {
	m := New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Authorize(ctx, &tender.AuthorizeRequest{ProviderCall: call("k", nil), Amount: 1, Currency: usd}); !errors.Is(err, context.Canceled) {
		t.Errorf("Authorize = %v", err)
	}
	if _, err := m.Capture(ctx, &tender.CaptureRequest{Reference: "man_x", Amount: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("Capture = %v", err)
	}
}

func TestInfo(t *testing.T) {
	info := New().Info()
	c := info.Capabilities
	if info.Key != "manual" || info.Name != "Check / Money Order" || info.Description != "Pay by check or money order mailed to the merchant" {
		t.Errorf("info = %+v", info)
	}
	if !info.Modes.Test || !info.Modes.Live || !info.Modes.NeedsConfig {
		t.Errorf("modes = %+v", info.Modes)
	}
	if c.SupportsRefund || c.SupportsWebhook || c.SupportsRedirect || c.RequiresClientSide || !c.SupportsManualCapture ||
		len(c.SupportedCurrencies) != 1 || c.SupportedCurrencies[0] != "usd" || !c.SupportsCurrency(usd) {
		t.Errorf("capabilities = %+v", c)
	}
	if len(info.Settings) != 1 || info.Settings[0].Key != "instructions" || !info.Settings[0].Required ||
		info.Settings[0].Label != "Payment instructions shown to the customer" {
		t.Errorf("settings = %+v", info.Settings)
	}
}
