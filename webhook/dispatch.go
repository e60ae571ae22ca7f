package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/tenderhq/tender"
)

// DefaultSchedule is the wait before each retry: about three days in all,
// after which a delivery is failed.
var DefaultSchedule = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// disableAfter is how long an endpoint may fail everything before it is disabled.
const disableAfter = 72 * time.Hour

// Config configures the service. Store and Keyring are required.
type Config struct {
	Store   Store
	Keyring Keyring
	Logger  *slog.Logger
	Now     func() time.Time
	// Schedule overrides DefaultSchedule (TENDER_WEBHOOK_BACKOFF).
	Schedule []time.Duration
	// AllowPrivate lets endpoints be on loopback and private networks
	// (TENDER_WEBHOOK_ALLOW_PRIVATE, for tests and local development).
	AllowPrivate bool
	// Timeout bounds one delivery (default 10s).
	Timeout time.Duration
	// Workers is how many deliveries run at once (default 64); PerEndpoint
	// caps one endpoint's share (default 32), so a slow endpoint cannot hold
	// the others up.
	Workers     int
	PerEndpoint int
	// PollInterval is how often the dispatcher looks for due deliveries
	// when it found none (default 200ms).
	PollInterval time.Duration
	// UserAgent is sent with every delivery.
	UserAgent string
}

// Service manages endpoints and delivers events to them.
type Service struct {
	store        Store
	keys         Keyring
	log          *slog.Logger
	now          func() time.Time
	schedule     []time.Duration
	allowPrivate bool
	timeout      time.Duration
	workers      int
	perEndpoint  int
	poll         time.Duration
	userAgent    string
	client       *http.Client

	mu       sync.Mutex
	inFlight map[string]int // endpoint id → deliveries running
	wake     chan struct{}
}

// New makes a webhook service.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, keys: cfg.Keyring, log: cfg.Logger, now: cfg.Now, schedule: cfg.Schedule,
		allowPrivate: cfg.AllowPrivate, timeout: cfg.Timeout, workers: cfg.Workers, perEndpoint: cfg.PerEndpoint,
		poll: cfg.PollInterval, userAgent: cfg.UserAgent, inFlight: map[string]int{}, wake: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.schedule) == 0 {
		s.schedule = DefaultSchedule
	}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	if s.workers <= 0 {
		s.workers = 64
	}
	if s.perEndpoint <= 0 {
		s.perEndpoint = 32
	}
	if s.poll <= 0 {
		s.poll = 200 * time.Millisecond
	}
	if s.userAgent == "" {
		s.userAgent = "Tender/dev"
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !s.allowPrivate {
		// Checked again at connect time, so a name that resolved to a public
		// address when the endpoint was saved cannot be re-pointed inward.
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || privateIP(ip) {
				return fmt.Errorf("webhook: refusing to connect to private address %s", host)
			}
			return nil
		}
	}
	s.client = &http.Client{
		Timeout: s.timeout,
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			MaxIdleConnsPerHost:   s.perEndpoint,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: s.timeout,
		},
		// A redirect is an answer, not a 2xx: following it could send the
		// signed event somewhere the merchant never configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// Wake asks the dispatcher to look for due deliveries now (after events
// are written), instead of at its next poll.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (s *Service) Run(ctx context.Context) {
	sem := make(chan struct{}, s.workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		n := s.dispatch(ctx, sem, &wg)
		if n > 0 {
			continue
		}
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-time.After(s.poll):
		}
	}
}

// DispatchOnce claims the due deliveries and makes them, waiting for all.
func (s *Service) DispatchOnce(ctx context.Context) int {
	sem := make(chan struct{}, s.workers)
	var wg sync.WaitGroup
	n := s.dispatch(ctx, sem, &wg)
	wg.Wait()
	return n
}

