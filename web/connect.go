package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/api"
	"github.com/tenderhq/tender/engine"
)

// Seed 002's Stripe connection: a merchant enters their Stripe keys on
// Tender's page. Unlike the seed's form, which anyone knowing a store id
// could fill in, Tender's page needs a connect link: made by the merchant
// (POST /v1/connect_links, with a secret key) or by a platform (the
// internal API). A link's token is "<id>.<expiry>.<signature>": the
// signature is an HMAC, under a key derived from the master key, of the
// id, the store and the expiry, so a token cannot be forged, moved to
// another store or extended; the expiry is checked before the database is
// read; and the link's row records its mode, the hosts its return_url may
// point to, and when it was used: a link works once.

// stripeProvider is the provider key of Stripe.
const stripeProvider = "stripe"

// ---- connect links ----

type linkParams struct {
	ReturnURL            string   `param:"return_url"`
	AllowedRedirectHosts []string `param:"allowed_redirect_hosts"`
	ExpiresIn            *int64   `param:"expires_in"`
}

type internalLinkParams struct {
	linkParams
	Mode string `param:"mode"`
}

// linkJSON is a connect link as the API answers it.
type linkJSON struct {
	Object               string   `json:"object"`
	ID                   string   `json:"id"`
	URL                  string   `json:"url"`
	ExpiresAt            int64    `json:"expires_at"`
	Created              int64    `json:"created"`
	StoreID              string   `json:"store_id"`
	Mode                 *string  `json:"mode"`
	AllowedRedirectHosts []string `json:"allowed_redirect_hosts"`
	ReturnURL            *string  `json:"return_url"`
}

// createConnectLink is POST /v1/connect_links: a merchant's link for its
// own store, in its key's mode. A test key can only make links that accept
// test keys: whoever holds one must not be able to send the store's live
// payments to another Stripe account.
func (h *handler) createConnectLink(w http.ResponseWriter, r *http.Request) error {
	var p linkParams
	if err := api.Decode(r, &p); err != nil {
		return err
	}
	t := api.Tenant(r)
	mode := "test"
	if t.Livemode {
		mode = "live"
	}
	l, err := h.newLink(r.Context(), t.MerchantID, mode, p)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, h.linkJSON(l))
	return nil
}

// newLink validates a link's parameters and stores it.
func (h *handler) newLink(ctx context.Context, merchantID, mode string, p linkParams) (*tender.ConnectLink, error) {
	now := h.now().UTC().Truncate(time.Second)
	ttl := defaultLinkTTL
	if p.ExpiresIn != nil {
		if *p.ExpiresIn < 1 || *p.ExpiresIn > int64(maxLinkTTL/time.Second) {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, "expires_in", "expires_in must be between 1 and %d seconds.", int64(maxLinkTTL/time.Second))
		}
		ttl = time.Duration(*p.ExpiresIn) * time.Second
	}
	l := &tender.ConnectLink{ID: tender.NewID(tender.PrefixConnectLink), MerchantID: merchantID, Mode: mode,
		AllowedRedirectHosts: []string{}, ExpiresAt: now.Add(ttl), Created: now}
	if len(p.AllowedRedirectHosts) > maxRedirectHosts {
		return nil, tender.InvalidParam(tender.CodeParameterInvalid, "allowed_redirect_hosts", "A link can allow at most %d redirect hosts.", maxRedirectHosts)
	}
	for i, raw := range p.AllowedRedirectHosts {
		host, ok := normalizeHost(raw)
		if !ok {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, "allowed_redirect_hosts["+strconv.Itoa(i)+"]",
				"Each allowed redirect host must be a host name or host:port, such as shop.example.com, without a scheme or path.")
		}
		l.AllowedRedirectHosts = append(l.AllowedRedirectHosts, host)
	}
	if p.ReturnURL != "" {
		u, ok := safeURL(p.ReturnURL)
		if !ok {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, "return_url", "return_url must be an absolute http(s) URL of at most 2048 characters.")
		}
		if len(l.AllowedRedirectHosts) == 0 {
			l.AllowedRedirectHosts = []string{strings.ToLower(u.Host)}
		} else if !hostAllowed(u, l.AllowedRedirectHosts) {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, "return_url", "return_url's host %s is not among allowed_redirect_hosts.", u.Host)
		}
		l.ReturnURL = u.String()
	}
	if _, err := h.srv.Store().Merchant(ctx, merchantID); err != nil {
		if errors.Is(err, tender.ErrNotFound) {
			return nil, tender.NotFound("store", merchantID)
		}
		return nil, err
	}
	if err := h.cfg.Links.InsertConnectLink(ctx, l); err != nil {
		if errors.Is(err, tender.ErrNotFound) {
			return nil, tender.NotFound("store", merchantID)
		}
		return nil, err
	}
	// Expired links are refused by their token alone: their rows can go.
	if _, err := h.cfg.Links.PurgeConnectLinks(ctx, now); err != nil {
		h.log.WarnContext(ctx, "web: purge expired connect links", "err", err)
	}
	return l, nil
}

