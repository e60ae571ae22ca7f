package bench

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock whose time moves only when the code under test
// sleeps or an operation says how long it took.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.advance(d)
	return nil
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// slowOp is an operation that takes d of fake time; it records when each
// operation was due and when it started.
type slowOp struct {
	clock   *fakeClock
	d       time.Duration
	fail    string
	due     []time.Duration
	started []time.Duration
	t0      time.Time
}

func (s *slowOp) op() opFunc {
	return func(_ context.Context, _ int64, intended time.Time) string {
		s.due = append(s.due, intended.Sub(s.t0))
		s.started = append(s.started, s.clock.Now().Sub(s.t0))
		s.clock.advance(s.d)
		return s.fail
	}
}

func TestOpenLoopChargesQueueingToTheServer(t *testing.T) {
	// 10 requests/s for 1 s on one connection, each taking 250 ms: the
	// server can do 4/s, so each request waits for the ones before it.
	// Request k is due at 100k ms and done at 250(k+1) ms; its latency is
	// 250 + 150k ms, not the 250 ms a closed-loop client would report.
	clock := newFakeClock()
	s := &slowOp{clock: clock, d: 250 * time.Millisecond, t0: clock.Now()}
	res := runLoad(context.Background(), loadSpec{Connections: 1, Rate: 10, Duration: time.Second, Drain: time.Hour, Clock: clock},
		func() opFunc { return s.op() }, nil, nil)
	if res.OK != 10 || res.Failed() != 0 || res.Unsent != 0 {
		t.Fatalf("ok %d failed %d unsent %d, want 10 ok", res.OK, res.Failed(), res.Unsent)
	}
	for k := range 10 {
		if want := time.Duration(k) * 100 * time.Millisecond; s.due[k] != want {
			t.Errorf("request %d due at %v, want %v", k, s.due[k], want)
		}
		if want := time.Duration(k) * 250 * time.Millisecond; s.started[k] != want {
			t.Errorf("request %d started at %v, want %v", k, s.started[k], want)
		}
	}
	if got, want := res.Latency.Max(), 1600*time.Millisecond; got != want {
		t.Errorf("max latency %v, want %v", got, want)
	}
	if got, want := res.Latency.Min(), 250*time.Millisecond; got != want {
		t.Errorf("min latency %v, want %v", got, want)
	}
	// Median: the 5th of 10, k = 4: 250 + 600 ms.
	within(t, "median", res.Latency.Quantile(0.5), 850*time.Millisecond, 0.004)
	if got, want := res.Done.Sub(res.Start), 2500*time.Millisecond; got != want {
		t.Errorf("last request done at %v, want %v", got, want)
	}
}

func TestOpenLoopKeepsTheScheduleWhenTheServerKeepsUp(t *testing.T) {
	clock := newFakeClock()
	s := &slowOp{clock: clock, d: 10 * time.Millisecond, t0: clock.Now()}
	res := runLoad(context.Background(), loadSpec{Connections: 1, Rate: 10, Duration: time.Second, Drain: time.Hour, Clock: clock},
		func() opFunc { return s.op() }, nil, nil)
	if res.OK != 10 {
		t.Fatalf("ok %d, want 10", res.OK)
	}
	for k := range 10 {
		if want := time.Duration(k) * 100 * time.Millisecond; s.started[k] != want {
			t.Errorf("request %d started at %v, want it on time at %v", k, s.started[k], want)
		}
	}
	if res.Latency.Max() != 10*time.Millisecond || res.Latency.Min() != 10*time.Millisecond {
		t.Errorf("latency %v..%v, want 10ms", res.Latency.Min(), res.Latency.Max())
	}
}

func TestOpenLoopWarmupAndUnsent(t *testing.T) {
	// Warmup: requests due before the window are sent but not counted.
	clock := newFakeClock()
	s := &slowOp{clock: clock, d: 10 * time.Millisecond, t0: clock.Now()}
	opened := 0
	var openedAt time.Duration
	res := runLoad(context.Background(), loadSpec{Connections: 1, Rate: 10, Warmup: 500 * time.Millisecond, Duration: time.Second,
		Drain: time.Hour, Clock: clock}, func() opFunc { return s.op() }, nil,
		func() { opened++; openedAt = clock.Now().Sub(s.t0) })
	if len(s.due) != 15 || res.OK != 10 {
		t.Fatalf("sent %d, counted %d; want 15 sent, 10 counted", len(s.due), res.OK)
	}
	if opened != 1 || openedAt != 500*time.Millisecond {
		t.Errorf("window opened %d times, at %v; want once at 500ms", opened, openedAt)
	}

	// A server far behind the rate: past the drain allowance, requests
	// due in the window are counted as unsent instead of sent late.
	clock = newFakeClock()
	s = &slowOp{clock: clock, d: time.Second, t0: clock.Now(), fail: "503"}
	res = runLoad(context.Background(), loadSpec{Connections: 1, Rate: 10, Duration: time.Second, Drain: 500 * time.Millisecond, Clock: clock},
		func() opFunc { return s.op() }, nil, nil)
	if res.Errors["503"] != 2 || res.OK != 0 || res.Unsent != 8 {
		t.Fatalf("errors %v ok %d unsent %d; want 2 failures and 8 unsent", res.Errors, res.OK, res.Unsent)
	}
}

func TestClosedLoopMeasuresFromSend(t *testing.T) {
	clock := newFakeClock()
	s := &slowOp{clock: clock, d: 250 * time.Millisecond, t0: clock.Now()}
	res := runLoad(context.Background(), loadSpec{Connections: 1, Duration: time.Second, Clock: clock},
		func() opFunc { return s.op() }, nil, nil)
	if res.OK != 4 {
		t.Fatalf("ok %d, want 4", res.OK)
	}
	if res.Latency.Max() != 250*time.Millisecond || res.Latency.Min() != 250*time.Millisecond {
		t.Errorf("latency %v..%v, want 250ms", res.Latency.Min(), res.Latency.Max())
	}
}

func TestLoadWithManyConnectionsIsRaceFree(t *testing.T) {
	// Real clock, many goroutines: the counts add up.
	var mu sync.Mutex
	seen := map[int64]bool{}
	live := &liveCounts{}
	res := runLoad(context.Background(), loadSpec{Connections: 8, Rate: 2000, Duration: 200 * time.Millisecond, Drain: time.Second},
		func() opFunc {
			return func(_ context.Context, i int64, _ time.Time) string {
				mu.Lock()
				defer mu.Unlock()
				if seen[i] {
					t.Errorf("operation %d ran twice", i)
				}
				seen[i] = true
				if i%10 == 0 {
					return "transport"
				}
				return ""
			}
		}, live, nil)
	if res.OK+res.Failed()+res.Unsent != 400 {
		t.Errorf("ok %d + failed %d + unsent %d, want 400 due in the window", res.OK, res.Failed(), res.Unsent)
	}
	if live.done.Load() != res.OK+res.Failed() {
		t.Errorf("live count %d, result %d", live.done.Load(), res.OK+res.Failed())
	}
}
