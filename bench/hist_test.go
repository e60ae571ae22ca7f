package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactQuantile is the nearest-rank quantile of sorted values.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(rank, 1)
	return sorted[rank-1]
}

func within(t *testing.T, what string, got, want time.Duration, rel float64) {
	t.Helper()
	if want == 0 {
		if got != 0 {
			t.Errorf("%s = %v, want 0", what, got)
		}
		return
	}
	if d := math.Abs(float64(got-want)) / float64(want); d > rel {
		t.Errorf("%s = %v, want %v (off by %.2f%%, more than %.2f%%)", what, got, want, d*100, rel*100)
	}
}

func TestHistogramQuantilesKnownData(t *testing.T) {
	// 1 µs … 100,000 µs, each once: the q quantile is q × 100 ms.
	var h Histogram
	for i := 1; i <= 100000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	if h.Count() != 100000 {
		t.Fatalf("count %d", h.Count())
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := time.Duration(math.Ceil(q*100000)) * time.Microsecond
		within(t, "uniform quantile", h.Quantile(q), want, 0.005)
	}
	if h.Max() != 100*time.Millisecond || h.Min() != time.Microsecond {
		t.Errorf("min %v max %v", h.Min(), h.Max())
	}
	within(t, "mean", h.Mean(), 50000500*time.Nanosecond, 1e-9)
}

func TestHistogramQuantilesMatchSortedData(t *testing.T) {
	// Latency-shaped data spanning ns to seconds: log-normal plus a tail.
	r := rand.New(rand.NewPCG(1, 2))
	var vals []time.Duration
	var h Histogram
	for range 200000 {
		v := time.Duration(math.Exp(r.NormFloat64()*1.5+math.Log(2e6))) + time.Duration(r.IntN(300))
		if r.IntN(1000) == 0 {
			v += time.Duration(r.IntN(2e9))
		}
		vals = append(vals, v)
		h.Record(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999} {
		within(t, "quantile", h.Quantile(q), exactQuantile(vals, q), 0.01)
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
		t.Errorf("min %v max %v, want %v %v", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
	}
}

func TestHistogramSmallValuesExact(t *testing.T) {
	var h Histogram
	for _, v := range []time.Duration{0, 1, 2, 3, 255} {
		h.Record(v)
	}
	h.Record(-5) // counts as 0
	if got := h.Quantile(0.5); got != 1 {
		t.Errorf("median %v, want 1ns", got)
	}
	if got := h.Quantile(1); got != 255 {
		t.Errorf("max quantile %v", got)
	}
	if got := h.Quantile(0); got != 0 {
		t.Errorf("min quantile %v", got)
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Every bucket holds the values that map to it, and each is within
	// 1/128 of its lower bound.
	prev := -1
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64} {
		i := bucketOf(v)
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d [%d, %d]", v, i, lo, hi)
		}
		if float64(hi-lo) > float64(lo)/128+1e-9 && lo >= 256 {
			t.Errorf("bucket %d [%d, %d] wider than 1/128", i, lo, hi)
		}
		if i < prev {
			t.Errorf("bucket of %d is %d, before %d", v, i, prev)
		}
		prev = i
		if i >= histBuckets {
			t.Fatalf("bucket %d out of range", i)
		}
	}
	// Buckets tile the line: each starts right after the previous ends.
	for i := 1; i < histBuckets-1; i++ {
		_, hiPrev := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if lo != hiPrev+1 {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, lo, hiPrev)
		}
	}
}

func TestHistogramMergeAndEmpty(t *testing.T) {
	var a, b, all Histogram
	if a.Quantile(0.99) != 0 || a.Max() != 0 || a.Mean() != 0 {
		t.Fatal("empty histogram is not zero")
	}
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Millisecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	if a.Count() != all.Count() || a.Max() != all.Max() || a.Min() != all.Min() {
		t.Fatalf("merged count %d max %v min %v", a.Count(), a.Max(), a.Min())
	}
	for _, q := range []float64{0.5, 0.99} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("merged quantile %v = %v, want %v", q, a.Quantile(q), all.Quantile(q))
		}
	}
	a.Reset()
	if a.Count() != 0 {
		t.Fatal("reset kept values")
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	b.ReportAllocs()
	var h Histogram
	d := 1234567 * time.Nanosecond
	for b.Loop() {
		h.Record(d)
		d += 7919
	}
}
