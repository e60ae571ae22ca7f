package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// timeSource is the clock of a load run; tests replace it.
type timeSource interface {
	Now() time.Time
	// Sleep waits for d, or returns ctx's error if ctx ends first.
	Sleep(ctx context.Context, d time.Duration) error
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// An opFunc performs operation number i, which was due at intended, and
// returns "" on success or what went wrong: an HTTP status ("500") or a
// word ("transport"). Each connection has its own opFunc, so it may keep
// buffers between calls.
type opFunc func(ctx context.Context, i int64, intended time.Time) string

// loadSpec is how to drive an operation.
type loadSpec struct {
	// Connections is how many operations may be under way at once.
	Connections int
	// Rate, if positive, makes the run open-loop: operation i is due at
	// start + i/Rate, and its latency runs from then, not from when a free
	// connection got round to sending it, so a stalled server is charged
	// for every request it delayed (no coordinated omission). Zero is
	// closed-loop: each connection sends its next operation when the last
	// one answers.
	Rate float64
	// Warmup runs before the measured Duration; its operations are not counted.
	Warmup, Duration time.Duration
	// Drain is how long past the end an open-loop run that fell behind
	// keeps sending operations that were due in the window; the rest are
	// counted as unsent.
	Drain time.Duration
	Clock timeSource
}

// loadResult is what the measured window saw. Operations count in it when
// they were due (open loop) or sent (closed loop) inside the window; the
// run waits for them to finish.
type loadResult struct {
	Latency Histogram
	OK      uint64
	Errors  map[string]uint64
	// Unsent operations were due in the window but never sent: the target
	// fell further behind the rate than Drain allows.
	Unsent uint64
	// Start and End bound the window; Done is when the last counted
	// operation finished.
	Start, End, Done time.Time
}

// Failed is the number of failed operations.
func (r *loadResult) Failed() uint64 { return sum(r.Errors) }

// liveCounts are read by the progress line while a run goes on.
type liveCounts struct {
	done, failed atomic.Uint64
	measuring    atomic.Bool
}

type workerStats struct {
	lat    Histogram
	ok     uint64
	errs   map[string]uint64
	unsent uint64
	last   time.Time
}

// runLoad drives newOp's operations as spec says and returns what the
// measured window saw. onWindow, if set, is called once, when the measured
// window opens (as the first operation due in it starts, or at once
// without a warmup); the window closes when runLoad returns.
func runLoad(ctx context.Context, spec loadSpec, newOp func() opFunc, live *liveCounts, onWindow func()) *loadResult {
	clock := spec.Clock
	if clock == nil {
		clock = realClock{}
	}
	if spec.Connections < 1 {
		spec.Connections = 1
	}
	if live == nil {
		live = &liveCounts{}
	}
	start := clock.Now()
	measureStart := start.Add(spec.Warmup)
	end := measureStart.Add(spec.Duration)
	var next atomic.Int64
	var windowOnce sync.Once
	openWindow := func() {
		windowOnce.Do(func() {
			live.measuring.Store(true)
			if onWindow != nil {
				onWindow()
			}
		})
	}
	if spec.Warmup <= 0 {
		openWindow()
	}

	// intended returns the time operation i is due (open loop).
	interval := 0.0
	if spec.Rate > 0 {
		interval = float64(time.Second) / spec.Rate
	}
	intended := func(i int64) time.Time {
		return start.Add(time.Duration(float64(i) * interval))
	}

	stats := make([]*workerStats, spec.Connections)
	var wg sync.WaitGroup
	for w := range stats {
		st := &workerStats{errs: map[string]uint64{}}
		stats[w] = st
		op := newOp()
		wg.Go(func() {
			record := func(at, done time.Time, failure string) {
				live.done.Add(1)
				if failure != "" {
					live.failed.Add(1)
				}
				if at.Before(measureStart) {
					return
				}
				st.lat.Record(done.Sub(at))
				if failure == "" {
					st.ok++
				} else {
					st.errs[failure]++
				}
				if done.After(st.last) {
					st.last = done
				}
			}
			for ctx.Err() == nil {
				var at time.Time
				i := next.Add(1) - 1
				if spec.Rate > 0 {
					at = intended(i)
					if !at.Before(end) {
						return
					}
					now := clock.Now()
					if now.After(end.Add(spec.Drain)) {
						if !at.Before(measureStart) {
							st.unsent++
						}
						continue
					}
					if wait := at.Sub(now); wait > 0 {
						if clock.Sleep(ctx, wait) != nil {
							return
						}
					}
				} else {
					at = clock.Now()
					if !at.Before(end) {
						return
					}
				}
				if !at.Before(measureStart) {
					openWindow()
				}
				failure := op(ctx, i, at)
				if failure != "" && ctx.Err() != nil {
					// Interrupted: the run is over, not the request.
					return
				}
				record(at, clock.Now(), failure)
			}
		})
	}
	wg.Wait()
	openWindow()

	res := &loadResult{Errors: map[string]uint64{}, Start: measureStart, End: end}
	for _, st := range stats {
		res.Latency.Merge(&st.lat)
		res.OK += st.ok
		res.Unsent += st.unsent
		for k, v := range st.errs {
			res.Errors[k] += v
		}
		if st.last.After(res.Done) {
			res.Done = st.last
		}
	}
	return res
}
