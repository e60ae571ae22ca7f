package ratelimit

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const redisURLEnv = "TENDER_TEST_REDIS_URL"

// testRedis connects to the Redis named by TENDER_TEST_REDIS_URL, or skips.
// It returns a fresh prefix unique to the test, whose keys are deleted when
// the test ends, and a function that opens a new client (closed at the end)
// so that tests can stand in for several Tender instances.
func testRedis(t testing.TB) (prefix string, newClient func() *redis.Client) {
	t.Helper()
	url := os.Getenv(redisURLEnv)
	if url == "" {
		t.Skipf("set %s (e.g. redis://127.0.0.1:6379/0) to run the Redis tests", redisURLEnv)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s: %v", redisURLEnv, err)
	}
	prefix = "tender-test:" + rand.Text() + ":"

	newClient = func() *redis.Client {
		c := redis.NewClient(opts)
		t.Cleanup(func() { c.Close() })
		return c
	}
	admin := newClient()
	if err := admin.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("%s=%s: %v", redisURLEnv, url, err)
	}
	// Registered after admin's Close, so it runs before it.
	t.Cleanup(func() {
		ctx := context.Background()
		iter := admin.Scan(ctx, 0, redisKey(prefix, "*"), 100).Iterator()
		for iter.Next(ctx) {
			if err := admin.Del(ctx, iter.Val()).Err(); err != nil {
				t.Errorf("cleaning up %s: %v", iter.Val(), err)
			}
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleaning up %s*: %v", prefix, err)
		}
	})
	return prefix, newClient
}

// redisKey is where Redis keeps key's bucket; redis_rate adds "rate:".
func redisKey(prefix, key string) string { return "rate:" + prefix + key }

func TestRedisSharedBudget(t *testing.T) {
	prefix, newClient := testRedis(t)
	// Two clients stand in for two Tender instances.
	instances := []*Redis{NewRedis(newClient(), prefix), NewRedis(newClient(), prefix)}
	limit := Limit{PerMinute: 10}
	interval := time.Minute / 10

	allowed := 0
	for i := range 20 {
		res := allow(t, instances[i%2], "key_1:payments", limit)
		if res.Limit != 10 {
			t.Errorf("call %d: Limit = %d, want 10", i+1, res.Limit)
		}
		if !res.Allowed {
			if res.Remaining != 0 || res.RetryAfter <= 0 || res.RetryAfter > interval {
				t.Errorf("call %d refused with %+v, want Remaining 0 and 0 < RetryAfter <= %v", i+1, res, interval)
			}
			continue
		}
		allowed++
		// Each instance sees the other's charges.
		if want := 10 - allowed; res.Remaining != want {
			t.Errorf("call %d: Remaining = %d, want %d", i+1, res.Remaining, want)
		}
		if res.RetryAfter != 0 {
			t.Errorf("call %d allowed with RetryAfter %v", i+1, res.RetryAfter)
		}
	}
	if allowed != 10 {
		t.Fatalf("%d of 20 calls allowed across two instances, want exactly 10", allowed)
	}
}

