package tender

import (
	"context"
	"time"
)

// Webhook endpoint formats: what an endpoint receives.
const (
	// FormatStripe endpoints receive Stripe-shaped events (seed 003).
	FormatStripe = "stripe"
	// FormatSimple endpoints receive seed 001's vocabulary (payment.completed …).
	FormatSimple = "simple"
)

// Webhook endpoint statuses.
const (
	EndpointEnabled  = "enabled"
	EndpointDisabled = "disabled"
)

// WebhookEndpoint is where a merchant receives events.
type WebhookEndpoint struct {
	ID            string
	MerchantID    string
	Livemode      bool
	URL           string
	EnabledEvents []string // event types, "*" for all
	Description   string
	Metadata      map[string]string
	Status        string
	Format        string
	// SealedSecret is the vault ciphertext of the signing secret (whsec_…).
	SealedSecret string
	// FailingSince is when deliveries to the endpoint started failing
	// without a success since; nil while it is healthy.
	FailingSince *time.Time
	Created      time.Time
	Version      int64
}

// WebhookEndpointAAD binds an endpoint's sealed secret to its row.
func WebhookEndpointAAD(t Tenant, id string) []byte {
	return []byte("webhook_endpoints|" + t.MerchantID + "|" + modeName(t.Livemode) + "|" + id)
}

// CredentialsAAD binds a provider config's sealed credentials to its row.
func CredentialsAAD(t Tenant, provider string) []byte {
	return []byte("provider_configs|" + t.MerchantID + "|" + modeName(t.Livemode) + "|" + provider)
}

func modeName(live bool) string {
	if live {
		return "live"
	}
	return "test"
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Delivery is one event's journey to one endpoint.
type Delivery struct {
	ID            string
	MerchantID    string
	Livemode      bool
	EndpointID    string
	EventID       string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LastAttemptAt *time.Time
	LastStatus    int    // the receiver's last HTTP status, 0 if none
	LastError     string // why the last attempt failed
	Created       time.Time
}

// WebhookStore keeps endpoints and deliveries. Deliveries are created in
// the same transaction as their event (see PaymentTx.InsertEvent), so none
// can be missed.
type WebhookStore interface {
	InsertWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	DeleteWebhookEndpoint(ctx context.Context, t Tenant, id string) error
	WebhookEndpoint(ctx context.Context, t Tenant, id string) (*WebhookEndpoint, error)
	ListWebhookEndpoints(ctx context.Context, q ListQuery) (Page[*WebhookEndpoint], error)
	// ListDeliveries lists an endpoint's (q.Charge unused; q.Customer unused)
	// deliveries, newest first; endpointID filters.
	ListDeliveries(ctx context.Context, q ListQuery, endpointID string) (Page[*Delivery], error)
	// ClaimDeliveries leases up to limit due deliveries for lease: their next
	// attempt moves to now+lease, so another dispatcher (or this one, after
	// a crash) retries them only when the lease runs out.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Delivery, error)
	// RecordAttempt stores an attempt's outcome.
	RecordAttempt(ctx context.Context, d *Delivery) error
	// Redeliver makes the event's deliveries (to one endpoint, or to every
	// endpoint that subscribes) pending again, creating missing ones.
	Redeliver(ctx context.Context, t Tenant, eventID, endpointID string, now time.Time) (int, error)
}

// Kinds of sealed secret.
const (
	SecretProviderConfig  = "provider_config"
	SecretWebhookEndpoint = "webhook_endpoint"
)

// SealedSecret is one secret at rest, for master key rotation.
type SealedSecret struct {
	Kind       string
	Tenant     Tenant
	ID         string // the provider key or the endpoint id
	Ciphertext string
}

// AAD is the associated data the secret was sealed with.
func (s SealedSecret) AAD() []byte {
	if s.Kind == SecretProviderConfig {
		return CredentialsAAD(s.Tenant, s.ID)
	}
	return WebhookEndpointAAD(s.Tenant, s.ID)
}

// SecretStore lists and rewrites sealed secrets, for key rotation.
type SecretStore interface {
	// SealedSecrets returns up to limit secrets not sealed under keyID.
	SealedSecrets(ctx context.Context, notKeyID string, limit int) ([]SealedSecret, error)
	// ResealSecret replaces a secret's ciphertext if it is still s.Ciphertext.
	ResealSecret(ctx context.Context, s SealedSecret, ciphertext string) (bool, error)
}