func (h *handler) linkJSON(l *tender.ConnectLink) linkJSON {
	q := url.Values{"store_id": {l.MerchantID}, "token": {h.linkToken(l)}}
	if l.ReturnURL != "" {
		q.Set("return_url", l.ReturnURL)
	}
	j := linkJSON{Object: "connect_link", ID: l.ID, URL: h.cfg.PublicURL + "/stripe/connect?" + q.Encode(),
		ExpiresAt: l.ExpiresAt.Unix(), Created: l.Created.Unix(), StoreID: l.MerchantID,
		AllowedRedirectHosts: l.AllowedRedirectHosts}
	if l.Mode != "" {
		j.Mode = ptr(l.Mode)
	}
	if l.ReturnURL != "" {
		j.ReturnURL = ptr(l.ReturnURL)
	}
	return j
}

func (h *handler) linkToken(l *tender.ConnectLink) string {
	exp := strconv.FormatInt(l.ExpiresAt.Unix(), 10)
	return l.ID + "." + exp + "." + h.sign(purposeConnectLink, l.ID, l.MerchantID, exp)
}

// normalizeHost checks an allowed redirect host: a DNS name or IP address
// with an optional port, lower-cased.
func normalizeHost(raw string) (string, bool) {
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "" || len(s) > 255 {
		return "", false
	}
	u, err := url.Parse("http://" + s)
	if err != nil || u.Host != s || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	if _, ok := safeURL("http://" + s); !ok {
		return "", false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", false
		}
	}
	return s, u.Hostname() != ""
}

// hostAllowed reports whether u's host is one of hosts. An allowed host
// without a port allows only the scheme's default port.
func hostAllowed(u *url.URL, hosts []string) bool {
	host := strings.ToLower(u.Host)
	if p := u.Port(); (p == "80" && u.Scheme == "http") || (p == "443" && u.Scheme == "https") {
		host = strings.ToLower(u.Hostname())
	}
	for _, a := range hosts {
		if host == a {
			return true
		}
	}
	return false
}

// linkProblem is why a link cannot be used, as the page says it.
type linkProblem struct {
	status  int
	heading string
	message string
}

var (
	problemInvalid = &linkProblem{http.StatusForbidden, "This link is not valid",
		"This Stripe connection link is not valid for this store. Ask for a new link from where you got this one."}
	problemExpired = &linkProblem{http.StatusGone, "This link has expired",
		"This Stripe connection link has expired. Ask for a new link from where you got this one."}
	problemUsed = &linkProblem{http.StatusGone, "This link was already used",
		"This Stripe connection link was already used to connect a Stripe account. Each link works once: ask for a new one to change the keys."}
	problemReturn = &linkProblem{http.StatusBadRequest, "This return address is not allowed",
		"The address to return to after connecting (return_url) is not one this store allows. Use the link exactly as you received it."}
)

