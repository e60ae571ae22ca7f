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
	"github.com/tenderhq/tender/provider/manual"
)

// The hosted checkout page of a checkout session: GET /checkout/{id} (the
// session's url) shows the order and the store's payment options; the
// page's forms POST back to the same URL. The session id is the page's
// capability, as Stripe's checkout URLs are.

const (
	optSandbox = "sandbox"
	optManual  = "manual"
	optStripe  = "stripe"
)

type orderSummary struct {
	StoreName string
	Items     []itemView
	Total     string
}

type itemView struct {
	Name, Quantity, Unit, Amount string
}

type optionView struct {
	Key, Name, Description, URL string
	Current                     bool
}

type checkoutView struct {
	layout
	Summary   orderSummary
	SessionID string
	Action    string
	CSRF      string
	Options   []optionView
	Current   string
	CancelURL string
	// Error is the form's error (a decline, an expired form).
	Error       string
	FieldErrors map[string]string
	Card        cardInput
	// Instructions are the manual provider's payment instructions.
	Instructions string
	Stripe       *stripeView
	// Unavailable explains an option that cannot be used right now.
	Unavailable string
	AmountLabel string
}

type cardInput struct {
	Name, Expiry string
}

type stripeView struct {
	PublishableKey, ClientSecret, ReturnURL string
}

// loaded is a checkout session with its store.
type loaded struct {
	sess   *tender.CheckoutSession
	tenant tender.Tenant
	store  *tender.Merchant
}

// loadSession finds the page's session (expiring it if its time is up),
// or answers with the page that says why not.
func (h *handler) loadSession(w http.ResponseWriter, r *http.Request) (*loaded, bool) {
	id := r.PathValue("session_id")
	notFound := func() (*loaded, bool) {
		h.message(w, r, http.StatusNotFound, messageView{Heading: "Checkout not found",
			Message: "This checkout page does not exist. Check the link, or go back to the store and try again."})
		return nil, false
	}
	if !tender.ValidID(id, tender.PrefixCheckout) {
		return notFound()
	}
	s, err := h.srv.Payments().CheckoutSessionByID(r.Context(), id)
	if errors.Is(err, tender.ErrNotFound) {
		return notFound()
	}
	if err != nil {
		h.serverError(w, r, "checkout: session", err)
		return nil, false
	}
	t := tender.Tenant{MerchantID: s.MerchantID, Livemode: s.Livemode}
	if s, err = h.eng.CheckoutSession(r.Context(), t, id); err != nil {
		h.serverError(w, r, "checkout: session", err)
		return nil, false
	}
	m, err := h.srv.Store().Merchant(r.Context(), s.MerchantID)
	if err != nil {
		h.serverError(w, r, "checkout: store", err)
		return nil, false
	}
	return &loaded{sess: s, tenant: t, store: m}, true
}

func summaryOf(s *tender.CheckoutSession, storeName string) orderSummary {
	o := orderSummary{StoreName: storeName, Total: formatAmount(s.AmountTotal, s.Currency)}
	for _, li := range s.LineItems {
		o.Items = append(o.Items, itemView{Name: li.Name, Quantity: strconv.FormatInt(li.Quantity, 10),
			Unit: formatAmount(li.UnitAmount, s.Currency), Amount: formatAmount(li.UnitAmount*li.Quantity, s.Currency)})
	}
	return o
}

// successURL is where a paid order goes: the session's success_url with
// Stripe's {CHECKOUT_SESSION_ID} template filled in.
func successURL(s *tender.CheckoutSession) (*url.URL, bool) {
	return safeURL(strings.ReplaceAll(s.SuccessURL, "{CHECKOUT_SESSION_ID}", s.ID))
}

func (h *handler) pageURL(s *tender.CheckoutSession) string { return h.eng.CheckoutURL(s.ID) }

