// Package bench is `tender bench`, Tender's load generator. It drives one
// scenario (create-confirm payments, refunds, retrieves, lists, idempotent
// replays or webhook deliveries) against a Tender server — one it is
// given with a URL and key, or one it starts in this process on a fresh
// database, exactly as `tender serve` runs — closed-loop with N
// connections or open-loop at a fixed rate, and reports throughput,
// latency quantiles (from the time each request was due, so a stalled
// server is charged for the requests it held up), errors by status, and
// the server's CPU time and memory per 1,000 operations.
//
// With a baseline it also measures the physical floor on the same database
// and connections: a bare net/http handler that answers the same requests
// with the least work a correct answer needs (a payment is one
// transaction writing an idempotency row, a payment row and an event row),
// and reports Tender's throughput as a ratio of it.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// Config is one bench run.
type Config struct {
	// URL and Key name a running Tender server and a secret key of one of
	// its merchants. Without URL, bench starts Tender in this process (Run
	// is then required) on Database and creates a merchant.
	URL, Key string
	// Database is the in-process server's database: a SQLite path or a
	// postgres:// URL (the run gets a new schema in it, dropped after). The
	// default is a SQLite file in a new temporary directory. With URL it
	// is only used by the baseline and should be the server's database.
	Database string
	// Scenario is one of Scenarios (default create-confirm).
	Scenario string
	// Connections is how many requests may be under way at once (default 16).
	Connections int
	// Duration is the measured time (default 10s); Warmup runs before it
	// and is not counted.
	Duration, Warmup time.Duration
	// Rate, if positive, is the open-loop rate in operations per second.
	Rate float64
	// Baseline also measures the bare handler and reports the ratio.
	Baseline bool
	// CPUProfile, if set, is a file for a CPU profile of this process
	// during Tender's measured window (the in-process server and the load
	// generator together).
	CPUProfile string
	// PID is the process id of the server at URL, if it runs on this
	// machine, to report its CPU time and memory.
	PID int
	// Getenv is the environment the in-process server starts from.
	Getenv func(string) string
	// Run runs a tender command in this process (cli.Run).
	Run RunFunc
	// Progress, if set, gets a progress line every second; InPlace
	// rewrites one line (a terminal) instead of printing one per second.
	Progress io.Writer
	InPlace  bool
}

// Measurement is what one target did in the measured window.
type Measurement struct {
	// Requests is the operations counted (successful or not).
	Requests uint64 `json:"requests"`
	// Throughput is successful operations per second.
	Throughput float64 `json:"throughput"`
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
	Mean       float64 `json:"mean_ms"`
	// Errors counts failures by HTTP status, or by what went wrong:
	// transport (no answer), not_succeeded (a 2xx payment that did not
	// succeed), not_replayed (a replay without Idempotent-Replayed: true),
	// undelivered (a webhook that never arrived).
	Errors map[string]uint64 `json:"errors"`
	// Unsent is open-loop operations due in the window that were never
	// sent because the target fell too far behind the rate.
	Unsent uint64 `json:"unsent"`
}

// Failed is the number of failed operations.
func (m *Measurement) Failed() uint64 { return sum(m.Errors) }

// sum adds up failure counts.
func sum(counts map[string]uint64) uint64 {
	var n uint64
	for _, c := range counts {
		n += c
	}
	return n
}

// WebhookStats describe the payments behind a webhooks run.
type WebhookStats struct {
	// Payments made in the window, and per second.
	Payments          uint64  `json:"payments"`
	PaymentThroughput float64 `json:"payment_throughput"`
	// RequestP99 is the 99th percentile latency of the payment requests.
	RequestP99 float64 `json:"request_p99_ms"`
	// Duplicates counts events delivered more than once.
	Duplicates int `json:"duplicates"`
}

// Result is a run's report; its JSON form is `tender bench --json`.
type Result struct {
	Scenario string `json:"scenario"`
	// Unit is what one operation is: a payment, a request, a delivery.
	Unit string `json:"unit"`
	// Target is "in-process" or the URL given.
	Target string `json:"target"`
	// Database is sqlite or postgres ("" if unknown: a server given by URL).
	Database string `json:"database"`
	// DatabaseURL is the database used, without a password.
	DatabaseURL string  `json:"database_url,omitempty"`
	Connections int     `json:"connections"`
	Rate        float64 `json:"rate"` // 0: closed loop
	DurationS   float64 `json:"duration_s"`
	WarmupS     float64 `json:"warmup_s"`
	Measurement
	// BaselineThroughput and Ratio (Tender's throughput / the baseline's)
	// are null without --baseline or where no baseline applies (webhooks).
	BaselineThroughput *float64     `json:"baseline_throughput"`
	Ratio              *float64     `json:"ratio"`
	Baseline           *Measurement `json:"baseline,omitempty"`
	// RSSMB is the server process's peak resident memory (VmHWM), and
	// RSSStartMB and RSSEndMB its resident memory (VmRSS) when the window
	// opened and closed; CPUSPer1k is its CPU seconds (user + system) per
	// 1,000 operations in the window. Null when unknown (a server given by
	// URL without --pid).
	RSSMB      *float64 `json:"rss_mb"`
	RSSStartMB *float64 `json:"rss_start_mb"`
	RSSEndMB   *float64 `json:"rss_end_mb"`
	CPUSPer1k  *float64 `json:"cpu_s_per_1k"`
	// SharedProcess is true when the server ran in this process: its CPU
	// time and memory include the load generator's.
	SharedProcess bool `json:"shared_process"`
	// ServerErrorsLogged counts the in-process server's error log lines.
	ServerErrorsLogged int           `json:"server_errors_logged"`
	Webhooks           *WebhookStats `json:"webhooks,omitempty"`
	Interrupted        bool          `json:"interrupted,omitempty"`
}