// checkLink verifies a link token for a store: signature, expiry, then the
// stored link and whether it was used.
func (h *handler) checkLink(ctx context.Context, storeID, token string) (*tender.ConnectLink, *linkProblem, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || !tender.ValidID(parts[0], tender.PrefixConnectLink) || storeID == "" {
		return nil, problemInvalid, nil
	}
	id, exp, sig := parts[0], parts[1], parts[2]
	if !h.verify(sig, purposeConnectLink, id, storeID, exp) {
		return nil, problemInvalid, nil
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return nil, problemInvalid, nil
	}
	if !h.now().Before(time.Unix(n, 0)) {
		return nil, problemExpired, nil
	}
	l, err := h.cfg.Links.ConnectLink(ctx, id)
	if errors.Is(err, tender.ErrNotFound) {
		return nil, problemInvalid, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if l.MerchantID != storeID || l.ExpiresAt.Unix() != n {
		return nil, problemInvalid, nil
	}
	if l.UsedAt != nil {
		return nil, problemUsed, nil
	}
	return l, nil, nil
}

// returnURLFor picks the return_url of a connect page: the one in the
// request if any, which must be on the link's allowed hosts, else the
// link's own.
func returnURLFor(l *tender.ConnectLink, raw string) (string, bool) {
	if raw == "" {
		return l.ReturnURL, true
	}
	u, ok := safeURL(raw)
	if !ok || !hostAllowed(u, l.AllowedRedirectHosts) {
		return "", false
	}
	return u.String(), true
}

// ---- the form ----

type connectView struct {
	layout
	StoreName      string
	StoreID        string
	Token          string
	ReturnURL      string
	CSRF           string
	Mode           string
	PublishableKey string
	// Error is the form's error; FieldErrors are per field
	// (publishable_key, secret_key, webhook_secret).
	Error       string
	FieldErrors map[string]string
	Expires     string
}

func (h *handler) connectProblem(w http.ResponseWriter, r *http.Request, p *linkProblem) {
	h.message(w, r, p.status, messageView{Heading: p.heading, Message: p.message})
}

func (h *handler) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.log.ErrorContext(r.Context(), "web: "+what, "request_id", api.RequestID(r.Context()), "err", err)
	h.message(w, r, http.StatusInternalServerError, messageView{Heading: "Something went wrong",
		Message: "Something went wrong on our side. Please try again in a moment. (Reference: " + api.RequestID(r.Context()) + ")"})
}

// connectPage loads what the form needs from the request's store_id,
// token and return_url, or answers with the page explaining why it can't.
func (h *handler) connectPage(w http.ResponseWriter, r *http.Request, storeID, token, rawReturn string) (*connectView, *tender.ConnectLink, bool) {
	l, problem, err := h.checkLink(r.Context(), storeID, token)
	if err != nil {
		h.serverError(w, r, "connect link", err)
		return nil, nil, false
	}
	if problem != nil {
		h.connectProblem(w, r, problem)
		return nil, nil, false
	}
	ret, ok := returnURLFor(l, rawReturn)
	if !ok {
		h.connectProblem(w, r, problemReturn)
		return nil, nil, false
	}
	m, err := h.srv.Store().Merchant(r.Context(), storeID)
	if err != nil {
		if errors.Is(err, tender.ErrNotFound) {
			h.connectProblem(w, r, problemInvalid)
		} else {
			h.serverError(w, r, "connect: store", err)
		}
		return nil, nil, false
	}
	v := &connectView{layout: layout{Title: "Connect Stripe", TestMode: l.Mode == "test", Scripts: []string{assetURL("pages.js")}},
		StoreName: m.Name, StoreID: storeID, Token: token, ReturnURL: ret, CSRF: h.csrfToken("connect\x00" + l.ID),
		Mode: l.Mode, FieldErrors: map[string]string{}, Expires: l.ExpiresAt.UTC().Format("15:04 MST, 2 Jan 2006")}
	return v, l, true
}

// connectForm is GET /stripe/connect.
func (h *handler) connectForm(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v, _, ok := h.connectPage(w, r, q.Get("store_id"), q.Get("token"), q.Get("return_url"))
	if !ok {
		return nil
	}
	h.render(w, r, http.StatusOK, "connect", csp{}, v)
	return nil
}

