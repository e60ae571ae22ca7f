package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Scenarios are the workloads bench can drive, headline first.
var Scenarios = []string{"create-confirm", "create-confirm-refund", "retrieve", "list", "replay", "webhooks"}

// createForm is the create-confirm request: a sandbox card payment,
// captured automatically.
const createForm = "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true"

// setupIntents is how many payments retrieve and list make before the run.
const setupIntents = 100

// scenario is one workload against one target.
type scenario interface {
	// unit names what one operation is, for the report.
	unit() string
	// setup prepares the target before the run (outside the measurement).
	setup(ctx context.Context, t *target) error
	// newOp makes one connection's operation.
	newOp(t *target) opFunc
}

func newScenario(name, runID string) (scenario, error) {
	keys := func(t *target) string { return "bench-" + runID + "-" + t.name + "-" }
	switch name {
	case "create-confirm":
		return &createConfirm{keys: keys}, nil
	case "create-confirm-refund":
		return &createConfirm{keys: keys, refund: true}, nil
	case "retrieve":
		return &reads{keys: keys, list: false}, nil
	case "list":
		return &reads{keys: keys, list: true}, nil
	case "replay":
		return &replay{keys: keys}, nil
	case "webhooks":
		return &webhooks{keys: keys, track: newTracker()}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q (one of %v)", name, Scenarios)
}

// createPayment sends one create-confirm and checks the payment succeeded.
// It returns the payment's id if wantID.
func createPayment(ctx context.Context, c *caller, key string, wantID bool) (string, string) {
	r, err := c.do(ctx, "POST", "/v1/payment_intents", createForm, key)
	if f := failure(r, err); f != "" {
		return "", f
	}
	if !bytes.Contains(r.body, []byte(`"status":"succeeded"`)) {
		return "", "not_succeeded"
	}
	if !wantID {
		return "", ""
	}
	id, err := objectID(r.body)
	if err != nil {
		return "", "bad_body"
	}
	return id, ""
}

// createConfirm is the headline: POST /v1/payment_intents with
// confirm=true and a fresh Idempotency-Key each time; with refund, each
// operation then refunds the payment (POST /v1/refunds).
type createConfirm struct {
	keys   func(*target) string
	refund bool
}

func (s *createConfirm) unit() string {
	if s.refund {
		return "payment + refund"
	}
	return "payment"
}

func (s *createConfirm) setup(context.Context, *target) error { return nil }

func (s *createConfirm) newOp(t *target) opFunc {
	c := &caller{t: t}
	prefix := s.keys(t)
	return func(ctx context.Context, i int64, _ time.Time) string {
		key := prefix + strconv.FormatInt(i, 10)
		id, f := createPayment(ctx, c, key, s.refund)
		if f != "" || !s.refund {
			return f
		}
		r, err := c.do(ctx, "POST", "/v1/refunds", "payment_intent="+url.QueryEscape(id), key+"-refund")
		return failure(r, err)
	}
}

// reads is retrieve (GET one of setupIntents payments, in turn) or list
// (GET /v1/payment_intents?limit=10).
type reads struct {
	keys func(*target) string
	list bool
	ids  []string
}

func (s *reads) unit() string { return "request" }

func (s *reads) setup(ctx context.Context, t *target) error {
	s.ids = nil
	c := &caller{t: t}
	prefix := s.keys(t) + "setup-"
	for i := range setupIntents {
		r, err := c.do(ctx, "POST", "/v1/payment_intents", createForm, prefix+strconv.Itoa(i))
		if err := mustOK("create a payment to read", r, err); err != nil {
			return err
		}
		id, err := objectID(r.body)
		if err != nil {
			return fmt.Errorf("create a payment to read: %w", err)
		}
		s.ids = append(s.ids, id)
	}
	return nil
}

func (s *reads) newOp(t *target) opFunc {
	c := &caller{t: t}
	return func(ctx context.Context, i int64, _ time.Time) string {
		path := "/v1/payment_intents?limit=10"
		if !s.list {
			path = "/v1/payment_intents/" + s.ids[int(i%int64(len(s.ids)))]
		}
		r, err := c.do(ctx, "GET", path, "", "")
		return failure(r, err)
	}
}

// replay sends the same create-confirm with the same Idempotency-Key over
// and over: every answer must be the first one, replayed.
type replay struct {
	keys func(*target) string
	key  string
}

func (s *replay) unit() string { return "request" }

func (s *replay) setup(ctx context.Context, t *target) error {
	s.key = s.keys(t) + "replay"
	r, err := (&caller{t: t}).do(ctx, "POST", "/v1/payment_intents", createForm, s.key)
	return mustOK("create the payment to replay", r, err)
}

func (s *replay) newOp(t *target) opFunc {
	c := &caller{t: t}
	return func(ctx context.Context, _ int64, _ time.Time) string {
		r, err := c.do(ctx, "POST", "/v1/payment_intents", createForm, s.key)
		if f := failure(r, err); f != "" {
			return f
		}
		if r.header.Get("Idempotent-Replayed") != "true" {
			return "not_replayed"
		}
		return ""
	}
}

// webhooks makes create-confirm payments and times the delivery of each
// one's payment_intent.succeeded event to a receiver on 127.0.0.1, from
// the moment the payment's request was due to the moment the event
// arrived.
type webhooks struct {
	keys  func(*target) string
	track *tracker
	recv  *receiver
}

func (s *webhooks) unit() string { return "delivery" }

func (s *webhooks) setup(ctx context.Context, t *target) error {
	recv, err := startReceiver(s.track)
	if err != nil {
		return err
	}
	s.recv = recv
	form := url.Values{"url": {recv.url}, "enabled_events[]": {"payment_intent.succeeded"}, "description": {"tender bench"}}
	r, err := (&caller{t: t}).do(ctx, "POST", "/v1/webhook_endpoints", form.Encode(), s.keys(t)+"endpoint")
	if err := mustOK("create the webhook endpoint (a server started with --url must allow loopback URLs: TENDER_WEBHOOK_ALLOW_PRIVATE=true)", r, err); err != nil {
		recv.close()
		return err
	}
	return nil
}

func (s *webhooks) newOp(t *target) opFunc {
	c := &caller{t: t}
	prefix := s.keys(t)
	return func(ctx context.Context, i int64, at time.Time) string {
		id, f := createPayment(ctx, c, prefix+strconv.FormatInt(i, 10), true)
		if f == "" {
			s.track.sent(id, at)
		}
		return f
	}
}

// tracker matches payments with the deliveries of their events.
type tracker struct {
	mu       sync.Mutex
	byID     map[string]*delivery
	arrivals []time.Time
	dups     int
	changed  chan struct{}
}

type delivery struct {
	sent, arrived time.Time
}

func newTracker() *tracker {
	return &tracker{byID: map[string]*delivery{}, changed: make(chan struct{}, 1)}
}

// sent records that payment id's request was due at.
func (t *tracker) sent(id string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.byID[id]
	if d == nil {
		d = &delivery{}
		t.byID[id] = d
	}
	d.sent = at
}

// arrived records that payment id's event arrived at.
func (t *tracker) arrived(id string, at time.Time) {
	t.mu.Lock()
	t.arrivals = append(t.arrivals, at)
	d := t.byID[id]
	switch {
	case d == nil:
		t.byID[id] = &delivery{arrived: at}
	case !d.arrived.IsZero():
		t.dups++
	default:
		d.arrived = at
	}
	t.mu.Unlock()
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// pending counts payments sent in [from, to) whose event has not arrived.
func (t *tracker) pending(from, to time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, d := range t.byID {
		if !d.sent.IsZero() && !d.sent.Before(from) && d.sent.Before(to) && d.arrived.IsZero() {
			n++
		}
	}
	return n
}

// wait waits until every payment sent in [from, to) has its event, or
// until the deadline; it returns how many are still missing.
func (t *tracker) wait(ctx context.Context, from, to time.Time, deadline time.Duration) int {
	timeout := time.After(deadline)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		n := t.pending(from, to)
		if n == 0 {
			return 0
		}
		select {
		case <-ctx.Done():
			return n
		case <-timeout:
			return n
		case <-t.changed:
		case <-tick.C:
		}
	}
}

// results is the event-to-delivery latency of payments sent in [from, to),
// and how many deliveries (of any payment) arrived in that window.
func (t *tracker) results(from, to time.Time) (lat Histogram, inWindow uint64, dups int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range t.byID {
		if !d.sent.IsZero() && !d.arrived.IsZero() && !d.sent.Before(from) && d.sent.Before(to) {
			lat.Record(d.arrived.Sub(d.sent))
		}
	}
	for _, a := range t.arrivals {
		if !a.Before(from) && a.Before(to) {
			inWindow++
		}
	}
	return lat, inWindow, t.dups
}
