package ratelimit

import (
	"context"
	"hash/maphash"
	"maps"
	"strings"
	"sync"
	"time"
)

const (
	// numShards spreads keys over independent locks so that requests for
	// different API keys rarely contend. 64 comfortably exceeds the core
	// counts Tender runs on; the cost is 8 KiB per Memory.
	numShards = 64

	// sweepEvery is how often each shard looks for idle buckets. A bucket is
	// full again at most one period after its last request, so with a sweep
	// every period an idle key lingers for at most two periods: memory is
	// bounded by the keys seen in the last two minutes.
	sweepEvery = period

	// shrinkMin is the shard size below which a shard's map is never
	// rebuilt: copying is not worth it to save a few kilobytes.
	shrinkMin = 1024
)

// Memory is the in-process [Limiter], for a single Tender instance. It keeps
// one GCRA timestamp per key in a sharded map, so the hot path is a hash, one
// uncontended lock and one map access, with no allocation for a key already
// seen.
//
// Memory bounds its own size without a background goroutine (so there is
// nothing to Close and nothing to leak): each shard, on the first request it
// receives after [sweepEvery], evicts the buckets that are full again, which
// are indistinguishable from absent ones. Because Go maps never give back
// memory on delete, a shard whose population fell to under a quarter of its
// peak is copied into a fresh map. The sweep runs inside one Allow call and
// holds one shard's lock, so its cost (about 1/64 of the live keys) lands on
// one request a minute per shard.
//
// The zero value is not usable; call [NewMemory].
type Memory struct {
	seed maphash.Seed
	// now returns a monotonic clock in nanoseconds. It is a field so that
	// tests can drive time without sleeping.
	now    func() int64
	shards [numShards]shard
}

// shard is one lock's worth of buckets. It is padded to two cache lines so
// that neighbouring shards' locks do not false-share (adjacent-line
// prefetching makes 64 bytes not quite enough on x86).
type shard struct {
	mu sync.Mutex
	// tats maps a key to its theoretical arrival time: the moment, in
	// nanoseconds on Memory.now's clock, at which its bucket will be full
	// again. That single number is GCRA's entire state.
	tats      map[string]int64
	nextSweep int64
	// peak is the largest len(tats) since the map was allocated, which is
	// what its memory is sized for.
	peak int
	_    [128 - 32]byte
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an empty in-process limiter.
func NewMemory() *Memory {
	start := time.Now()
	m := &Memory{
		seed: maphash.MakeSeed(),
		// time.Since reads the monotonic clock, so a wall-clock step (NTP,
		// an operator fixing the date) neither frees nor freezes budgets.
		now: func() int64 { return int64(time.Since(start)) },
	}
	for i := range m.shards {
		m.shards[i].tats = make(map[string]int64)
	}
	return m
}

// Allow implements [Limiter]. It never returns an error; ctx is unused because
// nothing here blocks.
func (m *Memory) Allow(_ context.Context, key string, limit Limit) (Result, error) {
	if limit.Unlimited() {
		return Result{Allowed: true}, nil
	}
	interval, tolerance := gcraParams(limit)
	s := m.shardFor(key)
	// Reading the clock outside the lock keeps the critical section short
	// for a hot key. A goroutine that is overtaken then works with a now a
	// little in the past, which GCRA tolerates: it only makes that request
	// see its bucket as slightly emptier than it is.
	now := m.now()

	s.mu.Lock()
	if now >= s.nextSweep {
		s.sweep(now)
	}
	tat, seen := s.tats[key]
	tat = max(tat, now) // an absent or idle bucket is full: it starts from now
	newTAT := tat + interval
	allowAt := newTAT - tolerance
	if now < allowAt {
		s.mu.Unlock()
		return Result{
			Limit:      limit.PerMinute,
			RetryAfter: time.Duration(allowAt - now),
			ResetAfter: time.Duration(tat - now),
		}, nil
	}
	if !seen {
		// Clone so the map does not pin whatever larger buffer the
		// caller's key was sliced from, for as long as the bucket lives.
		key = strings.Clone(key)
	}
	s.tats[key] = newTAT
	if n := len(s.tats); n > s.peak {
		s.peak = n
	}
	s.mu.Unlock()

	return Result{
		Allowed:    true,
		Limit:      limit.PerMinute,
		Remaining:  int((now - allowAt) / interval),
		ResetAfter: time.Duration(newTAT - now),
	}, nil
}

func (m *Memory) shardFor(key string) *shard {
	return &m.shards[m.shardIndex(key)]
}

func (m *Memory) shardIndex(key string) int {
	return int(maphash.String(m.seed, key) % numShards)
}

// sweep evicts the buckets that are full again at now. s.mu must be held.
func (s *shard) sweep(now int64) {
	for k, tat := range s.tats {
		if tat <= now {
			delete(s.tats, k)
		}
	}
	if n := len(s.tats); s.peak >= shrinkMin && n < s.peak/4 {
		fresh := make(map[string]int64, n)
		maps.Copy(fresh, s.tats)
		s.tats = fresh
		s.peak = n
	}
	s.nextSweep = now + int64(sweepEvery)
}

// len is the number of buckets held, for tests.
func (m *Memory) len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tats)
		s.mu.Unlock()
	}
	return n
}
