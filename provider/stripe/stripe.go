// Package stripe is Tender's Stripe provider: card payments collected
// through each merchant's own Stripe account (seed 002's per-merchant
// model), with Stripe's PaymentIntents, Refunds, Customers and
// PaymentMethods APIs.
//
// Every call is made with the secret key that arrives in that call's
// credentials, on a client built for that call only. Nothing keyed by a
// merchant is cached (the shared HTTP backend holds no key), so one
// merchant's request can never travel with another merchant's key, whatever
// the concurrency (seed 002: per-request isolation).
//
// Every write carries Tender's idempotency key, so a repeated call — the
// SDK's own network retry, Tender's recovery — gets Stripe's first answer
// instead of a second charge. How outcomes map:
//
//   - Stripe's answer, including a card decline, is a result or a
//     *tender.Error: a definite outcome.
//   - A failure to learn the answer (timeout, connection reset, 5xx, 429,
//     a body that is not JSON) is a plain Go error: the outcome is unknown
//     and Tender's recovery asks again with the same key. It is never
//     mapped to a failure, because the money may have moved.
//
// Secret keys are never logged; messages from Stripe are redacted of
// anything that looks like a key or a client secret before they are logged
// or returned.
package stripe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	stripeapi "github.com/stripe/stripe-go/v85"

	"github.com/tenderhq/tender"
)

// Key is the Stripe provider's key.
const Key = "stripe"

// CodeInvalidCredentials is the error code of a call or validation that
// Stripe refused because of the merchant's keys.
const CodeInvalidCredentials = "invalid_provider_credentials"

// Credential keys.
const (
	CredPublishableKey = "publishable_key"
	CredSecretKey      = "secret_key"
	CredWebhookSecret  = "webhook_secret"
)

// defaultNetworkRetries is how many times the SDK retries a request that
// failed on the network or with a 409/5xx. The retry carries the same
// idempotency key, so it is safe, and it settles most blips before they
// become a payment stuck in recovery.
const defaultNetworkRetries = 1

// Options configure the provider.
type Options struct {
	// APIURL overrides Stripe's API base URL (TENDER_STRIPE_API_URL), for
	// stripe-mock and fakes. "" = Stripe's.
	APIURL string
	// HTTPClient is the client for calls to Stripe (default: one with a
	// 60 s timeout). Calls are also bounded by their context.
	HTTPClient *http.Client
	// Logger receives operational logs (default: discarded). It never
	// receives a secret key.
	Logger *slog.Logger
	// NetworkRetries is how many times a request that failed on the
	// network or with a 409/5xx is retried within one call, with the same
	// idempotency key. 0 means the default (1); negative means none.
	NetworkRetries int
	// Ledger, when set, durably records each authorize request (never the
	// credentials) before it is sent, so that Retrieve without a reference
	// can re-send exactly that request after a crash, and can report
	// tender.ErrNotFound for a request that was never sent. Without it,
	// only requests made by this process are remembered (see Retrieve).
	// Tender's sqlstore implements it; it is strongly recommended.
	Ledger tender.ProviderLedger
}

// Provider is the Stripe provider. It implements tender.Provider and
// tender.CardSaver, and is safe for concurrent use.
type Provider struct {
	opt      Options
	log      *slog.Logger
	backends *stripeapi.Backends
	records  *recordMemory
	// now is the clock (tests move it to check the 24 h idempotency window).
	now func() time.Time
}

var (
	_ tender.Provider  = (*Provider)(nil)
	_ tender.CardSaver = (*Provider)(nil)
)

// New returns the Stripe provider.
func New(opt Options) *Provider {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	retries := int64(defaultNetworkRetries)
	switch {
	case opt.NetworkRetries < 0:
		retries = 0
	case opt.NetworkRetries > 0:
		retries = int64(opt.NetworkRetries)
	}
	log := opt.Logger.With("provider", Key)
	cfg := &stripeapi.BackendConfig{
		HTTPClient:        opt.HTTPClient,
		LeveledLogger:     sdkLogger{log: log},
		MaxNetworkRetries: stripeapi.Int64(retries),
		// Telemetry would send the id and duration of one request in the
		// headers of the next, which may be another merchant's: off.
		EnableTelemetry: stripeapi.Bool(false),
	}
	if opt.APIURL != "" {
		cfg.URL = stripeapi.String(opt.APIURL)
	}
	return &Provider{
		opt: opt,
		log: log,
		// The backends hold the HTTP client and base URL, never a key: the
		// key is given to each call's client, so sharing them across
		// merchants is safe.
		backends: stripeapi.NewBackendsWithConfig(cfg),
		records:  newRecordMemory(recordMemorySize),
		now:      time.Now,
	}
}

