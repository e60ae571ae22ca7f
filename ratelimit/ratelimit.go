// Package ratelimit enforces Tender's per-API-key request budgets: by default
// 1000 requests a minute in general and 100 a minute for requests that create
// payments, both configurable.
//
// Tender instances are stateless, so the budget has to live somewhere all of
// them can see. A single instance keeps it in process ([Memory]); several
// instances share it through Redis ([Redis]) so that adding an instance does
// not multiply a merchant's allowance. Both implement [Limiter] with the same
// algorithm, GCRA (the generic cell rate algorithm, a token bucket that stores
// one timestamp per key instead of a counter and a refill time), so switching
// backends does not change what a client observes.
//
// The HTTP middleware turns a [Result] into a 429 with Retry-After and the
// RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers.
package ratelimit

import (
	"context"
	"time"
)

// period is the window every budget is expressed in. It is fixed because the
// product speaks only of requests per minute, and fixing it keeps [Limit]
// impossible to misconfigure.
const period = time.Minute

// Limit is a budget of requests per minute. The burst equals the budget: a
// client that has been idle may spend the whole minute's budget at once
// (integrations legitimately batch), after which it refills continuously at
// PerMinute/60 requests a second rather than all at once at a minute
// boundary, so a client that overran waits for the one request it needs, not
// for the next minute. Sustained throughput is PerMinute a minute; the most
// any sliding minute can see is about twice that (a full burst, then a
// minute's refill).
//
// PerMinute <= 0 means unlimited; such calls never touch the backend.
type Limit struct {
	PerMinute int
}

// Unlimited reports whether l imposes no budget at all.
func (l Limit) Unlimited() bool { return l.PerMinute <= 0 }

// Result is the outcome of one [Limiter.Allow] call, carrying everything the
// middleware needs for its response headers so that it never has to know
// which backend answered.
//
// For an unlimited [Limit] the Result is Allowed with every other field zero;
// the middleware should then omit the RateLimit headers rather than announce
// a budget of 0.
type Result struct {
	// Allowed reports whether the request fits in the budget and has been
	// charged to it. A refused request is not charged, so a client hammering
	// away while limited does not push its own recovery further out.
	Allowed bool

	// Limit is the budget the request was checked against (Limit.PerMinute),
	// for RateLimit-Limit.
	Limit int

	// Remaining is how many more requests would be allowed right now, after
	// this one, for RateLimit-Remaining. It is never negative.
	Remaining int

	// RetryAfter is, for a refused request, how long until one request would
	// be allowed; it is then always > 0. It is 0 for an allowed request.
	// Retry-After is in whole seconds: round up, or clients retry too early
	// and are refused again.
	RetryAfter time.Duration

	// ResetAfter is how long until the budget is full again if no more
	// requests arrive, for RateLimit-Reset.
	ResetAfter time.Duration
}

// Limiter charges requests to per-key budgets. Implementations are safe for
// concurrent use.
type Limiter interface {
	// Allow takes one request from key's budget under limit. key is opaque
	// to the limiter; the caller chooses it to separate budgets, e.g.
	// "key_123" for the general budget and "key_123:payments" for the
	// payment-creating one. Calls for one key should use one Limit; if the
	// configured Limit changes, the key's history is reinterpreted under the
	// new budget rather than reset.
	//
	// A non-nil error means the limiter could not decide (e.g. Redis is
	// unreachable); the Result is then zero and the caller chooses between
	// failing open and failing closed.
	Allow(ctx context.Context, key string, limit Limit) (Result, error)
}

// gcraParams converts a budget into GCRA's two constants, in nanoseconds:
// the emission interval (time one request "costs") and the burst tolerance
// (how far ahead of now the theoretical arrival time may run). The interval is
// rounded down and the tolerance computed from the rounded interval so that
// exactly PerMinute requests fit in a burst whatever the rounding; the
// refill is then faster than exact by under a nanosecond per request.
func gcraParams(l Limit) (interval, tolerance int64) {
	interval = int64(period) / int64(l.PerMinute)
	if interval < 1 {
		// More than one request per nanosecond: unreachable in practice,
		// but a zero interval would divide by zero below.
		interval = 1
	}
	return interval, interval * int64(l.PerMinute)
}