// connectSubmit is POST /stripe/connect: check the keys with Stripe, save
// them sealed for their mode, use up the link, and go to the success page.
func (h *handler) connectSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		h.message(w, r, http.StatusBadRequest, messageView{Heading: "The form could not be read",
			Message: "Go back to the connection page and try again."})
		return nil
	}
	f := r.PostForm
	v, l, ok := h.connectPage(w, r, f.Get("store_id"), f.Get("token"), f.Get("return_url"))
	if !ok {
		return nil
	}
	pk, sk, wh := strings.TrimSpace(f.Get("publishable_key")), strings.TrimSpace(f.Get("secret_key")), strings.TrimSpace(f.Get("webhook_secret"))
	v.PublishableKey = pk
	fail := func(status int, msg string) error {
		v.Error = msg
		h.render(w, r, status, "connect", csp{}, v)
		return nil
	}
	if !h.sameOrigin(r) || !h.csrfOK("connect\x00"+l.ID, f.Get("csrf_token")) {
		return fail(http.StatusForbidden, "This form has expired or did not come from this page. Please enter your keys again.")
	}
	if pk == "" {
		v.FieldErrors["publishable_key"] = "Enter your Stripe publishable key (pk_test_… or pk_live_…)."
	}
	mode := stripeKeyMode(sk)
	switch {
	case sk == "":
		v.FieldErrors["secret_key"] = "Enter your Stripe secret key (sk_test_… or sk_live_…)."
	case mode == "":
		v.FieldErrors["secret_key"] = "A Stripe secret key starts with sk_test_ or sk_live_ (a restricted key with rk_test_ or rk_live_)."
	case l.Mode != "" && mode != l.Mode:
		v.FieldErrors["secret_key"] = "This is a " + mode + " mode key, but this link connects " + l.Mode + " mode keys only: use your " +
			"sk_" + l.Mode + "_… and pk_" + l.Mode + "_… keys."
	}
	if len(v.FieldErrors) > 0 {
		return fail(http.StatusUnprocessableEntity, "Check the highlighted fields.")
	}
	t := tender.Tenant{MerchantID: l.MerchantID, Livemode: mode == "live"}
	// Use the link up first, so that of two submissions only one can
	// save; a failure gives it back.
	switch err := h.cfg.Links.ClaimConnectLink(r.Context(), l.ID, h.now()); {
	case errors.Is(err, tender.ErrConflict):
		h.connectProblem(w, r, problemUsed)
		return nil
	case errors.Is(err, tender.ErrNotFound):
		h.connectProblem(w, r, problemInvalid)
		return nil
	case err != nil:
		h.serverError(w, r, "connect: claim link", err)
		return nil
	}
	creds := map[string]string{"publishable_key": pk, "secret_key": sk}
	if wh != "" {
		creds["webhook_secret"] = wh
	}
	_, err := h.eng.PutProviderConfig(r.Context(), t, stripeProvider, engine.ProviderConfigParams{Enabled: ptr(true), Credentials: creds})
	if err != nil {
		if rerr := h.cfg.Links.ReleaseConnectLink(context.WithoutCancel(r.Context()), l.ID); rerr != nil {
			h.log.ErrorContext(r.Context(), "web: release connect link", "link", l.ID, "err", rerr)
		}
		te, ok := tender.AsError(err)
		if !ok || te.Type == tender.APIError && te.Code != "provider_unreachable" {
			h.log.ErrorContext(r.Context(), "web: connect stripe", "store", l.MerchantID, "request_id", api.RequestID(r.Context()), "err", err)
			return fail(http.StatusInternalServerError, "Something went wrong while saving your keys. Please try again in a moment.")
		}
		if te.Cause != nil {
			h.log.WarnContext(r.Context(), "web: connect stripe", "store", l.MerchantID, "err", err)
		}
		field := strings.TrimSuffix(strings.TrimPrefix(te.Param, "credentials["), "]")
		switch field {
		case "publishable_key", "secret_key", "webhook_secret":
			v.FieldErrors[field] = te.Message
			return fail(http.StatusUnprocessableEntity, "Stripe did not accept these keys: check the highlighted field.")
		}
		if te.Type == tender.APIError {
			return fail(http.StatusBadGateway, "Could not reach Stripe to check your keys. Nothing was saved; please try again in a moment.")
		}
		return fail(http.StatusUnprocessableEntity, te.Message)
	}
	h.log.InfoContext(r.Context(), "web: stripe connected", "store", l.MerchantID, "livemode", t.Livemode, "link", l.ID)
	q := url.Values{"mode": {mode}}
	if v.ReturnURL != "" {
		q.Set("return_url", v.ReturnURL)
	}
	q.Set("sig", h.sign(purposeSuccess, l.MerchantID, mode, v.ReturnURL))
	http.Redirect(w, r, "/stripe/success/"+url.PathEscape(l.MerchantID)+"?"+q.Encode(), http.StatusSeeOther)
	return nil
}