// Failed is the number of failed operations, the baseline's included.
func (r *Result) Failed() uint64 {
	n := r.Measurement.Failed()
	if r.Baseline != nil {
		n += r.Baseline.Failed()
	}
	return n
}

func (c *Config) defaults() error {
	if c.Scenario == "" {
		c.Scenario = "create-confirm"
	}
	if c.Connections == 0 {
		c.Connections = 16
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	switch {
	case c.Connections < 1:
		return errors.New("connections must be at least 1")
	case c.Duration < 0 || c.Warmup < 0:
		return errors.New("duration and warmup cannot be negative")
	case c.Rate < 0:
		return errors.New("rate cannot be negative")
	case c.URL == "" && c.Run == nil:
		return errors.New("bench: Config.Run is required to start a server in-process")
	case c.URL != "" && c.Key == "":
		return errors.New("--url needs --key, a secret key of the server's merchant")
	case c.URL == "" && c.Key != "":
		return errors.New("--key goes with --url; without --url bench makes its own merchant")
	case c.URL != "" && c.Baseline && c.Database == "":
		return errors.New("--baseline with --url needs --database, the server's database, for the baseline's tables")
	case c.PID != 0 && c.URL == "":
		return errors.New("--pid goes with --url; the in-process server is this process")
	}
	return nil
}

// Run performs one bench run and returns its report. The error is for a
// run that could not be made; failed requests are in the report (see
// Result.Failed).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var idb [4]byte
	rand.Read(idb[:])
	runID := hex.EncodeToString(idb[:])
	sc, err := newScenario(cfg.Scenario, runID)
	if err != nil {
		return nil, err
	}
	res := &Result{Scenario: cfg.Scenario, Unit: sc.unit(), Target: cfg.URL, Connections: cfg.Connections,
		Rate: cfg.Rate, DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds()}

	var db *database
	if cfg.URL == "" || cfg.Baseline {
		if db, err = freshDatabase(ctx, cfg.Database); err != nil {
			return nil, err
		}
		defer db.cleanup()
		res.Database, res.DatabaseURL = string(db.dialect), db.display
	}

	var srv *server
	tgt := newTarget("tender", cfg.URL, cfg.Key, cfg.Connections)
	if cfg.URL == "" {
		res.Target, res.SharedProcess = "in-process", true
		srv, err = startServer(ctx, cfg.Run, serverEnv(cfg.Getenv, db))
		if err != nil {
			return nil, err
		}
		stopped := false
		stop := func() error {
			if stopped {
				return nil
			}
			stopped = true
			return srv.stop()
		}
		defer stop()
		tgt = newTarget("tender", srv.url, srv.key, cfg.Connections)
		defer tgt.close()
		if err := measure(ctx, &cfg, sc, tgt, res, srv); err != nil {
			return nil, err
		}
		res.ServerErrorsLogged = srv.logs.errorCount()
		// The baseline gets the machine to itself.
		if err := stop(); err != nil {
			return nil, err
		}
	} else {
		defer tgt.close()
		if err := measure(ctx, &cfg, sc, tgt, res, nil); err != nil {
			return nil, err
		}
	}

	if cfg.Baseline && ctx.Err() == nil {
		if _, ok := sc.(*webhooks); !ok {
			if err := measureBaseline(ctx, &cfg, db, runID, res); err != nil {
				return nil, err
			}
		}
	}
	res.Interrupted = ctx.Err() != nil
	return res, nil
}

