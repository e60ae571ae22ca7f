// Package webhook delivers events to merchants' endpoints: signed
// (Payments-Signature, Stripe's scheme, and Standard Webhooks' headers),
// retried on a schedule that reaches about three days, at least once. It
// also manages the endpoints themselves, refusing URLs that would let a
// merchant make Tender call into its own network.
package webhook

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tenderhq/tender"
)

// Store is what the webhook service needs from storage.
type Store interface {
	tender.WebhookStore
	tender.PaymentStore
}

// Keyring seals and opens endpoint secrets (vault.Keyring implements it).
type Keyring interface {
	Seal(plaintext, aad []byte) (string, error)
	Open(ciphertext string, aad []byte) ([]byte, error)
}

// EndpointParams are an endpoint's fields; nil keeps the current value.
type EndpointParams struct {
	URL           *string
	EnabledEvents []string
	Description   *string
	Metadata      map[string]string
	Disabled      *bool
	Format        string
}

// privateIP reports addresses a webhook must not reach: loopback, private,
// link-local, unspecified, multicast and the like.
func privateIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(ip) || // carrier-grade NAT
		netip.MustParsePrefix("0.0.0.0/8").Contains(ip)
}

// checkURL validates an endpoint URL: absolute, http(s) (https in live
// mode), no credentials, and — unless private addresses are allowed —
// resolving only to public addresses.
func (s *Service) checkURL(ctx context.Context, raw string, livemode bool) error {
	bad := func(format string, args ...any) error {
		return tender.InvalidParam(tender.CodeParameterInvalid, "url", format, args...)
	}
	if len(raw) > 2048 {
		return bad("The URL can be at most 2048 characters.")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.IsAbs() {
		return bad("Invalid URL: it must be absolute, such as https://example.com/webhooks.")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if livemode {
			return bad("Live-mode webhook URLs must use https.")
		}
	default:
		return bad("Webhook URLs must use http or https.")
	}
	if u.User != nil {
		return bad("Webhook URLs must not contain credentials.")
	}
	if s.allowPrivate {
		return nil
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
			return bad("Webhook URLs must not point to this machine or a private network.")
		}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
		if err != nil {
			return bad("The webhook URL's host %s does not resolve.", host)
		}
		addrs = ips
	}
	for _, ip := range addrs {
		if privateIP(ip) {
			return bad("Webhook URLs must not point to this machine or a private network (%s resolves to %s).", host, ip)
		}
	}
	return nil
}

