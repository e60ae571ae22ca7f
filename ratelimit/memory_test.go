package ratelimit

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// fakeClock drives a Memory's time so tests never sleep. It is atomic because
// the concurrency test reads it from many goroutines.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() int64              { return c.ns.Load() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// newTestMemory returns a Memory on a fake clock that starts well away from
// zero, so that nothing accidentally relies on time starting at 0.
func newTestMemory() (*Memory, *fakeClock) {
	m := NewMemory()
	c := &fakeClock{}
	c.advance(time.Hour)
	m.now = c.now
	return m, c
}

func allow(t testing.TB, l Limiter, key string, limit Limit) Result {
	t.Helper()
	res, err := l.Allow(context.Background(), key, limit)
	if err != nil {
		t.Fatalf("Allow(%q, %+v): %v", key, limit, err)
	}
	return res
}

func TestMemoryBudget(t *testing.T) {
	for _, n := range []int{1, 2, 7, 100, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			m, _ := newTestMemory()
			limit := Limit{PerMinute: n}
			interval := time.Minute / time.Duration(n)
			for i := range n {
				got := allow(t, m, "k", limit)
				want := Result{
					Allowed:    true,
					Limit:      n,
					Remaining:  n - 1 - i,
					ResetAfter: time.Duration(i+1) * interval,
				}
				if got != want {
					t.Fatalf("request %d: got %+v, want %+v", i+1, got, want)
				}
			}
			// Refusals do not charge the bucket, so every later refusal
			// (at the same instant) answers the same.
			for range 3 {
				got := allow(t, m, "k", limit)
				want := Result{
					Limit:      n,
					RetryAfter: interval,
					ResetAfter: time.Duration(n) * interval,
				}
				if got != want {
					t.Fatalf("request %d: got %+v, want %+v", n+1, got, want)
				}
			}
		})
	}
}

func TestMemoryRefill(t *testing.T) {
	// 60 a minute is one a second, which keeps the arithmetic readable.
	limit := Limit{PerMinute: 60}
	steps := []struct {
		name    string
		advance time.Duration
		tries   int
		allowed int // the first `allowed` tries succeed, the rest fail
		retry   time.Duration
	}{
		{"fresh bucket spends its whole burst", 0, 61, 60, time.Second},
		{"not yet one request's worth", 999 * time.Millisecond, 1, 0, time.Millisecond},
		{"one request refilled", time.Millisecond, 2, 1, time.Second},
		{"half a minute refills half", 30 * time.Second, 31, 30, time.Second},
		{"partial refill is not rounded up", 2500 * time.Millisecond, 3, 2, 500 * time.Millisecond},
		{"refill stops at the budget", time.Hour, 61, 60, time.Second},
	}
	m, clock := newTestMemory()
	for _, st := range steps {
		clock.advance(st.advance)
		var last Result
		for i := range st.tries {
			last = allow(t, m, "k", limit)
			if want := i < st.allowed; last.Allowed != want {
				t.Fatalf("%s: try %d: Allowed = %v, want %v (%+v)", st.name, i+1, last.Allowed, want, last)
			}
		}
		if st.tries > st.allowed && last.RetryAfter != st.retry {
			t.Fatalf("%s: RetryAfter = %v, want %v", st.name, last.RetryAfter, st.retry)
		}
		if !last.Allowed && last.Remaining != 0 {
			t.Fatalf("%s: refused with Remaining %d", st.name, last.Remaining)
		}
	}
}

func TestMemoryKeysAreIndependent(t *testing.T) {
	m, _ := newTestMemory()
	limit := Limit{PerMinute: 5}
	for range 5 {
		allow(t, m, "key_1", limit)
	}
	if res := allow(t, m, "key_1", limit); res.Allowed {
		t.Fatal("key_1 allowed past its budget")
	}
	for _, key := range []string{"key_2", "key_1:payments", "", "key_1 "} {
		if res := allow(t, m, key, limit); !res.Allowed || res.Remaining != 4 {
			t.Errorf("key %q affected by key_1: %+v", key, res)
		}
	}
}

func TestMemoryUnlimited(t *testing.T) {
	for _, n := range []int{0, -1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			m, _ := newTestMemory()
			for range 10_000 {
				if res := allow(t, m, "k", Limit{PerMinute: n}); res != (Result{Allowed: true}) {
					t.Fatalf("got %+v, want Allowed with no budget", res)
				}
			}
			if got := m.len(); got != 0 {
				t.Fatalf("unlimited calls created %d buckets", got)
			}
		})
	}
}