// dispatch claims what the free workers can take and starts them.
func (s *Service) dispatch(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) int {
	free := cap(sem) - len(sem)
	if free == 0 {
		// Everyone is busy: wait for a slot rather than spin.
		select {
		case sem <- struct{}{}:
			<-sem
		case <-ctx.Done():
		}
		return 0
	}
	// A lease longer than a delivery can take: if this process dies, the
	// claimed deliveries become due again when it runs out.
	lease := 2*s.timeout + 5*time.Second
	ds, err := s.store.ClaimDeliveries(ctx, s.now(), lease, free)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("webhooks: claim deliveries", "error", err)
		}
		return 0
	}
	for _, d := range ds {
		if !s.acquire(d.EndpointID) {
			// This endpoint has enough in flight: try again shortly.
			d.NextAttemptAt = s.now().Add(100 * time.Millisecond)
			if err := s.store.RecordAttempt(ctx, d); err != nil {
				s.log.Error("webhooks: requeue", "delivery", d.ID, "error", err)
			}
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer s.release(d.EndpointID)
			s.deliver(ctx, d)
		}()
	}
	return len(ds)
}

func (s *Service) acquire(endpoint string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[endpoint] >= s.perEndpoint {
		return false
	}
	s.inFlight[endpoint]++
	return true
}

func (s *Service) release(endpoint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[endpoint]--; s.inFlight[endpoint] <= 0 {
		delete(s.inFlight, endpoint)
	}
}

// deliver makes one attempt and records it.
func (s *Service) deliver(ctx context.Context, d *tender.Delivery) {
	t := tender.Tenant{MerchantID: d.MerchantID, Livemode: d.Livemode}
	ep, err := s.store.WebhookEndpoint(ctx, t, d.EndpointID)
	if errors.Is(err, tender.ErrNotFound) {
		return // deleted with its deliveries
	}
	if err != nil {
		s.log.Error("webhooks: load endpoint", "delivery", d.ID, "error", err)
		return // the lease runs out and the delivery is tried again
	}
	if ep.Status != tender.EndpointEnabled {
		// Disabled endpoints keep their deliveries for when they come back.
		d.NextAttemptAt = s.now().Add(time.Minute)
		s.record(ctx, d)
		return
	}
	body, err := s.payload(ctx, t, d, ep)
	if err != nil {
		s.log.Error("webhooks: build payload", "delivery", d.ID, "error", err)
		return
	}
	secret, err := s.secret(ep)
	if err != nil {
		s.log.Error("webhooks: open endpoint secret", "endpoint", ep.ID, "error", err)
		return
	}
	status, sendErr := s.send(ctx, ep.URL, d.EventID, secret, body)
	if ctx.Err() != nil {
		return // shutting down: the lease brings it back
	}
	now := s.now().UTC()
	d.Attempts++
	d.LastAttemptAt, d.LastStatus = &now, status
	if sendErr == nil && status >= 200 && status < 300 {
		d.Status, d.LastError = tender.DeliverySucceeded, ""
		s.record(ctx, d)
		if ep.FailingSince != nil {
			ep.FailingSince = nil
			if err := s.store.UpdateWebhookEndpoint(ctx, ep); err != nil && !errors.Is(err, tender.ErrConflict) {
				s.log.Warn("webhooks: mark endpoint healthy", "endpoint", ep.ID, "error", err)
			}
		}
		return
	}
	if sendErr != nil {
		d.LastError = sendErr.Error()
	} else {
		d.LastError = fmt.Sprintf("HTTP %d", status)
	}
	if d.Attempts > len(s.schedule) {
		d.Status = tender.DeliveryFailed
	} else {
		wait := s.schedule[d.Attempts-1]
		jitter := time.Duration(float64(wait) * (rand.Float64()*0.2 - 0.1))
		d.NextAttemptAt = now.Add(wait + jitter)
	}
	s.log.Info("webhook delivery failed", "delivery", d.ID, "endpoint", ep.ID, "event", d.EventID,
		"attempt", d.Attempts, "status", status, "error", d.LastError, "final", d.Status == tender.DeliveryFailed)
	s.record(ctx, d)
	s.noteFailure(ctx, ep, now)
}

func (s *Service) record(ctx context.Context, d *tender.Delivery) {
	if err := s.store.RecordAttempt(context.WithoutCancel(ctx), d); err != nil {
		s.log.Error("webhooks: record attempt", "delivery", d.ID, "error", err)
	}
}