// checkoutPage is GET /checkout/{id}. A shopper coming back from a
// payment page (3-D Secure, Stripe) carries redirect_status: once the
// order is paid, they go on to success_url; while the payment is being
// confirmed, the page waits and reloads.
func (h *handler) checkoutPage(w http.ResponseWriter, r *http.Request) error {
	ld, ok := h.loadSession(w, r)
	if !ok {
		return nil
	}
	s := ld.sess
	returning := r.URL.Query().Get("redirect_status") != ""
	if s.Status != tender.SessionOpen {
		if returning && s.PaymentStatus == tender.SessionPaid {
			if u, ok := successURL(s); ok {
				h.goToSuccess(w, r, u)
				return nil
			}
		}
		h.finished(w, r, ld)
		return nil
	}
	v := h.baseView(ld)
	var pi *tender.PaymentIntent
	if s.PaymentIntent != "" {
		p, err := h.srv.Payments().PaymentIntent(r.Context(), ld.tenant, s.PaymentIntent, false)
		if err != nil {
			h.serverError(w, r, "checkout: intent", err)
			return nil
		}
		pi = p
	}
	if returning && pi != nil {
		switch {
		case pi.Status == tender.StatusProcessing,
			pi.Status == tender.StatusRequiresAction && r.URL.Query().Get("redirect_status") == "succeeded":
			h.confirming(w, r, ld)
			return nil
		case pi.Status == tender.StatusRequiresPaymentMethod && pi.LastPaymentError != nil:
			v.Error = declineMessage(pi.LastPaymentError.Message)
		}
	}
	h.renderCheckout(w, r, ld, &v, r.URL.Query().Get("method"), http.StatusOK)
	return nil
}

func declineMessage(msg string) string {
	if msg == "" {
		msg = "The payment failed."
	}
	return msg + " Try again, or use another card."
}

// goToSuccess sends the shopper to the merchant's success_url. A redirect
// is not enough after another page's form (the sandbox's 3-D Secure page):
// browsers hold the redirect chain of a form submission to that page's
// form-action, so the way on is a page of its own that moves on by itself.
func (h *handler) goToSuccess(w http.ResponseWriter, r *http.Request, u *url.URL) {
	h.message(w, r, http.StatusOK, messageView{layout: layout{Title: "Payment complete", RefreshURL: u.String()},
		Heading: "Payment complete", Message: "Thank you: your payment was received. Taking you back to the store…",
		Links: []link{{Text: "Continue to the store", URL: u.String(), Primary: true}}})
}

// finished answers for a session that is no longer open.
func (h *handler) finished(w http.ResponseWriter, r *http.Request, ld *loaded) {
	s := ld.sess
	sum := summaryOf(s, ld.store.Name)
	v := messageView{layout: layout{TestMode: !s.Livemode}, Summary: &sum}
	switch {
	case s.Status == tender.SessionExpired:
		v.Heading = "This checkout has expired"
		v.Message = "This order was not paid in time and can no longer be paid here. Go back to the store to order again."
		if u, ok := safeURL(s.CancelURL); ok {
			v.Links = append(v.Links, link{Text: "Back to the store", URL: u.String(), Primary: true})
		}
	case s.PaymentStatus == tender.SessionAwaitingPayment:
		v.Heading = "Order placed"
		v.Message = "Your order is placed and awaits your payment. It will ship once the payment arrives."
		if s.PaymentIntent != "" {
			if pi, err := h.srv.Payments().PaymentIntent(r.Context(), ld.tenant, s.PaymentIntent, false); err == nil &&
				pi.NextAction != nil && pi.NextAction.DisplayPaymentInstructions != nil {
				v.Detail = pi.NextAction.DisplayPaymentInstructions.Instructions
				v.Reference = pi.NextAction.DisplayPaymentInstructions.Reference
			}
		}
		if u, ok := successURL(s); ok {
			v.Links = append(v.Links, link{Text: "Continue to the store", URL: u.String(), Primary: true})
		}
	default:
		v.Heading = "This order is paid"
		v.Message = "Thank you: the payment for this order was received."
		if u, ok := successURL(s); ok {
			v.Links = append(v.Links, link{Text: "Continue to the store", URL: u.String(), Primary: true})
		}
	}
	h.message(w, r, http.StatusOK, v)
}

// confirming is the page shown while a payment is being confirmed: it
// reloads itself until the order is paid or the payment fails.
func (h *handler) confirming(w http.ResponseWriter, r *http.Request, ld *loaded) {
	sum := summaryOf(ld.sess, ld.store.Name)
	h.message(w, r, http.StatusOK, messageView{layout: layout{Title: "Confirming your payment", TestMode: !ld.sess.Livemode, Refresh: confirmRefreshSecs},
		Heading: "Confirming your payment…", Summary: &sum,
		Message: "Your payment is being confirmed. This page updates by itself; please don't pay again."})
}

