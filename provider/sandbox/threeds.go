package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/tenderhq/tender"
)

// pageCSS is the challenge page's only style. It is inline so that the page
// needs no other request, and allowed by its hash in the CSP, so that no
// other inline style (an injection) would be.
const pageCSS = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1a1f36}
main{max-width:26rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.25rem;margin:0 0 1rem}
.badge{display:inline-block;margin:0 0 .75rem;padding:.1rem .5rem;border-radius:4px;background:#fff4e5;color:#8a4b00;font-size:.8rem;font-weight:600}
.amount{font-size:1.5rem;font-weight:600}
dl{margin:0 0 1rem}
dt{font-size:.85rem;color:#5e6577}
dd{margin:0 0 .5rem}
fieldset{border:0;margin:0;padding:0}
legend{padding:0;margin:0 0 .75rem}
button{display:block;width:100%;margin:.5rem 0;padding:.75rem;border:0;border-radius:6px;font:inherit;font-weight:600;cursor:pointer;background:#635bff;color:#fff}
button.fail{background:#fff;color:#c0123c;border:1px solid #c0123c}
button:focus-visible{outline:3px solid #1a1f36;outline-offset:2px}
`

// styleSource is the CSP source that allows pageCSS.
var styleSource = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

var pageTemplate = template.Must(template.New("3ds").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sandbox 3-D Secure</title>
<style>` + pageCSS + `</style>
</head>
<body>
<main>
<p class="badge">Test mode · no real money</p>
<h1>Sandbox 3-D Secure</h1>
{{- if .Form}}
<dl>
<dt>Amount</dt>
<dd class="amount">{{.Amount}}</dd>
{{- with .Card}}
<dt>Card</dt>
<dd>{{.Brand}} ending in {{.Last4}}</dd>
{{- end}}
</dl>
<form method="post">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<fieldset>
<legend>This is Tender's test processor. Choose how the bank's challenge ends:</legend>
<button type="submit" name="action" value="complete">Complete authentication</button>
<button type="submit" name="action" value="fail" class="fail">Fail authentication</button>
</fieldset>
</form>
{{- else}}
<p>{{.Message}}</p>
{{- end}}
</main>
</body>
</html>
`))

type pageData struct {
	Form    bool
	Amount  string
	Card    *tender.CardDetails
	CSRF    string
	Message string
}

// Handler serves the sandbox's 3-D Secure challenge page, GET and POST
// /sandbox/3ds/{ref}: the stand-in for the bank's page a real card would
// send the shopper to. It is public (the shopper's browser has no API key);
// the unguessable reference and a per-payment CSRF token protect it.
func (s *Sandbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sandbox/3ds/{ref}", s.get3DS)
	mux.HandleFunc("POST /sandbox/3ds/{ref}", s.post3DS)
	return mux
}

const (
	msgNotFound        = "This authentication page does not exist."
	msgAlreadyComplete = "Authentication already complete: this payment is no longer awaiting authentication."
	msgDone            = "Authentication complete. You can close this page."
	msgForbidden       = "This form is no longer valid. Go back to the payment page and try again."
	msgBadRequest      = "The form could not be read. Go back to the payment page and try again."
	msgServerError     = "Something went wrong. Please try again in a moment."
)

// errForbidden refuses a POST whose CSRF token does not match.
var errForbidden = errors.New("sandbox: CSRF token mismatch")

func (s *Sandbox) get3DS(w http.ResponseWriter, r *http.Request) {
	p, ok := s.pagePayment(w, r)
	if !ok {
		return
	}
	if p.Status != tender.ProviderRequiresAction {
		s.writePage(w, http.StatusOK, nil, pageData{Message: msgAlreadyComplete})
		return
	}
	s.writePage(w, http.StatusOK, returnURL(p.ReturnURL), pageData{Form: true,
		Amount: tender.FormatDecimal(p.Amount, p.Currency) + " " + p.Currency.Upper(),
		Card:   p.Card, CSRF: p.CSRF})
}

func (s *Sandbox) post3DS(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		s.writePage(w, http.StatusBadRequest, nil, pageData{Message: msgBadRequest})
		return
	}
	p, ok := s.pagePayment(w, r)
	if !ok {
		return
	}
	token := r.PostForm.Get("csrf_token")
	if !csrfOK(p.CSRF, token) {
		s.log.WarnContext(r.Context(), "sandbox 3ds: CSRF token mismatch", "ref", p.Ref)
		s.writePage(w, http.StatusForbidden, nil, pageData{Message: msgForbidden})
		return
	}
	action := r.PostForm.Get("action")
	if action != "complete" && action != "fail" {
		s.writePage(w, http.StatusBadRequest, nil, pageData{Message: msgBadRequest})
		return
	}

	now := s.now()
	var ev *tender.ProviderEvent
	var seq int
	ref := p.Ref
	p, err := s.updatePayment(r.Context(), ref, nil, func(p *payment) (bool, error) {
		ev = nil
		if !csrfOK(p.CSRF, token) {
			return false, errForbidden
		}
		if p.Status != tender.ProviderRequiresAction {
			return false, nil // already over: a second POST changes nothing
		}
		if action == "complete" {
			p.settle()
			p.ThreeDS = "succeeded"
		} else {
			p.Status = tender.ProviderFailed
			p.Error = &tender.ProviderError{Code: codeAuthFailure, Message: msgAuthFailed}
			p.ThreeDS = "failed"
		}
		// This request delivers the notification itself; it is claimed for
		// the first backoff so that Run retries it only if that fails.
		p.queueNotify(now)
		p.NotifyTries = 1
		p.NotifyAt = now.Add(backoff(1))
		seq, ev = p.NotifySeq, s.event(p)
		return true, nil
	})
	switch {
	case errors.Is(err, errForbidden):
		s.writePage(w, http.StatusForbidden, nil, pageData{Message: msgForbidden})
		return
	case err != nil:
		s.pageError(w, r, ref, err)
		return
	}
	if ev != nil {
		s.log.InfoContext(r.Context(), "sandbox 3ds", "ref", p.Ref, "outcome", p.ThreeDS)
		// The shopper proceeds whatever Notify does: a failure leaves the
		// notification pending for Run, and a shopper who closes the tab
		// must not cut the delivery short.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		s.deliver(ctx, p.Ref, ev, seq, 1)
		cancel()
	}

	if p.ThreeDS == "" {
		s.writePage(w, http.StatusOK, nil, pageData{Message: msgAlreadyComplete})
		return
	}
	if u := returnURL(p.ReturnURL); u != nil {
		q := u.Query()
		if p.PaymentIntent != "" {
			q.Set("payment_intent", p.PaymentIntent)
		}
		q.Set("redirect_status", p.ThreeDS)
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusSeeOther)
		return
	}
	s.writePage(w, http.StatusOK, nil, pageData{Message: msgDone})
}

// pagePayment finds the page's payment, or answers 404 (or 500).
func (s *Sandbox) pagePayment(w http.ResponseWriter, r *http.Request) (*payment, bool) {
	ref := r.PathValue("ref")
	if !tender.ValidID(ref, "sbx") {
		s.writePage(w, http.StatusNotFound, nil, pageData{Message: msgNotFound})
		return nil, false
	}
	p, err := s.getPayment(r.Context(), ref, nil)
	if err != nil {
		s.pageError(w, r, ref, err)
		return nil, false
	}
	return p, true
}

func (s *Sandbox) pageError(w http.ResponseWriter, r *http.Request, ref string, err error) {
	if errors.Is(err, tender.ErrNotFound) {
		s.writePage(w, http.StatusNotFound, nil, pageData{Message: msgNotFound})
		return
	}
	s.log.ErrorContext(r.Context(), "sandbox 3ds page", "ref", ref, "err", err)
	s.writePage(w, http.StatusInternalServerError, nil, pageData{Message: msgServerError})
}

// writePage renders the page with headers that keep it to itself: no
// framing (clickjacking the buttons), no sources but its own style, and
// forms posting only to itself and — since browsers apply form-action to
// the redirect that follows — to the return URL's origin.
func (s *Sandbox) writePage(w http.ResponseWriter, status int, formTarget *url.URL, d pageData) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		s.log.Error("sandbox 3ds: render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	formAction := "'none'"
	if d.Form {
		formAction = "'self'"
		if formTarget != nil {
			formAction += " " + formTarget.Scheme + "://" + formTarget.Host
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+styleSource+"; img-src 'none'; base-uri 'none'; form-action "+
		formAction+"; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer") // the URL is the payment's capability
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// returnURL parses a return URL the page may redirect to: absolute http(s)
// with a host that can be written into a CSP as is. Anything else is not
// followed (the shopper gets the "close this page" page).
func returnURL(raw string) *url.URL {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil
	}
	for i := 0; i < len(u.Host); i++ {
		c := u.Host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return nil
		}
	}
	return u
}

// csrfOK compares the form's token with the payment's in constant time.
func csrfOK(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