// noteFailure tracks how long an endpoint has failed everything and
// disables it after three days, telling the merchant with an event.
func (s *Service) noteFailure(ctx context.Context, ep *tender.WebhookEndpoint, now time.Time) {
	if ep.FailingSince == nil {
		ep.FailingSince = &now
		if err := s.store.UpdateWebhookEndpoint(ctx, ep); err != nil && !errors.Is(err, tender.ErrConflict) {
			s.log.Warn("webhooks: mark endpoint failing", "endpoint", ep.ID, "error", err)
		}
		return
	}
	if now.Sub(*ep.FailingSince) < disableAfter {
		return
	}
	ep.Status = tender.EndpointDisabled
	if err := s.store.UpdateWebhookEndpoint(ctx, ep); err != nil {
		if !errors.Is(err, tender.ErrConflict) {
			s.log.Error("webhooks: disable endpoint", "endpoint", ep.ID, "error", err)
		}
		return
	}
	err := s.store.InTx(ctx, func(tx tender.PaymentTx) error {
		return tx.InsertEvent(ctx, &tender.Event{ID: tender.NewID(tender.PrefixEvent), MerchantID: ep.MerchantID,
			Livemode: ep.Livemode, Type: tender.EventWebhookEndpointDisabled, Created: now, ObjectID: ep.ID,
			Object: tender.MustJSON(View(ep, ""))})
	})
	if err != nil {
		s.log.Error("webhooks: record endpoint disabled", "endpoint", ep.ID, "error", err)
	}
	s.log.Warn("webhook endpoint disabled after failing for three days", "endpoint", ep.ID, "url", ep.URL)
}

// maxResponse is how much of a receiver's answer is read (and discarded).
const maxResponse = 4 << 10

// send POSTs one signed delivery.
func (s *Service) send(ctx context.Context, url, id, secret string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	now := s.now()
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", s.userAgent)
	h.Set("Payments-Signature", Sign(secret, now, body))
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
	h.Set("webhook-signature", SignStandard(secret, id, now, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	return resp.StatusCode, nil
}

// payload is the body of a delivery: the same bytes at every attempt.
func (s *Service) payload(ctx context.Context, t tender.Tenant, d *tender.Delivery, ep *tender.WebhookEndpoint) ([]byte, error) {
	ev, err := s.store.Event(ctx, t, d.EventID)
	if err != nil {
		return nil, err
	}
	if ep.Format == tender.FormatSimple {
		return s.simplePayload(ctx, t, ev)
	}
	j := ev.JSON()
	// pending_webhooks is frozen at one (this delivery) so that every
	// attempt sends identical bytes; GET /v1/events shows the live count.
	j.PendingWebhooks = 1
	return json.Marshal(j)
}

// simplePayload renders an event in seed 001's vocabulary.
func (s *Service) simplePayload(ctx context.Context, t tender.Tenant, ev *tender.Event) ([]byte, error) {
	typ := tender.SimpleEventType(ev)
	out := map[string]any{"id": ev.ID, "type": typ, "created_at": ev.Created.UTC().Format(time.RFC3339), "livemode": ev.Livemode}
	switch {
	case len(typ) > 8 && typ[:8] == "payment.":
		var obj tender.PaymentIntentJSON
		if err := json.Unmarshal(ev.Object, &obj); err != nil {
			return nil, err
		}
		cur, err := tender.ParseCurrency(obj.Currency, "currency")
		if err != nil {
			return nil, err
		}
		pi := &tender.PaymentIntent{ID: obj.ID, MerchantID: ev.MerchantID, Amount: obj.Amount, Currency: cur,
			Provider: obj.Provider, Status: tender.PaymentIntentStatus(obj.Status), Created: time.Unix(obj.Created, 0)}
		ref := ""
		if id, ok := obj.LatestCharge.(string); ok && id != "" {
			if ch, err := s.store.Charge(ctx, t, id, false); err == nil {
				ref = ch.ProviderRef
			}
		}
		out["data"] = tender.SimplePayment(pi, ref, ev.IdempotencyKey)
	default:
		var obj tender.RefundJSON
		if err := json.Unmarshal(ev.Object, &obj); err != nil {
			return nil, err
		}
		cur, err := tender.ParseCurrency(obj.Currency, "currency")
		if err != nil {
			return nil, err
		}
		r := &tender.Refund{ID: obj.ID, Amount: obj.Amount, Currency: cur, Status: obj.Status, Created: time.Unix(obj.Created, 0)}
		r.PaymentIntent, _ = obj.PaymentIntent.(string)
		if rr, err := s.store.Refund(ctx, t, obj.ID, false); err == nil {
			r.ProviderRef = rr.ProviderRef
		}
		out["data"] = tender.SimpleRefund(r)
	}
	return json.Marshal(out)
}