func (h *handler) baseView(ld *loaded) checkoutView {
	s := ld.sess
	v := checkoutView{layout: layout{Title: "Pay " + ld.store.Name, TestMode: !s.Livemode, Scripts: []string{assetURL("pages.js")}},
		Summary: summaryOf(s, ld.store.Name), SessionID: s.ID, Action: "/checkout/" + s.ID,
		CSRF: h.csrfToken("checkout\x00" + s.ID), FieldErrors: map[string]string{}, AmountLabel: formatAmount(s.AmountTotal, s.Currency)}
	if u, ok := safeURL(s.CancelURL); ok {
		v.CancelURL = u.String()
	}
	return v
}

// options lists the store's payment options for the session's currency,
// by priority, that this page can take.
func (h *handler) options(ctx context.Context, ld *loaded) ([]tender.ProviderInfo, error) {
	infos, _, err := h.eng.StoreOptions(ctx, ld.tenant)
	if err != nil {
		return nil, err
	}
	var out []tender.ProviderInfo
	for _, info := range infos {
		switch info.Key {
		case optSandbox, optManual, optStripe:
		default:
			continue
		}
		if info.Capabilities.SupportsCurrency(ld.sess.Currency) {
			out = append(out, info)
		}
	}
	return out, nil
}

// renderCheckout fills in the payment options (the chosen one, or the
// first) and renders the page.
func (h *handler) renderCheckout(w http.ResponseWriter, r *http.Request, ld *loaded, v *checkoutView, method string, status int) {
	opts, err := h.options(r.Context(), ld)
	if err != nil {
		h.serverError(w, r, "checkout: options", err)
		return
	}
	if len(opts) == 0 {
		sum := summaryOf(ld.sess, ld.store.Name)
		h.message(w, r, http.StatusOK, messageView{layout: layout{TestMode: !ld.sess.Livemode}, Summary: &sum,
			Heading: "Payment is not available", Message: "This store cannot take payments in " + ld.sess.Currency.Upper() + " yet. Please contact the store."})
		return
	}
	cur := opts[0]
	for _, o := range opts {
		if o.Key == method {
			cur = o
		}
	}
	v.Current = cur.Key
	for _, o := range opts {
		name := o.Name
		if o.Key == optSandbox {
			name = "Test card"
		}
		v.Options = append(v.Options, optionView{Key: o.Key, Name: name, Description: o.Description,
			URL: "/checkout/" + ld.sess.ID + "?method=" + url.QueryEscape(o.Key), Current: o.Key == cur.Key})
	}
	policy := csp{}
	if u, ok := successURL(ld.sess); ok {
		// The form's POST is answered with a redirect to success_url.
		policy.formTargets = append(policy.formTargets, origin(u))
	}
	switch cur.Key {
	case optManual:
		v.Instructions = manual.DefaultInstructions
		if cfg, err := h.eng.ProviderConfig(r.Context(), ld.tenant, optManual); err == nil && cfg.Settings["instructions"] != "" {
			v.Instructions = cfg.Settings["instructions"]
		}
	case optStripe:
		sv, err := h.stripeView(r, ld)
		if err != nil {
			h.log.WarnContext(r.Context(), "web: checkout: start stripe payment", "session", ld.sess.ID,
				"request_id", api.RequestID(r.Context()), "err", err)
			v.Unavailable = "Card payments are unavailable right now. Please try again in a moment"
			if len(opts) > 1 {
				v.Unavailable += " or choose another way to pay"
			}
			v.Unavailable += "."
			break
		}
		v.Stripe = sv
		v.Scripts = append([]string{stripeJS}, v.Scripts...)
		policy.stripe = true
	}
	h.render(w, r, status, "checkout", policy, v)
}

// stripeView starts the order's Stripe payment for Stripe.js: the store's
// publishable key and the PaymentIntent's client secret.
func (h *handler) stripeView(r *http.Request, ld *loaded) (*stripeView, error) {
	c := h.srv.CallerFor(r, ld.tenant)
	_, pi, err := h.eng.SessionIntent(r.Context(), c, ld.sess.ID, optStripe)
	if err != nil {
		return nil, err
	}
	pi, ch, err := h.eng.StartClientPayment(r.Context(), c, pi.ID)
	if err != nil {
		return nil, err
	}
	if ch == nil || ch.ProviderClientSecret == "" {
		return nil, errors.New("stripe gave no client secret for " + pi.ID)
	}
	creds, err := h.eng.ProviderCredentials(r.Context(), ld.tenant, optStripe)
	if err != nil {
		return nil, err
	}
	pk := creds["publishable_key"]
	if pk == "" {
		return nil, errors.New("the store's Stripe configuration has no publishable key")
	}
	return &stripeView{PublishableKey: pk, ClientSecret: ch.ProviderClientSecret, ReturnURL: h.pageURL(ld.sess)}, nil
}