func checkEvents(events []string, format string) error {
	if len(events) == 0 {
		return tender.MissingParam("enabled_events")
	}
	known := tender.EventTypes
	if format == tender.FormatSimple {
		known = tender.SimpleEventTypes
	}
	for i, e := range events {
		if e != "*" && !slices.Contains(known, e) {
			return tender.InvalidParam(tender.CodeParameterInvalid, "enabled_events["+itoa(i)+"]",
				"Invalid event type: %s. Use * or one of: %s.", e, strings.Join(known, ", "))
		}
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// CreateEndpoint creates an endpoint and returns it with its signing
// secret, which is shown this once and stored only sealed.
func (s *Service) CreateEndpoint(ctx context.Context, t tender.Tenant, p EndpointParams) (*tender.WebhookEndpoint, string, error) {
	if p.URL == nil || *p.URL == "" {
		return nil, "", tender.MissingParam("url")
	}
	if p.Format == "" {
		p.Format = tender.FormatStripe
	}
	if err := s.checkURL(ctx, *p.URL, t.Livemode); err != nil {
		return nil, "", err
	}
	if err := checkEvents(p.EnabledEvents, p.Format); err != nil {
		return nil, "", err
	}
	ep := &tender.WebhookEndpoint{ID: tender.NewID(tender.PrefixWebhook), MerchantID: t.MerchantID, Livemode: t.Livemode,
		URL: *p.URL, EnabledEvents: p.EnabledEvents, Metadata: p.Metadata, Status: tender.EndpointEnabled,
		Format: p.Format, Created: s.now().UTC()}
	if p.Description != nil {
		ep.Description = *p.Description
	}
	if p.Disabled != nil && *p.Disabled {
		ep.Status = tender.EndpointDisabled
	}
	secret := NewSecret()
	sealed, err := s.keys.Seal([]byte(secret), tender.WebhookEndpointAAD(t, ep.ID))
	if err != nil {
		return nil, "", err
	}
	ep.SealedSecret = sealed
	if err := s.store.InsertWebhookEndpoint(ctx, ep); err != nil {
		return nil, "", err
	}
	return ep, secret, nil
}

// UpdateEndpoint changes an endpoint. Re-enabling one forgets its failures.
func (s *Service) UpdateEndpoint(ctx context.Context, t tender.Tenant, id string, p EndpointParams) (*tender.WebhookEndpoint, error) {
	ep, err := s.Endpoint(ctx, t, id)
	if err != nil {
		return nil, err
	}
	if p.URL != nil {
		if err := s.checkURL(ctx, *p.URL, t.Livemode); err != nil {
			return nil, err
		}
		ep.URL = *p.URL
	}
	if p.EnabledEvents != nil {
		if err := checkEvents(p.EnabledEvents, ep.Format); err != nil {
			return nil, err
		}
		ep.EnabledEvents = p.EnabledEvents
	}
	if p.Description != nil {
		ep.Description = *p.Description
	}
	if p.Metadata != nil {
		ep.Metadata = mergeMetadata(ep.Metadata, p.Metadata)
	}
	if p.Disabled != nil {
		if *p.Disabled {
			ep.Status = tender.EndpointDisabled
		} else {
			ep.Status, ep.FailingSince = tender.EndpointEnabled, nil
		}
	}
	return ep, s.store.UpdateWebhookEndpoint(ctx, ep)
}

func mergeMetadata(old, upd map[string]string) map[string]string {
	if len(upd) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range old {
		out[k] = v
	}
	for k, v := range upd {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// Endpoint returns an endpoint.
func (s *Service) Endpoint(ctx context.Context, t tender.Tenant, id string) (*tender.WebhookEndpoint, error) {
	ep, err := s.store.WebhookEndpoint(ctx, t, id)
	if errors.Is(err, tender.ErrNotFound) {
		return nil, tender.NotFound("webhook_endpoint", id)
	}
	return ep, err
}

// DeleteEndpoint deletes an endpoint and its deliveries.
func (s *Service) DeleteEndpoint(ctx context.Context, t tender.Tenant, id string) error {
	err := s.store.DeleteWebhookEndpoint(ctx, t, id)
	if errors.Is(err, tender.ErrNotFound) {
		return tender.NotFound("webhook_endpoint", id)
	}
	return err
}

// secret opens an endpoint's signing secret.
func (s *Service) secret(ep *tender.WebhookEndpoint) (string, error) {
	b, err := s.keys.Open(ep.SealedSecret, tender.WebhookEndpointAAD(tender.Tenant{MerchantID: ep.MerchantID, Livemode: ep.Livemode}, ep.ID))
	return string(b), err
}

// EndpointJSON is Stripe's webhook_endpoint object; Secret only on creation.
type EndpointJSON struct {
	ID            string            `json:"id"`
	Object        string            `json:"object"`
	APIVersion    *string           `json:"api_version"`
	Application   *string           `json:"application"`
	Created       int64             `json:"created"`
	Description   *string           `json:"description"`
	EnabledEvents []string          `json:"enabled_events"`
	Livemode      bool              `json:"livemode"`
	Metadata      map[string]string `json:"metadata"`
	Secret        string            `json:"secret,omitempty"`
	Status        string            `json:"status"`
	URL           string            `json:"url"`
	Format        string            `json:"format"`
}

// View renders an endpoint.
func View(ep *tender.WebhookEndpoint, secret string) *EndpointJSON {
	v := &EndpointJSON{ID: ep.ID, Object: "webhook_endpoint", Created: ep.Created.Unix(), EnabledEvents: ep.EnabledEvents,
		Livemode: ep.Livemode, Metadata: ep.Metadata, Secret: secret, Status: ep.Status, URL: ep.URL, Format: ep.Format}
	if ep.Description != "" {
		v.Description = &ep.Description
	}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	return v
}