func TestRedisNamespacing(t *testing.T) {
	prefix, newClient := testRedis(t)
	client := newClient()
	limit := Limit{PerMinute: 3}
	a := NewRedis(client, prefix+"a:")
	b := NewRedis(client, prefix+"b:")

	for range 3 {
		allow(t, a, "k", limit)
	}
	if res := allow(t, a, "k", limit); res.Allowed {
		t.Fatal("allowed past the budget")
	}
	if res := allow(t, a, "other", limit); !res.Allowed {
		t.Fatal("a different key shares the budget")
	}
	if res := allow(t, b, "k", limit); !res.Allowed {
		t.Fatal("a different prefix shares the budget")
	}

	// Idle budgets must expire in Redis by themselves, since nothing
	// else sweeps them.
	ttl, err := client.TTL(context.Background(), redisKey(prefix+"a:", "k")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > time.Minute {
		t.Fatalf("bucket TTL = %v, want within (0, 1m]", ttl)
	}
}

// TestRedisUnreachable needs no Redis: it shows that an outage surfaces as
// an error for the caller's fail-open/fail-closed policy, and that
// unlimited budgets do not depend on Redis at all.
func TestRedisUnreachable(t *testing.T) {
	client := redis.NewClient(&redis.Options{
		Addr:          "127.0.0.1:1", // nothing listens on tcpmux
		DialTimeout:   200 * time.Millisecond,
		DialerRetries: 1,
		MaxRetries:    -1,
	})
	defer client.Close()
	r := NewRedis(client, "tender-test:")
	ctx := context.Background()

	res, err := r.Allow(ctx, "k", Limit{PerMinute: 10})
	if err == nil {
		t.Fatalf("Allow succeeded without Redis: %+v", res)
	}
	if res != (Result{}) {
		t.Fatalf("Result on error = %+v, want zero", res)
	}

	res, err = r.Allow(ctx, "k", Limit{})
	if err != nil || res != (Result{Allowed: true}) {
		t.Fatalf("unlimited Allow = %+v, %v; want allowed without touching Redis", res, err)
	}
}

// TestLimiterContract runs the behaviour the middleware relies on against
// both backends, so they cannot drift apart.
func TestLimiterContract(t *testing.T) {
	backends := []struct {
		name string
		new  func(t *testing.T) Limiter
	}{
		{"memory", func(*testing.T) Limiter { m, _ := newTestMemory(); return m }},
		{"redis", func(t *testing.T) Limiter {
			prefix, newClient := testRedis(t)
			return NewRedis(newClient(), prefix)
		}},
	}
	for _, be := range backends {
		for _, n := range []int{1, 7, 10, 100} {
			t.Run(fmt.Sprintf("%s/%d", be.name, n), func(t *testing.T) {
				l := be.new(t)
				limit := Limit{PerMinute: n}
				interval := time.Minute / time.Duration(n)
				for i := range n {
					res := allow(t, l, "k", limit)
					if !res.Allowed || res.Limit != n || res.Remaining != n-1-i || res.RetryAfter != 0 {
						t.Fatalf("request %d: %+v, want allowed with Remaining %d", i+1, res, n-1-i)
					}
					if res.ResetAfter <= 0 || res.ResetAfter > time.Minute {
						t.Fatalf("request %d: ResetAfter = %v, want within (0, 1m]", i+1, res.ResetAfter)
					}
				}
				res := allow(t, l, "k", limit)
				if res.Allowed || res.Limit != n || res.Remaining != 0 {
					t.Fatalf("request %d: %+v, want refused with Remaining 0", n+1, res)
				}
				if res.RetryAfter <= 0 || res.RetryAfter > interval {
					t.Fatalf("request %d: RetryAfter = %v, want within (0, %v]", n+1, res.RetryAfter, interval)
				}
				if res.ResetAfter <= time.Minute-time.Second || res.ResetAfter > time.Minute {
					t.Fatalf("request %d: ResetAfter = %v, want just under 1m", n+1, res.ResetAfter)
				}
				for _, unlimited := range []Limit{{PerMinute: 0}, {PerMinute: -5}} {
					if res := allow(t, l, "k", unlimited); res != (Result{Allowed: true}) {
						t.Fatalf("unlimited: %+v, want allowed with no budget", res)
					}
				}
			})
		}
	}
}

func TestRedisRemaining(t *testing.T) {
	// What redis_rate's float arithmetic hands back, and what the headers
	// must say.
	tests := []struct {
		perMinute  int
		resetAfter time.Duration
		want       int
	}{
		{100, 600*time.Millisecond + 23*time.Nanosecond, 99}, // first request, float noise above
		{100, 600*time.Millisecond - 23*time.Nanosecond, 99}, // and below
		{100, 1200 * time.Millisecond, 98},
		{100, 1201 * time.Millisecond, 98}, // 1ms after the next refill: still 98
		{100, 1202 * time.Millisecond, 97},
		{7, 8571428571 * time.Nanosecond, 6}, // 60s/7 is not a whole number of anything
		{10, time.Minute, 0},                 // the last request of the burst
		{10, 0, 9},                           // cannot happen after a charge; clamped
	}
	for _, tt := range tests {
		if got := remaining(Limit{PerMinute: tt.perMinute}, tt.resetAfter); got != tt.want {
			t.Errorf("remaining(%d/min, reset %v) = %d, want %d", tt.perMinute, tt.resetAfter, got, tt.want)
		}
	}
}

// BenchmarkRedisAllow is mostly a measure of the round trip, for sizing: it
// is what every request pays when Tender runs as several instances.
func BenchmarkRedisAllow(b *testing.B) {
	prefix, newClient := testRedis(b)
	r := NewRedis(newClient(), prefix)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Allow(ctx, "key_1:payments", Limit{PerMinute: 1000}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
