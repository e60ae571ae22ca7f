// Package web is Tender's hosted pages: the Stripe connection form of seed
// 002 (with its status endpoints and internal API) and the hosted checkout
// page of a checkout session. Pages are rendered on the server with
// html/template; their only assets are a style sheet and two small scripts
// embedded in the binary. No page runs inline script or inline style, every
// page forbids framing, and every form carries a CSRF token: a stateless
// HMAC, under a key derived from the master key, of the page's subject and
// an expiry.
package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/api"
	"github.com/tenderhq/tender/engine"
)

// Config is what the hosted pages need beside the API server.
type Config struct {
	// Links keeps connect links (sqlstore.DB implements it). Required.
	Links tender.ConnectLinkStore
	// MAC is the keyring's keyed hash (vault.Keyring.MAC): it signs connect
	// links, CSRF tokens and success links, each under its own purpose.
	// Required.
	MAC func(purpose string, data []byte) []byte
	// PublicURL is where shoppers and merchants reach Tender
	// (TENDER_PUBLIC_URL), without a trailing slash. Required.
	PublicURL string
	// InternalSecret enables the internal API (X-Internal-Secret). Empty
	// disables it: its routes answer 404, as unknown routes do.
	InternalSecret string
	// CreateStore makes a merchant with its API keys and returns what
	// `tender merchants create --json` prints (the keys, shown once), for
	// POST /api/internal/stores. Nil answers that route 404.
	CreateStore func(ctx context.Context, name string) (any, error)
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// MAC purposes: each signature is good for one thing only.
const (
	purposeCSRF        = "web/csrf"
	purposeConnectLink = "web/connect_link"
	purposeSuccess     = "web/connect_success"
)

// Lifetimes.
const (
	csrfTTL            = 2 * time.Hour
	defaultLinkTTL     = time.Hour
	maxLinkTTL         = 7 * 24 * time.Hour
	maxRedirectHosts   = 20
	stripeJS           = "https://js.stripe.com/v3/"
	confirmRefreshSecs = 2
)

type handler struct {
	srv    *api.Server
	eng    *engine.Engine
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	public *url.URL
}

// Register adds the hosted pages, their assets, the connect link API and
// the internal API to the server.
func Register(srv *api.Server, cfg Config) {
	if cfg.Links == nil || cfg.MAC == nil || cfg.PublicURL == "" {
		panic("web: Config needs Links, MAC and PublicURL")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	pu, err := url.Parse(cfg.PublicURL)
	if err != nil || pu.Host == "" {
		panic("web: PublicURL must be an absolute URL: " + cfg.PublicURL)
	}
	h := &handler{srv: srv, eng: srv.Engine(), cfg: cfg, log: cfg.Logger, now: cfg.Now, public: pu}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	page := api.Route{Public: true}

	srv.HandleHTTP("GET /static/{file}", http.HandlerFunc(serveAsset))

	srv.Handle("GET /stripe/connect", page, h.connectForm)
	srv.Handle("POST /stripe/connect", page, h.connectSubmit)
	srv.Handle("GET /stripe/success/{store_id}", page, h.connectSuccess)
	srv.Handle("GET /stripe/status/{store_id}", page, h.stripeStatus)
	srv.Handle("POST /v1/connect_links", api.Route{Scope: tender.ScopeMerchantWrite}, h.createConnectLink)
	// The internal API answers every method and path under its prefix
	// itself, so that without the secret nothing distinguishes it from a
	// route that does not exist (not even a 405).
	srv.Handle("/api/internal/", page, h.internal)

	srv.Handle("GET /checkout/{session_id}", page, h.checkoutPage)
	srv.Handle("POST /checkout/{session_id}", page, h.checkoutSubmit)
}

// ---- assets ----

//go:embed templates/*.html static/*
var files embed.FS

var assetTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
}

// assetVersion is a short hash of each asset, appended to its URL so that
// a new build's assets are never served from an old cache.
var assetVersion = func() map[string]string {
	out := map[string]string{}
	entries, _ := fs.ReadDir(files, "static")
	for _, e := range entries {
		b, _ := fs.ReadFile(files, "static/"+e.Name())
		sum := sha256.Sum256(b)
		out[e.Name()] = base64.RawURLEncoding.EncodeToString(sum[:6])
	}
	return out
}()

func assetURL(name string) string { return "/static/" + name + "?v=" + assetVersion[name] }

func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	ctype, ok := assetTypes[path.Ext(name)]
	b, err := fs.ReadFile(files, "static/"+name)
	if !ok || err != nil || strings.ContainsAny(name, "/\\") {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// ---- templates ----

var funcs = template.FuncMap{"asset": assetURL, "fieldData": fieldData}

// fieldArgs are what a form field's template needs.
type fieldArgs struct {
	ID, Label, Hint, Value, Error, Type string
	Required                            bool
}

func fieldData(id, label, hint, value, err, typ string, required bool) fieldArgs {
	return fieldArgs{ID: id, Label: label, Hint: hint, Value: value, Error: err, Type: typ, Required: required}
}

// pages are parsed once: each page with the shared layout.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"connect", "connect_success", "checkout", "message"} {
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials.html", "templates/"+name+".html"))
		out[name] = t
	}
	return out
}()

