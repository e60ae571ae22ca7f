package stripe

import (
	"context"
	"errors"
	"net/http"
	"strings"

	stripeapi "github.com/stripe/stripe-go/v85"

	"github.com/tenderhq/tender"
)

// Validate checks a merchant's Stripe credentials before they are saved
// (seed 002: "keys are verified against Stripe before saving"). It is
// Info().Validate.
//
// Locally: the secret key is an sk_ or rk_ key of the configuration's mode,
// the publishable key a pk_ key of the same mode (a pk_test_ key with an
// sk_live_ key would have Stripe.js and the server talk to different
// worlds), and the webhook secret, if given, a whsec_ secret.
//
// With Stripe: the secret key reads the account's balance (GET
// /v1/balance). Stripe's refusal is a *tender.Error
// invalid_provider_credentials quoting Stripe's reason; a failure to reach
// Stripe is a plain error, which Tender reports as "could not reach Stripe".
// A restricted key may lack the balance permission (403) while having
// what payments need, so it is then checked on the PaymentIntents it must
// be able to use instead.
func (p *Provider) Validate(ctx context.Context, livemode bool, creds tender.Credentials) error {
	sk, pk, wh := creds[CredSecretKey], creds[CredPublishableKey], creds[CredWebhookSecret]
	if sk == "" {
		return tender.MissingParam("credentials[" + CredSecretKey + "]")
	}
	if err := checkKeyMode(sk, livemode); err != nil {
		te, _ := tender.AsError(err)
		te.Param = "credentials[" + CredSecretKey + "]"
		return te
	}
	if pk == "" {
		return tender.MissingParam("credentials[" + CredPublishableKey + "]")
	}
	if !strings.HasPrefix(pk, "pk_") || keyMode(pk) == "" {
		return invalidCreds(CredPublishableKey, "The Stripe publishable key must start with pk_test_ or pk_live_.")
	}
	if keyMode(pk) != keyMode(sk) {
		return invalidCreds(CredPublishableKey, "The Stripe publishable key is a "+keyMode(pk)+" key but the secret key is a "+
			keyMode(sk)+" key; use the two keys of the same mode from the same Stripe account.")
	}
	if wh != "" && !strings.HasPrefix(wh, "whsec_") {
		return invalidCreds(CredWebhookSecret, "The Stripe webhook signing secret must start with whsec_ (Stripe Dashboard → Developers → Webhooks → Signing secret).")
	}
	if err := checkCtx(ctx); err != nil {
		return err
	}

	c := stripeapi.NewClient(sk, stripeapi.WithBackends(p.backends))
	_, err := c.V1Balance.Retrieve(ctx, nil)
	if status(err) == http.StatusForbidden && strings.HasPrefix(sk, "rk_") {
		list := c.V1PaymentIntents.List(ctx, &stripeapi.PaymentIntentListParams{
			ListParams: stripeapi.ListParams{Limit: stripeapi.Int64(1), Single: true}})
		err = list.Err()
	}
	if err == nil {
		return nil
	}
	var se *stripeapi.Error
	if errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 &&
		se.HTTPStatusCode != http.StatusTooManyRequests && se.HTTPStatusCode != http.StatusConflict {
		return invalidCreds(CredSecretKey, "Stripe rejected the secret key: "+redact(se.Msg))
	}
	return classifyUnknown("validate credentials", err)
}

func invalidCreds(field, msg string) *tender.Error {
	return &tender.Error{Type: tender.InvalidRequestError, Code: CodeInvalidCredentials,
		Param: "credentials[" + field + "]", Message: msg}
}

// status is err's HTTP status from Stripe, or 0.
func status(err error) int {
	var se *stripeapi.Error
	if errors.As(err, &se) {
		return se.HTTPStatusCode
	}
	return 0
}

// classifyUnknown wraps a failure to get Stripe's answer as a plain error.
func classifyUnknown(op string, err error) error {
	var se *stripeapi.Error
	if errors.As(err, &se) {
		return &unknownOutcome{op: op, msg: (&stripeCause{op: op, err: se}).Error(), err: se}
	}
	return &unknownOutcome{op: op, msg: redact(err.Error()), err: err}
}