// stripeKeyMode is "test" or "live" for a Stripe secret or restricted
// key, "" for anything else.
func stripeKeyMode(sk string) string {
	for _, p := range []string{"sk_", "rk_"} {
		if rest, ok := strings.CutPrefix(sk, p); ok {
			switch {
			case strings.HasPrefix(rest, "test_"):
				return "test"
			case strings.HasPrefix(rest, "live_"):
				return "live"
			}
		}
	}
	return ""
}

// connectSuccess is GET /stripe/success/{store_id}. Its link back to the
// merchant's site is shown only if the connection signed it, so the page
// can't be made to link anywhere else.
func (h *handler) connectSuccess(w http.ResponseWriter, r *http.Request) error {
	storeID := r.PathValue("store_id")
	q := r.URL.Query()
	has, live, err := h.status(r.Context(), storeID)
	if err != nil {
		if te, ok := tender.AsError(err); ok && te.Code == tender.CodeResourceMissing {
			h.message(w, r, http.StatusNotFound, messageView{Heading: "Store not found", Message: "There is no store with this id."})
			return nil
		}
		h.serverError(w, r, "connect success: status", err)
		return nil
	}
	if !has {
		h.message(w, r, http.StatusOK, messageView{Heading: "Stripe is not connected",
			Message: "This store has no Stripe account connected yet."})
		return nil
	}
	mode, ret := q.Get("mode"), q.Get("return_url")
	signed := (mode == "test" || mode == "live") && h.verify(q.Get("sig"), purposeSuccess, storeID, mode, ret)
	v := struct {
		layout
		StoreName string
		Mode      string
		ReturnURL string
	}{layout: layout{Title: "Stripe connected"}}
	if live {
		v.Mode = "live"
	} else {
		v.Mode = "test"
	}
	if signed {
		m, err := h.srv.Store().Merchant(r.Context(), storeID)
		if err != nil {
			h.serverError(w, r, "connect success: store", err)
			return nil
		}
		v.StoreName, v.Mode = m.Name, mode
		if u, ok := safeURL(ret); ok {
			v.ReturnURL = u.String()
		}
	}
	v.TestMode = v.Mode == "test"
	h.render(w, r, http.StatusOK, "connect_success", csp{noForms: true}, v)
	return nil
}

// ---- status ----

type statusJSON struct {
	StoreID    string `json:"store_id"`
	HasStripe  bool   `json:"has_stripe"`
	IsLiveMode bool   `json:"is_live_mode"`
}

// status is whether a store has Stripe connected (enabled, with keys),
// and whether in live mode (live wins when both modes are).
func (h *handler) status(ctx context.Context, storeID string) (has, live bool, err error) {
	if _, err := h.srv.Store().Merchant(ctx, storeID); err != nil {
		if errors.Is(err, tender.ErrNotFound) {
			return false, false, tender.NotFound("store", storeID)
		}
		return false, false, err
	}
	for _, lm := range []bool{true, false} {
		cfg, err := h.srv.Payments().ProviderConfig(ctx, tender.Tenant{MerchantID: storeID, Livemode: lm}, stripeProvider)
		if errors.Is(err, tender.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, false, err
		}
		if cfg.Enabled && cfg.SealedCredentials != "" {
			return true, lm, nil
		}
	}
	return false, false, nil
}

func (h *handler) writeStatus(w http.ResponseWriter, r *http.Request, storeID string) error {
	has, live, err := h.status(r.Context(), storeID)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, statusJSON{StoreID: storeID, HasStripe: has, IsLiveMode: live})
	return nil
}

// stripeStatus is GET /stripe/status/{store_id} (seed 002, public).
func (h *handler) stripeStatus(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	return h.writeStatus(w, r, r.PathValue("store_id"))
}
