package sandbox

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tenderhq/tender"
)

// memLedger is an in-memory tender.ProviderLedger: what the SQL ledgers do,
// with a mutex for their transactions. Keeping it behind the interface (and
// building a new Sandbox on the same ledger) is how the tests check that
// nothing the sandbox needs lives in its memory.
type memLedger struct {
	mu      sync.Mutex
	records map[string]memRecord // provider + "\x00" + key
}

type memRecord struct {
	value []byte
	due   time.Time
}

func newMemLedger() *memLedger { return &memLedger{records: map[string]memRecord{}} }

var _ tender.ProviderLedger = (*memLedger)(nil)

func (l *memLedger) LedgerUpdate(ctx context.Context, provider, key string, fn func(old []byte) ([]byte, time.Time, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := provider + "\x00" + key
	var old []byte
	if r, ok := l.records[k]; ok {
		old = append([]byte(nil), r.value...)
	}
	value, due, err := fn(old)
	if err != nil || value == nil {
		return err
	}
	l.records[k] = memRecord{value: append([]byte(nil), value...), due: due}
	return nil
}

func (l *memLedger) LedgerGet(ctx context.Context, provider, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.records[provider+"\x00"+key]
	if !ok {
		return nil, tender.ErrNotFound
	}
	return append([]byte(nil), r.value...), nil
}

func (l *memLedger) LedgerDue(ctx context.Context, provider string, now time.Time, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	type due struct {
		key string
		at  time.Time
	}
	var all []due
	for k, r := range l.records {
		p, key, _ := strings.Cut(k, "\x00")
		if p == provider && !r.due.IsZero() && !r.due.After(now) {
			all = append(all, due{key, r.due})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	var keys []string
	for i := 0; i < len(all) && i < limit; i++ {
		keys = append(keys, all[i].key)
	}
	return keys, nil
}

func (l *memLedger) LedgerCount(ctx context.Context, provider, prefix string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k := range l.records {
		if strings.HasPrefix(k, provider+"\x00"+prefix) {
			n++
		}
	}
	return n, nil
}

// fakeClock is a clock the tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
