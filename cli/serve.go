package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenderhq/tender/api"
	"github.com/tenderhq/tender/ratelimit"
	"github.com/tenderhq/tender/sqlstore"
	"github.com/tenderhq/tender/vault"
)

// config is Tender's configuration, from the environment and flags.
type config struct {
	addr             string
	databaseURL      string
	masterKey        string
	previousKeys     string
	redisURL         string
	rateLimit        int
	paymentRateLimit int
	logFormat        string
	logLevel         string
	publicURL        string
	recoverAfter     time.Duration
	recoveryInterval time.Duration
	fault            string
	webhookBackoff   []time.Duration
	webhookPrivate   bool
	webhookTimeout   time.Duration
	stripeAPIURL     string
	providerTimeout  time.Duration
	internalSecret   string
}

func loadConfig(env envFunc) (config, error) {
	c := config{
		addr:         env.get("TENDER_ADDR", "127.0.0.1:8080"),
		databaseURL:  env.get("TENDER_DATABASE_URL", "tender.db"),
		masterKey:    env.get("TENDER_MASTER_KEY", ""),
		previousKeys: env.get("TENDER_MASTER_KEY_PREVIOUS", ""),
		redisURL:     env.get("TENDER_REDIS_URL", ""),
		logFormat:    env.get("TENDER_LOG_FORMAT", "json"),
		logLevel:     env.get("TENDER_LOG_LEVEL", "info"),
	}
	var err error
	if c.rateLimit, err = envInt(env, "TENDER_RATE_LIMIT", 1000); err != nil {
		return c, err
	}
	if c.paymentRateLimit, err = envInt(env, "TENDER_RATE_LIMIT_PAYMENTS", 100); err != nil {
		return c, err
	}
	c.publicURL = strings.TrimRight(env.get("TENDER_PUBLIC_URL", ""), "/")
	if c.recoverAfter, err = envDuration(env, "TENDER_RECOVER_AFTER", 30*time.Second); err != nil {
		return c, err
	}
	if c.recoveryInterval, err = envDuration(env, "TENDER_RECOVERY_INTERVAL", 5*time.Second); err != nil {
		return c, err
	}
	c.fault = env.get("TENDER_FAULT", "")
	c.stripeAPIURL = env.get("TENDER_STRIPE_API_URL", "")
	if c.providerTimeout, err = envDuration(env, "TENDER_PROVIDER_TIMEOUT", 20*time.Second); err != nil {
		return c, err
	}
	c.internalSecret = env.get("TENDER_INTERNAL_SECRET", "")
	if v := env.get("TENDER_WEBHOOK_BACKOFF", ""); v != "" {
		for _, part := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || d <= 0 {
				return c, fmt.Errorf("TENDER_WEBHOOK_BACKOFF must be a comma-separated list of positive durations such as 1s,2s,4s, not %q", v)
			}
			c.webhookBackoff = append(c.webhookBackoff, d)
		}
	}
	if c.webhookTimeout, err = envDuration(env, "TENDER_WEBHOOK_TIMEOUT", 10*time.Second); err != nil {
		return c, err
	}
	switch v := env.get("TENDER_WEBHOOK_ALLOW_PRIVATE", "false"); v {
	case "true", "1":
		c.webhookPrivate = true
	case "false", "0":
	default:
		return c, fmt.Errorf("TENDER_WEBHOOK_ALLOW_PRIVATE must be true or false, not %q", v)
	}
	if c.logFormat != "json" && c.logFormat != "text" {
		return c, fmt.Errorf("TENDER_LOG_FORMAT must be json or text, not %q", c.logFormat)
	}
	if _, err := parseLevel(c.logLevel); err != nil {
		return c, err
	}
	return c, nil
}

func envInt(env envFunc, name string, def int) (int, error) {
	v := env.get(name, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a whole number ≥ 0 (0 disables), not %q", name, v)
	}
	return n, nil
}