// measure runs the scenario against Tender and fills res.
func measure(ctx context.Context, cfg *Config, sc scenario, tgt *target, res *Result, srv *server) error {
	if err := sc.setup(ctx, tgt); err != nil {
		return err
	}
	if wh, ok := sc.(*webhooks); ok {
		defer wh.recv.close()
	}
	readUsage := func() (usage, bool) {
		if srv != nil {
			u := selfUsage()
			return u, u.ok
		}
		if cfg.PID != 0 {
			u, err := pidUsage(cfg.PID)
			return u, err == nil
		}
		return usage{}, false
	}
	var before usage
	var haveBefore bool
	var profiling bool
	var profErr error
	var mu sync.Mutex
	onWindow := func() {
		mu.Lock()
		defer mu.Unlock()
		before, haveBefore = readUsage()
		if cfg.CPUProfile != "" {
			f, err := os.Create(cfg.CPUProfile)
			if err == nil {
				err = pprof.StartCPUProfile(f)
			}
			profErr = err
			profiling = err == nil
		}
	}
	live := &liveCounts{}
	stopProgress := progress(cfg, "tender", live)
	lr := runLoad(ctx, spec(cfg), func() opFunc { return sc.newOp(tgt) }, live, onWindow)
	if wh, ok := sc.(*webhooks); ok {
		// Deliveries lag the payments: wait for them (up to a limit) and
		// count the ones that never came.
		drain := max(30*time.Second, 2*cfg.Duration)
		missing := wh.track.wait(ctx, lr.Start, lr.End, drain)
		lat, inWindow, dups := wh.track.results(lr.Start, lr.End)
		m := measurement(lr, cfg.Duration)
		res.Webhooks = &WebhookStats{Payments: m.Requests, PaymentThroughput: m.Throughput, RequestP99: m.P99, Duplicates: dups}
		errs := lr.Errors
		if missing > 0 {
			errs["undelivered"] += uint64(missing)
		}
		lr = &loadResult{Latency: lat, OK: inWindow, Errors: errs, Unsent: lr.Unsent, Start: lr.Start, End: lr.End}
		res.Measurement = measurement(lr, cfg.Duration)
		res.Requests = lat.Count() + uint64(missing)
	} else {
		res.Measurement = measurement(lr, cfg.Duration)
	}
	stopProgress()
	mu.Lock()
	defer mu.Unlock()
	if profiling {
		pprof.StopCPUProfile()
	}
	if profErr != nil {
		return fmt.Errorf("cpu profile: %w", profErr)
	}
	if after, ok := readUsage(); ok && haveBefore {
		mb := func(kb int64) *float64 { v := float64(kb) / 1024; return &v }
		if after.hwmKB > 0 {
			res.RSSMB, res.RSSStartMB, res.RSSEndMB = mb(after.hwmKB), mb(before.rssKB), mb(after.rssKB)
		}
		ops := res.Requests
		if res.Webhooks != nil {
			ops = res.Webhooks.Payments
		}
		if ops > 0 {
			v := (after.cpu - before.cpu).Seconds() / float64(ops) * 1000
			res.CPUSPer1k = &v
		}
	}
	return nil
}

// measureBaseline runs the same scenario against the bare handler on the
// same database and adds its figures to res.
func measureBaseline(ctx context.Context, cfg *Config, db *database, runID string, res *Result) error {
	key := "sk_test_baseline_" + runID
	bl, err := startBaseline(ctx, db.dialect, db.url, key)
	if err != nil {
		return err
	}
	defer bl.close()
	sc, err := newScenario(cfg.Scenario, runID)
	if err != nil {
		return err
	}
	tgt := newTarget("baseline", bl.url, key, cfg.Connections)
	defer tgt.close()
	if err := sc.setup(ctx, tgt); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	live := &liveCounts{}
	stopProgress := progress(cfg, "baseline", live)
	lr := runLoad(ctx, spec(cfg), func() opFunc { return sc.newOp(tgt) }, live, nil)
	stopProgress()
	m := measurement(lr, cfg.Duration)
	res.Baseline = &m
	bt := m.Throughput
	res.BaselineThroughput = &bt
	if bt > 0 {
		ratio := res.Throughput / bt
		res.Ratio = &ratio
	}
	return nil
}

func spec(cfg *Config) loadSpec {
	return loadSpec{Connections: cfg.Connections, Rate: cfg.Rate, Warmup: cfg.Warmup, Duration: cfg.Duration,
		Drain: max(5*time.Second, cfg.Duration)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// measurement summarizes a load result over the nominal window (or the
// part of it that ran, if the run was interrupted).
func measurement(lr *loadResult, window time.Duration) Measurement {
	if !lr.Done.IsZero() && lr.Done.Before(lr.End) {
		window = max(lr.Done.Sub(lr.Start), time.Millisecond)
	}
	h := &lr.Latency
	return Measurement{
		Requests:   lr.OK + lr.Failed(),
		Throughput: float64(lr.OK) / window.Seconds(),
		P50:        ms(h.Quantile(0.50)),
		P90:        ms(h.Quantile(0.90)),
		P99:        ms(h.Quantile(0.99)),
		Max:        ms(h.Max()),
		Mean:       ms(h.Mean()),
		Errors:     lr.Errors,
		Unsent:     lr.Unsent,
	}
}

// progress prints a line a second while a run goes on; the returned
// function stops it.
func progress(cfg *Config, label string, live *liveCounts) func() {
	if cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last uint64
		for {
			select {
			case <-done:
				if cfg.InPlace {
					fmt.Fprint(cfg.Progress, "\r\033[K")
				}
				return
			case <-tick.C:
			}
			n := live.done.Load()
			phase := "warmup"
			if live.measuring.Load() {
				phase = "measuring"
			}
			line := fmt.Sprintf("%s %s %s: %3.0fs  %8.0f/s  %d done  %d failed",
				label, cfg.Scenario, phase, time.Since(start).Seconds(), float64(n-last), n, live.failed.Load())
			last = n
			if cfg.InPlace {
				fmt.Fprint(cfg.Progress, "\r\033[K"+line)
			} else {
				fmt.Fprintln(cfg.Progress, line)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