// Info describes the provider as seed 000 does.
func (p *Provider) Info() tender.ProviderInfo {
	return tender.ProviderInfo{
		Key:         Key,
		Name:        "Credit/Debit Card",
		Description: "Pay securely with your credit or debit card via Stripe",
		Capabilities: tender.Capabilities{
			SupportsRedirect:      false,
			SupportsWebhook:       true,
			SupportsRefund:        true,
			SupportsPartialRefund: true,
			SupportsManualCapture: true,
			SupportsSavedCards:    true,
			RequiresClientSide:    true,
			SupportedCurrencies:   []string{"usd", "eur", "gbp", "cad", "aud"},
		},
		Credentials: []tender.CredentialField{
			{Key: CredPublishableKey, Label: "Stripe Publishable Key", Required: true, Prefix: "pk_"},
			{Key: CredSecretKey, Label: "Stripe Secret Key", Required: true, Encrypted: true, Prefix: "sk_,rk_"},
			{Key: CredWebhookSecret, Label: "Stripe Webhook Signing Secret", Required: false, Encrypted: true},
		},
		Modes:    tender.ProviderModeSupport{Test: true, Live: true, NeedsConfig: true},
		Validate: p.Validate,
	}
}

// client builds the client for one call from that call's secret key. It
// refuses, without calling Stripe, a missing key and a key of the other
// mode: a test-mode payment must never reach a live account.
func (p *Provider) client(call *tender.ProviderCall) (*stripeapi.Client, error) {
	key := call.Credentials[CredSecretKey]
	if key == "" {
		return nil, &tender.Error{Type: tender.InvalidRequestError, Code: CodeInvalidCredentials,
			Message: "Stripe is not configured for this merchant: no secret key; connect Stripe."}
	}
	if err := checkKeyMode(key, call.Livemode); err != nil {
		return nil, err
	}
	return stripeapi.NewClient(key, stripeapi.WithBackends(p.backends)), nil
}

// keyMode returns "test" or "live" for a Stripe key (sk_, rk_, pk_), or "".
func keyMode(key string) string {
	for _, prefix := range []string{"sk_", "rk_", "pk_"} {
		if rest, ok := strings.CutPrefix(key, prefix); ok {
			switch {
			case strings.HasPrefix(rest, "test_"):
				return "test"
			case strings.HasPrefix(rest, "live_"):
				return "live"
			}
		}
	}
	return ""
}

func checkKeyMode(key string, livemode bool) error {
	want := "test"
	if livemode {
		want = "live"
	}
	mode := keyMode(key)
	if !strings.HasPrefix(key, "sk_") && !strings.HasPrefix(key, "rk_") || mode == "" {
		return &tender.Error{Type: tender.InvalidRequestError, Code: CodeInvalidCredentials,
			Message: "This merchant's Stripe secret key is not a Stripe secret or restricted key; reconnect Stripe."}
	}
	if mode != want {
		return &tender.Error{Type: tender.InvalidRequestError, Code: CodeInvalidCredentials,
			Message: fmt.Sprintf("This merchant's Stripe secret key is a %s key, but this is %s mode; reconnect Stripe with a %s key.", mode, want, want)}
	}
	return nil
}

// keyHash names a secret key without revealing it (for in-memory maps).
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// secretPattern matches what must never be logged or shown: API keys,
// webhook secrets and client secrets.
var secretPattern = regexp.MustCompile(`\b((?:sk|rk|pk)_(?:test|live)_|whsec_)[A-Za-z0-9]+|_secret_[A-Za-z0-9]+`)

// redact masks keys and client secrets in s (Stripe's messages quote the
// key they refused, masked, but nothing relies on that).
func redact(s string) string {
	return secretPattern.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "_secret_") {
			return "_secret_[redacted]"
		}
		i := strings.LastIndexByte(m, '_')
		return m[:i+1] + "[redacted]"
	})
}

// sdkLogger routes stripe-go's own logs into the provider's logger at
// debug level, redacted. Its debug messages are dropped: they are whole
// response bodies (client secrets, customers' emails).
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Debugf(string, ...any) {}
func (l sdkLogger) Infof(format string, v ...any) {
	l.log.Debug(redact(fmt.Sprintf(format, v...)), "source", "stripe-go")
}
func (l sdkLogger) Warnf(format string, v ...any) {
	l.log.Debug(redact(fmt.Sprintf(format, v...)), "source", "stripe-go")
}
func (l sdkLogger) Errorf(format string, v ...any) {
	l.log.Debug(redact(fmt.Sprintf(format, v...)), "source", "stripe-go")
}

// checkCtx returns ctx's error, so that a call whose context is already
// over sends nothing.
func checkCtx(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stripe: %w", err)
	}
	return nil
}