func envDuration(env envFunc, name string, def time.Duration) (time.Duration, error) {
	v := env.get(name, "")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s must be a positive duration such as 30s, not %q", name, v)
	}
	return d, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("TENDER_LOG_LEVEL must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}

func newLogger(c config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.logLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.logFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// openStore connects to the configured database and migrates it.
func openStore(ctx context.Context, c config, log *slog.Logger) (*sqlstore.DB, error) {
	db, err := sqlstore.Open(ctx, c.databaseURL, sqlstore.Options{})
	if err != nil {
		return nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("database migrated", "applied", applied)
	}
	return db, nil
}

// keyring loads the master key: TENDER_MASTER_KEY, or on SQLite a key file
// beside the database, made on first start. On PostgreSQL a key file would
// differ between instances, so the variable is required. Keys listed in
// TENDER_MASTER_KEY_PREVIOUS still open what they sealed (during a rotation).
func keyring(c config, db *sqlstore.DB, log *slog.Logger) (*vault.Keyring, error) {
	current, err := masterKey(c, db, log)
	if err != nil {
		return nil, err
	}
	older, err := previousKeys(c)
	if err != nil {
		return nil, err
	}
	return vault.New(current, older...)
}

func previousKeys(c config) ([][]byte, error) {
	var out [][]byte
	for _, s := range strings.Split(c.previousKeys, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		k, err := vault.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("TENDER_MASTER_KEY_PREVIOUS: %w", err)
		}
		out = append(out, k)
	}
	return out, nil
}

// keyFilePath is where the generated master key lives on SQLite.
func keyFilePath(db *sqlstore.DB) string {
	return strings.TrimSuffix(db.SQLitePath(), filepath.Ext(db.SQLitePath())) + ".key"
}

func masterKey(c config, db *sqlstore.DB, log *slog.Logger) ([]byte, error) {
	if c.masterKey != "" {
		key, err := vault.ParseKey(c.masterKey)
		if err != nil {
			return nil, fmt.Errorf("TENDER_MASTER_KEY: %w", err)
		}
		return key, nil
	}
	if db.Dialect() != sqlstore.SQLite {
		return nil, errors.New("TENDER_MASTER_KEY is required with PostgreSQL (every instance must share it); make one with: openssl rand -base64 32")
	}
	path := keyFilePath(db)
	key, created, err := vault.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	if created {
		log.Warn("TENDER_MASTER_KEY is not set: created a master key file beside the database; back it up, or secrets stored with it are lost", "path", path)
	} else {
		log.Warn("TENDER_MASTER_KEY is not set: using the master key file beside the database", "path", path)
	}
	return key, nil
}

func newLimiter(ctx context.Context, c config) (ratelimit.Limiter, func(), error) {
	if c.redisURL == "" {
		m := ratelimit.NewMemory()
		return m, func() {}, nil
	}
	opt, err := redis.ParseURL(c.redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("TENDER_REDIS_URL: %w", err)
	}
	// Fail fast: the limiter fails open, so a slow Redis must not hold
	// every request for go-redis's default retries.
	opt.MaxRetries = 1
	opt.DialTimeout = 500 * time.Millisecond
	opt.ReadTimeout = 300 * time.Millisecond
	opt.WriteTimeout = 300 * time.Millisecond
	client := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("connect to Redis at TENDER_REDIS_URL: %w", err)
	}
	return ratelimit.NewRedis(client, "tender:ratelimit:"), func() { client.Close() }, nil
}

func cmdServe(ctx context.Context, args []string, env envFunc, stdout, stderr io.Writer, dev bool) error {
	name, synopsis := "serve", "serve [--addr HOST:PORT]"
	if dev {
		name, synopsis = "dev", "dev [--addr HOST:PORT]"
	}
	fs := newFlags(name, synopsis, stderr)
	addr := fs.String("addr", env.get("TENDER_ADDR", "127.0.0.1:8080"), "address to listen on (TENDER_ADDR)")
	pprof := fs.Bool("pprof", env.get("TENDER_PPROF", "") == "true", "serve Go's profiler at /debug/pprof/ (TENDER_PPROF=true); keep it off in production")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments", name)}
	}
	if dev && env.get("TENDER_LOG_FORMAT", "") == "" {
		env = overlay(env, "TENDER_LOG_FORMAT", "text")
	}
	c, err := loadConfig(env)
	if err != nil {
		return err
	}
	c.addr = *addr
	log := newLogger(c, stderr)

	db, err := openStore(ctx, c, log)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := keyring(c, db, log)
	if err != nil {
		return err
	}
	limiter, closeLimiter, err := newLimiter(ctx, c)
	if err != nil {
		return err
	}
	defer closeLimiter()

	if dev {
		if err := devMerchant(ctx, db, stdout, c.addr); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	publicURL := c.publicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	a := newApp(c, db, keys, log, publicURL)
	srv := api.New(api.Config{
		Store:                  db,
		Payments:               db,
		Engine:                 a.engine,
		Webhooks:               a.webhooks,
		WebhookStore:           db,
		Inbound:                db,
		Logger:                 log,
		Limiter:                limiter,
		RateLimit:              c.rateLimit,
		PaymentRateLimit:       c.paymentRateLimit,
		IdempotencyLockTimeout: c.recoverAfter,
		Version:                version(),
	})
	a.mount(srv)
	if *pprof {
		mountPprof(srv)
		log.Warn("profiler enabled at /debug/pprof/")
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	done := a.start(bg)
	defer func() {
		stopBackground()
		<-done
	}()
	log.Info("listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String(),
		"database", db.Kind(), "version", version(), "redis", c.redisURL != "")
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// overlay returns env with one variable set.
func overlay(env envFunc, name, value string) envFunc {
	return func(k string) string {
		if k == name {
			return value
		}
		return env(k)
	}
}

func cmdMigrate(ctx context.Context, args []string, env envFunc, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", "migrate", stderr)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return helpOK(err)
	}
	c, err := loadConfig(env)
	if err != nil {
		return err
	}
	db, err := sqlstore.Open(ctx, c.databaseURL, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s database is up to date\n", db.Kind())
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "applied", m)
	}
	return nil
}

// mountPprof serves Go's profiler, for finding where time goes under load.
func mountPprof(srv *api.Server) {
	srv.HandleHTTP("GET /debug/pprof/", http.HandlerFunc(httppprof.Index))
	srv.HandleHTTP("GET /debug/pprof/cmdline", http.HandlerFunc(httppprof.Cmdline))
	srv.HandleHTTP("GET /debug/pprof/profile", http.HandlerFunc(httppprof.Profile))
	srv.HandleHTTP("GET /debug/pprof/symbol", http.HandlerFunc(httppprof.Symbol))
	srv.HandleHTTP("GET /debug/pprof/trace", http.HandlerFunc(httppprof.Trace))
}