func TestMemoryConcurrentOneKey(t *testing.T) {
	const (
		goroutines = 50
		perG       = 10
		budget     = 100
	)
	m, _ := newTestMemory() // frozen clock: no refill during the test
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		remaining = make(map[int]int)
		start     = make(chan struct{})
	)
	for range goroutines {
		wg.Go(func() {
			<-start
			for range perG {
				res, err := m.Allow(context.Background(), "hot", Limit{PerMinute: budget})
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					mu.Lock()
					remaining[res.Remaining]++
					mu.Unlock()
				}
			}
		})
	}
	close(start)
	wg.Wait()

	allowed := 0
	for _, c := range remaining {
		allowed += c
	}
	if allowed != budget {
		t.Fatalf("%d of %d requests allowed, want exactly %d", allowed, goroutines*perG, budget)
	}
	// Each charge must have seen the previous one: the Remaining values
	// handed out are 0..budget-1, each exactly once.
	for r := range budget {
		if remaining[r] != 1 {
			t.Fatalf("Remaining %d handed out %d times", r, remaining[r])
		}
	}
}

// touchAllShards calls Allow once in every shard, which is what triggers the
// amortized sweep, and returns how many buckets that created.
func touchAllShards(t *testing.T, m *Memory) int {
	t.Helper()
	var touched [numShards]bool
	n := 0
	for i := 0; n < numShards; i++ {
		key := fmt.Sprintf("probe-%d", i)
		idx := m.shardIndex(key)
		if !touched[idx] {
			touched[idx] = true
			n++
			allow(t, m, key, Limit{PerMinute: 1000})
		}
	}
	return n
}

func TestMemoryEviction(t *testing.T) {
	m, clock := newTestMemory()
	const idle = 20_000

	// Sweeps are due on each shard's first request; get that out of the
	// way so that the next ones are a full sweepEvery later.
	touchAllShards(t, m)
	for i := range idle {
		allow(t, m, fmt.Sprintf("idle-%d", i), Limit{PerMinute: 1000})
	}
	clock.advance(30 * time.Second)
	// Drained at 30s with 10/min, this bucket is full again only at 90s.
	for range 10 {
		allow(t, m, "busy", Limit{PerMinute: 10})
	}
	before := m.len()
	if want := idle + numShards + 1; before != want {
		t.Fatalf("%d buckets before eviction, want %d", before, want)
	}

	clock.advance(29 * time.Second) // 59s: no shard is due for a sweep yet
	probes := touchAllShards(t, m)
	if got := m.len(); got != before {
		t.Fatalf("swept early: %d buckets, want %d", got, before)
	}

	clock.advance(2 * time.Second) // 61s: every shard is due
	probes = touchAllShards(t, m)
	if got, want := m.len(), probes+1; got != want {
		t.Fatalf("%d buckets after eviction, want %d (the probes and busy)", got, want)
	}
	// busy must have kept its state: at 61s it has refilled 5 of its 10
	// (tat 90s), so after one more request 4 remain, not a fresh 9.
	if res := allow(t, m, "busy", Limit{PerMinute: 10}); !res.Allowed || res.Remaining != 4 {
		t.Fatalf("busy bucket lost its state: %+v", res)
	}
}

// TestMemoryEvictionFreesHeap checks the point of eviction end to end: the
// heap goes back down after a burst of keys goes idle. Deleting from a Go map
// does not shrink it, so this fails unless sweeping also rebuilds the maps.
func TestMemoryEvictionFreesHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 200k buckets")
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	m, clock := newTestMemory()
	touchAllShards(t, m)
	base := heap()
	for i := range 200_000 {
		allow(t, m, fmt.Sprintf("burst-key-%d", i), Limit{PerMinute: 1000})
	}
	full := heap()
	clock.advance(2 * sweepEvery)
	touchAllShards(t, m)
	after := heap()
	runtime.KeepAlive(m)
	t.Logf("heap: base %d KiB, with 200k buckets %d KiB, after eviction %d KiB", base>>10, full>>10, after>>10)
	if grown := full - base; after > base+grown/10 {
		t.Fatalf("eviction kept %d of %d KiB", (after-base)>>10, grown>>10)
	}
}

func TestShardSize(t *testing.T) {
	// The padding in shard is written by hand; keep it honest.
	if got := unsafe.Sizeof(shard{}); got != 128 {
		t.Fatalf("shard is %d bytes, want 128", got)
	}
}

// BenchmarkMemoryAllow measures the steady-state hot path: keys are already
// known, as they are for API keys in use. one-hot-key is every goroutine
// charging one key (the worst case for lock contention); many-keys spreads
// 100k keys over the shards (the worst case for cache misses).
func BenchmarkMemoryAllow(b *testing.B) {
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key_%d:payments", i)
	}
	limit := Limit{PerMinute: 1000}
	for _, bc := range []struct {
		name string
		keys []string
	}{
		{"one-hot-key", keys[:1]},
		{"many-keys", keys},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := NewMemory()
			ctx := context.Background()
			for _, k := range bc.keys {
				allow(b, m, k, limit)
			}
			var seq atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine walks the keys from its own offset, so
				// that they do not move through the shards in lockstep.
				i := int(seq.Add(7919))
				for pb.Next() {
					i++
					if _, err := m.Allow(ctx, bc.keys[i%len(bc.keys)], limit); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
