package cli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/api"
	"github.com/tenderhq/tender/api/simple"
	"github.com/tenderhq/tender/api/storefront"
	"github.com/tenderhq/tender/engine"
	"github.com/tenderhq/tender/provider/manual"
	"github.com/tenderhq/tender/provider/sandbox"
	"github.com/tenderhq/tender/provider/stripe"
	"github.com/tenderhq/tender/sqlstore"
	"github.com/tenderhq/tender/vault"
	"github.com/tenderhq/tender/web"
	"github.com/tenderhq/tender/webhook"
)

// app is Tender wired together: the engine, the providers and the
// background workers, around one store.
type app struct {
	cfg       config
	log       *slog.Logger
	engine    *engine.Engine
	providers *tender.Registry
	sandbox   *sandbox.Sandbox
	webhooks  *webhook.Service
	// db, keys and publicURL serve the hosted pages (web.Register).
	db        *sqlstore.DB
	keys      *vault.Keyring
	publicURL string
}

func newApp(c config, db *sqlstore.DB, keys *vault.Keyring, log *slog.Logger, publicURL string) *app {
	a := &app{cfg: c, log: log, providers: tender.NewRegistry()}
	a.db, a.keys, a.publicURL = db, keys, publicURL
	a.engine = engine.New(engine.Config{
		Store:           db,
		Providers:       a.providers,
		Keyring:         keys,
		Logger:          log,
		RecoverAfter:    c.recoverAfter,
		ProviderTimeout: c.providerTimeout,
		Fault:           faultInjector(c.fault, log),
		PublicURL:       publicURL,
	})
	a.sandbox = sandbox.New(db, sandbox.Options{
		BaseURL: publicURL,
		Notify: func(ctx context.Context, ev tender.ProviderEvent) error {
			_, err := a.engine.ApplyProviderEvent(ctx, ev)
			return err
		},
		Logger: log,
	})
	a.webhooks = webhook.New(webhook.Config{
		Store:        db,
		Keyring:      keys,
		Logger:       log,
		Schedule:     c.webhookBackoff,
		AllowPrivate: c.webhookPrivate,
		Timeout:      c.webhookTimeout,
		UserAgent:    "Tender/" + version(),
	})
	a.providers.Register(a.sandbox)
	a.providers.Register(manual.New())
	a.providers.Register(stripe.New(stripe.Options{APIURL: c.stripeAPIURL, Logger: log, Ledger: db}))
	return a
}

// mount adds the other faces and the providers' own pages to the server.
func (a *app) mount(srv *api.Server) {
	registerFaces(srv)
	h := a.sandbox.Handler()
	srv.HandleHTTP("GET /sandbox/3ds/{ref}", h)
	srv.HandleHTTP("POST /sandbox/3ds/{ref}", h)
	web.Register(srv, web.Config{
		Links:          a.db,
		MAC:            a.keys.MAC,
		PublicURL:      a.publicURL,
		InternalSecret: a.cfg.internalSecret,
		CreateStore: func(ctx context.Context, name string) (any, error) {
			return createMerchant(ctx, a.db, name, true)
		},
		Logger: a.log,
	})
}

// start runs the background workers until ctx ends; the returned channel
// closes when they have stopped.
func (a *app) start(ctx context.Context) <-chan struct{} {
	var wg sync.WaitGroup
	wg.Go(func() { a.engine.Run(ctx, a.cfg.recoveryInterval) })
	wg.Go(func() { a.sandbox.Run(ctx) })
	wg.Go(func() { a.webhooks.Run(ctx) })
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

// faultInjector makes the process stop dead at a named point, for the
// crash tests (TENDER_FAULT=after-authorize). It is never set in production.
func faultInjector(point string, log *slog.Logger) func(string) {
	if point == "" {
		return nil
	}
	log.Warn("TENDER_FAULT is set: this process will hang at a fault point (testing only)", "point", point)
	return func(p string) {
		if p == point {
			log.Error("fault injected: hanging", "point", p)
			select {}
		}
	}
}

// registerFaces adds the API faces beside the canonical one.
func registerFaces(srv *api.Server) {
	simple.Register(srv)
	storefront.Register(srv)
}

// RouteTable lists every API route a server has, for the tests that walk
// all of them (isolation, authentication, scopes). It wires a whole app on
// a scratch database, exactly as serve does.
func RouteTable() ([]api.RouteInfo, error) {
	dir, err := os.MkdirTemp("", "tender-routes")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(dir, "routes.db"), sqlstore.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	keys, err := vault.New(vault.NewKey())
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	c, err := loadConfig(envFunc(func(string) string { return "" }))
	if err != nil {
		return nil, err
	}
	a := newApp(c, db, keys, log, "http://127.0.0.1")
	srv := api.New(api.Config{Store: db, Payments: db, Engine: a.engine, Webhooks: a.webhooks, WebhookStore: db, Inbound: db, Logger: log})
	a.mount(srv)
	return srv.Routes(), nil
}
