package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenderhq/tender"
)

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`)

// page is one response of the 3-D Secure handler.
type page struct {
	code   int
	header http.Header
	body   string
}

func (e *env) get3DS(path string) page {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.sb.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return page{rec.Code, rec.Header(), rec.Body.String()}
}

func (e *env) post3DS(path string, form url.Values) page {
	e.t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	e.sb.Handler().ServeHTTP(rec, req)
	return page{rec.Code, rec.Header(), rec.Body.String()}
}

// challenge authorizes a 3-D Secure card and returns the page's path and CSRF token.
func (e *env) challenge(key string, capture bool, returnURL string) (ref, path, csrf string) {
	e.t.Helper()
	req := authReq(key, "pm_card_threeDSecure2Required", capture)
	req.ReturnURL = returnURL
	res, err := e.sb.Authorize(context.Background(), req)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := url.Parse(res.NextAction.RedirectToURL.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	p := e.get3DS(u.Path)
	m := csrfRE.FindStringSubmatch(p.body)
	if p.code != http.StatusOK || m == nil {
		e.t.Fatalf("GET %s = %d, no CSRF token:\n%s", u.Path, p.code, p.body)
	}
	return res.Reference, u.Path, m[1]
}

func TestThreeDSPage(t *testing.T) {
	e := newEnv(t)
	ref, path, _ := e.challenge("auth", true, "https://shop.example:8443/return?order=42")
	if path != "/sandbox/3ds/"+ref {
		t.Fatalf("path = %s", path)
	}
	p := e.get3DS(path)
	for _, want := range []string{"Sandbox 3-D Secure", "10.00 USD", "Complete authentication", "Fail authentication",
		`name="viewport"`, `value="complete"`, `value="fail"`, "<legend>", "visa ending in 3220"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(p.body, "<script") || strings.Contains(p.body, "http://") || strings.Contains(p.body, "https://") {
		t.Errorf("page loads or links something external:\n%s", p.body)
	}
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self' https://shop.example:8443;"} {
		if !strings.Contains(csp+";", want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	// The inline style is exactly what the CSP's hash allows.
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no <style>")
	}
	sum := sha256.Sum256([]byte(m[1]))
	if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, "style-src "+h) {
		t.Errorf("CSP %q does not allow the style (hash %s)", csp, h)
	}
	if p.header.Get("X-Frame-Options") != "DENY" || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") ||
		p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers = %v", p.header)
	}
	// Amounts follow the currency's exponent.
	req := authReq("jpy", "pm_card_threeDSecure2Required", true)
	req.Currency, req.Amount = tender.MustCurrency("jpy"), 1500
	res, err := e.sb.Authorize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if p := e.get3DS("/sandbox/3ds/" + res.Reference); !strings.Contains(p.body, "1500 JPY") {
		t.Errorf("JPY page lacks 1500 JPY:\n%s", p.body)
	}
}

func TestThreeDSComplete(t *testing.T) {
	for _, c := range []struct {
		name       string
		capture    bool
		action     string
		wantStatus tender.ProviderStatus
		redirect   string
	}{
		{"complete capture", true, "complete", tender.ProviderSucceeded, "succeeded"},
		{"complete manual", false, "complete", tender.ProviderRequiresCapture, "succeeded"},
		{"fail", true, "fail", tender.ProviderFailed, "failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			ref, path, csrf := e.challenge("auth", c.capture, "https://shop.example/return?order=42")

			p := e.post3DS(path, url.Values{"csrf_token": {csrf}, "action": {c.action}})
			if p.code != http.StatusSeeOther {
				t.Fatalf("POST = %d:\n%s", p.code, p.body)
			}
			loc, err := url.Parse(p.header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			q := loc.Query()
			if loc.Scheme != "https" || loc.Host != "shop.example" || loc.Path != "/return" || q.Get("order") != "42" ||
				q.Get("payment_intent") != "pi_test" || q.Get("redirect_status") != c.redirect {
				t.Errorf("Location = %s", loc)
			}

			res := e.retrieve(ref)
			if res.Status != c.wantStatus || res.NextAction != nil {
				t.Errorf("status = %s, next_action %+v; want %s", res.Status, res.NextAction, c.wantStatus)
			}
			if c.action == "fail" && (res.Error == nil || res.Error.Code != "payment_intent_authentication_failure" ||
				res.Error.Message != "The provided PaymentMethod has failed authentication.") {
				t.Errorf("error = %+v", res.Error)
			}
			if c.wantStatus == tender.ProviderSucceeded && res.AmountCaptured != 1000 ||
				c.wantStatus == tender.ProviderRequiresCapture && res.AmountCapturable != 1000 {
				t.Errorf("amounts = %+v", res)
			}

			events, calls := e.notify.snapshot()
			if calls != 1 || len(events) != 1 {
				t.Fatalf("Notify calls = %d", calls)
			}
			ev := events[0]
			if ev.Provider != Key || ev.MerchantID != merchant || ev.Reference != ref || ev.Payment.Status != c.wantStatus {
				t.Errorf("event = %+v payment %+v", ev, ev.Payment)
			}

			// A second POST (double click, back button) changes nothing
			// and sends the shopper back the same way.
			other := map[string]string{"complete": "fail", "fail": "complete"}[c.action]
			p2 := e.post3DS(path, url.Values{"csrf_token": {csrf}, "action": {other}})
			if p2.code != http.StatusSeeOther || p2.header.Get("Location") != p.header.Get("Location") {
				t.Errorf("second POST = %d %s", p2.code, p2.header.Get("Location"))
			}
			if res := e.retrieve(ref); res.Status != c.wantStatus {
				t.Errorf("status after second POST = %s", res.Status)
			}
			// Nothing is left for Run either.
			e.clock.Advance(time.Hour)
			e.step()
			if _, calls := e.notify.snapshot(); calls != 1 {
				t.Errorf("Notify calls after second POST and Run = %d, want 1", calls)
			}
			if g := e.get3DS(path); g.code != http.StatusOK || !strings.Contains(g.body, "already complete") || strings.Contains(g.body, "<form") {
				t.Errorf("GET after completion = %d:\n%s", g.code, g.body)
			}
		})
	}
}

func TestThreeDSCSRF(t *testing.T) {
	e := newEnv(t)
	ref, path, csrf := e.challenge("auth", true, "https://shop.example/return")
	wrong := strings.Repeat("0", len(csrf))
	for _, form := range []url.Values{
		{"action": {"complete"}},
		{"action": {"complete"}, "csrf_token": {""}},
		{"action": {"complete"}, "csrf_token": {wrong}},
		{"action": {"complete"}, "csrf_token": {csrf[:len(csrf)-1]}},
	} {
		if p := e.post3DS(path, form); p.code != http.StatusForbidden {
			t.Errorf("POST %v = %d, want 403", form, p.code)
		}
	}
	// The token in the query string does not count: it must be posted.
	if p := e.post3DS(path+"?csrf_token="+csrf, url.Values{"action": {"complete"}}); p.code != http.StatusForbidden {
		t.Errorf("POST with the token in the query = %d, want 403", p.code)
	}
	if res := e.retrieve(ref); res.Status != tender.ProviderRequiresAction {
		t.Errorf("status after refused POSTs = %s", res.Status)
	}
	if _, calls := e.notify.snapshot(); calls != 0 {
		t.Errorf("Notify called %d times", calls)
	}
	if p := e.post3DS(path, url.Values{"action": {"approve"}, "csrf_token": {csrf}}); p.code != http.StatusBadRequest {
		t.Errorf("unknown action = %d, want 400", p.code)
	}
}

func TestThreeDSNoReturnURL(t *testing.T) {
	for _, returnURL := range []string{"", "javascript:alert(1)", "/relative", "https://user:pw@shop.example/"} {
		e := newEnv(t)
		ref, path, csrf := e.challenge("auth", true, returnURL)
		g := e.get3DS(path)
		if csp := g.header.Get("Content-Security-Policy"); !strings.Contains(csp+";", "form-action 'self';") {
			t.Errorf("%q: CSP = %s", returnURL, csp)
		}
		p := e.post3DS(path, url.Values{"action": {"complete"}, "csrf_token": {csrf}})
		if p.code != http.StatusOK || !strings.Contains(p.body, "Authentication complete. You can close this page.") || p.header.Get("Location") != "" {
			t.Errorf("%q: POST = %d:\n%s", returnURL, p.code, p.body)
		}
		if res := e.retrieve(ref); res.Status != tender.ProviderSucceeded {
			t.Errorf("%q: status = %s", returnURL, res.Status)
		}
	}
}

func TestThreeDSNotFoundAndNotAwaiting(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/sandbox/3ds/" + tender.NewID("sbx"), "/sandbox/3ds/nope", "/sandbox/3ds/sbx_%3Cscript%3E"} {
		if p := e.get3DS(path); p.code != http.StatusNotFound || !strings.Contains(p.body, "does not exist") {
			t.Errorf("GET %s = %d", path, p.code)
		}
		if p := e.post3DS(path, url.Values{"action": {"complete"}}); p.code != http.StatusNotFound {
			t.Errorf("POST %s = %d", path, p.code)
		}
	}
	// A payment that never needed authentication, or no longer does.
	visa := e.authorize("visa", "pm_card_visa", true).Reference
	ref, path, csrf := e.challenge("3ds", true, "https://shop.example/")
	if _, err := e.sb.Cancel(context.Background(), &tender.CancelRequest{ProviderCall: call("c"), Reference: ref}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/sandbox/3ds/" + visa, path} {
		if g := e.get3DS(p); g.code != http.StatusOK || !strings.Contains(g.body, "already complete") {
			t.Errorf("GET %s = %d:\n%s", p, g.code, g.body)
		}
	}
	if p := e.post3DS(path, url.Values{"action": {"complete"}, "csrf_token": {csrf}}); p.code != http.StatusOK || !strings.Contains(p.body, "already complete") {
		t.Errorf("POST on a canceled payment = %d:\n%s", p.code, p.body)
	}
	if res := e.retrieve(ref); res.Status != tender.ProviderCanceled {
		t.Errorf("status = %s", res.Status)
	}
	if _, calls := e.notify.snapshot(); calls != 0 {
		t.Errorf("Notify called %d times", calls)
	}
	rec := httptest.NewRecorder()
	e.sb.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, path, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE = %d", rec.Code)
	}
}

// TestThreeDSNotifyFails: the shopper proceeds, the new status stays, and
// Run delivers the notification later.
func TestThreeDSNotifyFails(t *testing.T) {
	e := newEnv(t)
	ref, path, csrf := e.challenge("auth", true, "https://shop.example/return")
	e.notify.setFail(1)
	p := e.post3DS(path, url.Values{"action": {"complete"}, "csrf_token": {csrf}})
	if p.code != http.StatusSeeOther {
		t.Fatalf("POST = %d", p.code)
	}
	if res := e.retrieve(ref); res.Status != tender.ProviderSucceeded {
		t.Errorf("status = %s", res.Status)
	}
	e.step()
	if _, calls := e.notify.snapshot(); calls != 1 {
		t.Fatalf("Notify calls = %d before the backoff, want 1", calls)
	}
	e.clock.Advance(time.Second)
	e.step()
	events, calls := e.notify.snapshot()
	if calls != 2 || len(events) != 1 || events[0].Reference != ref || events[0].Payment.Status != tender.ProviderSucceeded {
		t.Errorf("after retry: %d calls, events %+v", calls, events)
	}
}
