package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is the [Limiter] for several Tender instances: budgets live in Redis,
// so every instance charges the same bucket and a merchant's allowance does
// not grow with the number of instances. Each Allow is one round trip running
// a Lua script (redis_rate's GCRA), which makes the check-and-charge atomic
// across instances and takes the time from Redis, so instance clock skew does
// not matter.
//
// A bucket is one Redis string named "rate:" + prefix + key (redis_rate
// prepends "rate:"), written with a TTL of at most one minute, so Redis
// itself drops idle budgets and needs no sweeping.
//
// If Redis cannot be reached, or does not answer before the client's
// timeouts or ctx run out, Allow returns the error and a zero Result: whether
// to serve the request unlimited (fail open) or refuse it (fail closed) is a
// policy the caller owns. How long that takes is the client's configuration:
// ctx deadlines only bound the call if it was built with ContextTimeoutEnabled
// (otherwise ReadTimeout and WriteTimeout do), and with go-redis's defaults a
// refused connection is redialled 5 times 100ms apart, so every request would
// wait about half a second before failing open. Give the limiter's client
// short timeouts and few retries.
type Redis struct {
	limiter *redis_rate.Limiter
	prefix  string
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a limiter that keeps its budgets in client, under keys
// starting with prefix. prefix is used verbatim, so include a separator
// (e.g. "tender:"); instances that must share budgets must use the same
// prefix, and deployments sharing one Redis must not.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{limiter: redis_rate.NewLimiter(client), prefix: prefix}
}

// Allow implements [Limiter].
func (r *Redis) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	if limit.Unlimited() {
		// Unlimited budgets cost no round trip, and so also keep working
		// while Redis is down.
		return Result{Allowed: true}, nil
	}
	res, err := r.limiter.Allow(ctx, r.prefix+key, redis_rate.PerMinute(limit.PerMinute))
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	out := Result{
		Allowed: res.Allowed > 0,
		Limit:   limit.PerMinute,
		// redis_rate computes in float seconds since 2017, where one ulp
		// is tens of nanoseconds; that noise is below Redis's microsecond
		// clock, so dropping it loses nothing and stops e.g. a 60.00000003s
		// reset from rounding up to a 61s RateLimit-Reset.
		ResetAfter: min(max(res.ResetAfter.Round(time.Microsecond), 0), period),
	}
	if !out.Allowed {
		// Rounding could turn a sub-microsecond wait into 0; keep the
		// promise that a refusal always has a positive RetryAfter.
		out.RetryAfter = max(res.RetryAfter.Round(time.Microsecond), time.Microsecond)
		return out, nil
	}
	out.Remaining = remaining(limit, out.ResetAfter)
	return out, nil
}

// remaining recomputes Remaining from ResetAfter instead of trusting
// redis_rate's, which its script truncates from a float: right after an idle
// period the true value is an exact integer (99 of 100), and float noise
// makes it come out as 98.99999995, i.e. 98, about half the time. The slack
// forgives that noise (and the rounding above, and the drift of a long busy
// run of float additions) at the cost of announcing one more request than
// exact when that request would be allowed within a millisecond anyway.
func remaining(limit Limit, resetAfter time.Duration) int {
	const slack = time.Millisecond
	r := int(float64(period-resetAfter+slack) * float64(limit.PerMinute) / float64(period))
	return min(max(r, 0), limit.PerMinute-1)
}