// layout is what every page's layout needs.
type layout struct {
	Title    string
	TestMode bool
	// Scripts are extra script URLs (self or Stripe.js).
	Scripts []string
	// Refresh, if > 0, reloads the page after that many seconds (a
	// payment being confirmed).
	Refresh int
	// RefreshURL, if set, moves on to this URL at once.
	RefreshURL string
}

// csp describes a page's Content-Security-Policy beyond the defaults.
type csp struct {
	// formTargets are origins a form may post (or be redirected) to,
	// beside 'self'.
	formTargets []string
	// stripe allows Stripe.js and its frames.
	stripe bool
	// noForms forbids forms altogether.
	noForms bool
}

func (c csp) String() string {
	script := "'self'"
	frame, connect, img := "'none'", "'none'", "'self'"
	if c.stripe {
		script += " https://js.stripe.com https://*.js.stripe.com"
		frame = "https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com"
		connect = "https://api.stripe.com"
		img += " https://*.stripe.com"
	}
	form := "'self'"
	for _, o := range c.formTargets {
		form += " " + o
	}
	if c.noForms {
		form = "'none'"
	}
	return "default-src 'none'; script-src " + script + "; style-src 'self'; img-src " + img +
		"; font-src 'self'; connect-src " + connect + "; frame-src " + frame + "; form-action " + form +
		"; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
}

// securityHeaders sets the headers every page carries.
func securityHeaders(w http.ResponseWriter, policy csp) {
	h := w.Header()
	h.Set("Content-Security-Policy", policy.String())
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// Pages' URLs are capabilities (a link token, a checkout session):
	// never send them to another origin. Same-origin requests keep their
	// Origin header, which the forms' POSTs are checked against.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

// render writes a page. A template failure is a bug: it is logged and
// answered with a plain error page, never a stack trace.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, policy csp, data any) {
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout.html", data); err != nil {
		h.log.ErrorContext(r.Context(), "web: render page", "page", name, "request_id", api.RequestID(r.Context()), "err", err)
		securityHeaders(w, csp{noForms: true})
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("Something went wrong. Please try again in a moment.\n"))
		return
	}
	securityHeaders(w, policy)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// messageView is a page with a heading, a message and optional links.
type messageView struct {
	layout
	Heading string
	Message string
	// Detail is a second paragraph (payment instructions, a reference).
	Detail    string
	Reference string
	Summary   *orderSummary
	Links     []link
}

type link struct {
	Text, URL string
	Primary   bool
}

func (h *handler) message(w http.ResponseWriter, r *http.Request, status int, v messageView) {
	if v.Title == "" {
		v.Title = v.Heading
	}
	h.render(w, r, status, "message", csp{noForms: true}, v)
}

// ---- signatures and CSRF ----

func (h *handler) sign(purpose string, parts ...string) string {
	return base64.RawURLEncoding.EncodeToString(h.cfg.MAC(purpose, []byte(strings.Join(parts, "\x00"))))
}

func (h *handler) verify(sig, purpose string, parts ...string) bool {
	want := h.sign(purpose, parts...)
	return hmac.Equal([]byte(want), []byte(sig))
}

// csrfToken is "expiry.signature" over the page's subject and the expiry.
func (h *handler) csrfToken(subject string) string {
	exp := strconv.FormatInt(h.now().Add(csrfTTL).Unix(), 10)
	return exp + "." + h.sign(purposeCSRF, subject, exp)
}

func (h *handler) csrfOK(subject, token string) bool {
	exp, sig, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || h.now().Unix() > n {
		return false
	}
	return h.verify(sig, purposeCSRF, subject, exp)
}

// sameOrigin refuses a POST whose Origin header names another site. A
// browser sends Origin with every form POST; the CSRF token is the main
// defence, this is a second one.
func (h *handler) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, h.public.Host) || strings.EqualFold(u.Host, r.Host)
}

// ---- helpers ----

// formatAmount shows an amount as "20.00 USD".
func formatAmount(minor int64, c tender.Currency) string {
	return tender.FormatDecimal(minor, c) + " " + c.Upper()
}

// safeURL parses a URL Tender may send a browser to: absolute http(s),
// with a host that is safe to write into a CSP source as it is, and no
// credentials.
func safeURL(raw string) (*url.URL, bool) {
	if raw == "" || len(raw) > 2048 {
		return nil, false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return nil, false
	}
	for i := 0; i < len(u.Host); i++ {
		c := u.Host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return nil, false
		}
	}
	return u, true
}

func origin(u *url.URL) string { return u.Scheme + "://" + strings.ToLower(u.Host) }

// routeMissing is the server's answer to a route that does not exist.
func routeMissing(r *http.Request) error {
	return tender.InvalidRequest(tender.CodeResourceMissing, "Unrecognized request URL (%s: %s).", r.Method, r.URL.Path)
}

func ptr[T any](v T) *T { return &v }