// checkoutSubmit is POST /checkout/{id}: pay with a test card (sandbox)
// or place a check / money order (manual).
func (h *handler) checkoutSubmit(w http.ResponseWriter, r *http.Request) error {
	ld, ok := h.loadSession(w, r)
	if !ok {
		return nil
	}
	s := ld.sess
	if err := r.ParseForm(); err != nil {
		h.message(w, r, http.StatusBadRequest, messageView{Heading: "The form could not be read", Message: "Go back to the checkout page and try again."})
		return nil
	}
	f := r.PostForm
	method := f.Get("method")
	v := h.baseView(ld)
	v.Card = cardInput{Name: strings.TrimSpace(f.Get("cardholder_name")), Expiry: strings.TrimSpace(f.Get("card_expiry"))}
	if !h.sameOrigin(r) || !h.csrfOK("checkout\x00"+s.ID, f.Get("csrf_token")) {
		v.Error = "This form has expired or did not come from this page. Please try again."
		h.renderCheckout(w, r, ld, &v, method, http.StatusForbidden)
		return nil
	}
	if s.Status != tender.SessionOpen {
		http.Redirect(w, r, "/checkout/"+s.ID, http.StatusSeeOther)
		return nil
	}
	opts, err := h.options(r.Context(), ld)
	if err != nil {
		h.serverError(w, r, "checkout: options", err)
		return nil
	}
	offered := false
	for _, o := range opts {
		offered = offered || o.Key == method
	}
	if !offered || method == optStripe {
		v.Error = "Choose a way to pay."
		h.renderCheckout(w, r, ld, &v, method, http.StatusBadRequest)
		return nil
	}
	c := h.srv.CallerFor(r, ld.tenant)
	switch method {
	case optManual:
		if _, _, err := h.eng.SessionIntent(r.Context(), c, s.ID, optManual); err != nil {
			h.paymentError(w, r, ld, &v, method, err)
			return nil
		}
		http.Redirect(w, r, "/checkout/"+s.ID, http.StatusSeeOther)
		return nil
	}
	card, ok := parseCard(f, v.FieldErrors)
	if !ok {
		v.Error = "Check the highlighted fields."
		h.renderCheckout(w, r, ld, &v, method, http.StatusUnprocessableEntity)
		return nil
	}
	var billing *tender.BillingDetails
	if v.Card.Name != "" {
		billing = &tender.BillingDetails{Name: v.Card.Name}
	}
	pm, err := h.eng.CreatePaymentMethod(r.Context(), c, engine.PaymentMethodParams{Type: "card", Provider: optSandbox, Card: card, BillingDetails: billing})
	if err != nil {
		h.paymentError(w, r, ld, &v, method, err)
		return nil
	}
	pi, err := h.sessionIntent(r.Context(), c, s.ID)
	if err != nil {
		h.paymentError(w, r, ld, &v, method, err)
		return nil
	}
	if pi.Status == tender.StatusProcessing {
		http.Redirect(w, r, "/checkout/"+s.ID+"?redirect_status=processing", http.StatusSeeOther)
		return nil
	}
	pi, err = h.eng.ConfirmPaymentIntent(r.Context(), c, pi.ID, engine.ConfirmParams{PaymentMethod: pm.ID, ReturnURL: h.pageURL(s)})
	if err != nil {
		h.paymentError(w, r, ld, &v, method, err)
		return nil
	}
	switch pi.Status {
	case tender.StatusSucceeded:
		if u, ok := successURL(s); ok {
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return nil
		}
	case tender.StatusRequiresAction:
		if na := pi.NextAction; na != nil && na.RedirectToURL != nil {
			if u, ok := safeURL(na.RedirectToURL.URL); ok && origin(u) == origin(h.public) {
				http.Redirect(w, r, u.String(), http.StatusSeeOther)
				return nil
			}
		}
	case tender.StatusProcessing:
		http.Redirect(w, r, "/checkout/"+s.ID+"?redirect_status=processing", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/checkout/"+s.ID, http.StatusSeeOther)
	return nil
}

// sessionIntent is the order's sandbox intent, ready to confirm: one left
// waiting for a 3-D Secure challenge the shopper abandoned is canceled and
// replaced.
func (h *handler) sessionIntent(ctx context.Context, c engine.Caller, id string) (*tender.PaymentIntent, error) {
	_, pi, err := h.eng.SessionIntent(ctx, c, id, optSandbox)
	if err != nil || pi.Status != tender.StatusRequiresAction {
		return pi, err
	}
	if _, err := h.eng.CancelPaymentIntent(ctx, c, pi.ID, "abandoned"); err != nil {
		return nil, err
	}
	_, pi, err = h.eng.SessionIntent(ctx, c, id, optSandbox)
	return pi, err
}

// paymentError shows a failed payment on the form: a decline or a refused
// card as the provider worded it, anything else as a generic failure
// (logged with the request id).
func (h *handler) paymentError(w http.ResponseWriter, r *http.Request, ld *loaded, v *checkoutView, method string, err error) {
	te, ok := tender.AsError(err)
	switch {
	case ok && te.Type == tender.CardError:
		v.Error = declineMessage(te.Message)
		if f := cardField(te.Param); f != "" && te.Code != tender.CodeCardDeclined {
			v.FieldErrors[f] = te.Message
		}
		h.renderCheckout(w, r, ld, v, method, http.StatusPaymentRequired)
	case ok && te.Type == tender.InvalidRequestError:
		if f := cardField(te.Param); f != "" {
			v.FieldErrors[f] = te.Message
			v.Error = "Check the highlighted fields."
		} else if te.Code == "checkout_session_unexpected_state" || te.Code == tender.CodeUnexpectedState {
			http.Redirect(w, r, "/checkout/"+ld.sess.ID+"?redirect_status=processing", http.StatusSeeOther)
			return
		} else {
			v.Error = te.Message
		}
		h.renderCheckout(w, r, ld, v, method, http.StatusBadRequest)
	default:
		h.log.ErrorContext(r.Context(), "web: checkout payment", "session", ld.sess.ID, "request_id", api.RequestID(r.Context()), "err", err)
		v.Error = "Something went wrong while processing the payment. You have not been charged twice; please try again in a moment. (Reference: " +
			api.RequestID(r.Context()) + ")"
		h.renderCheckout(w, r, ld, v, method, http.StatusInternalServerError)
	}
}

// cardField maps an error's param to the form's field.
func cardField(param string) string {
	switch param {
	case "card[number]", "number":
		return "card_number"
	case "card[exp_month]", "card[exp_year]", "exp_month", "exp_year":
		return "card_expiry"
	case "card[cvc]", "cvc":
		return "card_cvc"
	}
	return ""
}

// parseCard reads the card form: number (spaces and dashes allowed),
// expiry as MM/YY or MM/YYYY, CVC.
func parseCard(f url.Values, errs map[string]string) (*engine.RawCard, bool) {
	num := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, f.Get("card_number"))
	if len(num) < 12 || len(num) > 19 || strings.Trim(num, "0123456789") != "" {
		errs["card_number"] = "Enter the card number: 12 to 19 digits."
	}
	month, year, ok := parseExpiry(f.Get("card_expiry"))
	if !ok {
		errs["card_expiry"] = "Enter the expiry date as MM/YY."
	}
	cvc := strings.TrimSpace(f.Get("card_cvc"))
	if len(cvc) < 3 || len(cvc) > 4 || strings.Trim(cvc, "0123456789") != "" {
		errs["card_cvc"] = "Enter the 3 or 4 digit security code."
	}
	if len(errs) > 0 {
		return nil, false
	}
	return &engine.RawCard{Number: num, ExpMonth: month, ExpYear: year, CVC: cvc}, true
}

func parseExpiry(s string) (month, year int, ok bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	m, y, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	month, err1 := strconv.Atoi(m)
	year, err2 := strconv.Atoi(y)
	if err1 != nil || err2 != nil || month < 1 || month > 12 || len(m) > 2 {
		return 0, 0, false
	}
	switch len(y) {
	case 2:
		year += 2000
	case 4:
	default:
		return 0, 0, false
	}
	return month, year, year >= 2000 && year <= time.Now().Year()+50
}
