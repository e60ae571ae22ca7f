package web_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/testserver"
)

// TestConnectLinks: the connection form needs a valid link; its form needs
// the CSRF token; a link works once; return_url must be on the link's
// allowed hosts; the status endpoints follow.
func TestConnectLinks(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		m := e.Merchant
		dash := "https://dash.example.com/stores/1?tab=payments"
		l := e.link(t, m.TestSecretKey, url.Values{"return_url": {dash}})
		if l["object"] != "connect_link" || l["mode"] != "test" || l["return_url"] != dash {
			t.Fatalf("link = %v", l)
		}
		if hosts := fmt.Sprint(l["allowed_redirect_hosts"]); hosts != "[dash.example.com]" {
			t.Errorf("allowed_redirect_hosts = %s, want the return_url's host", hosts)
		}
		exp := int64(l["expires_at"].(float64))
		if d := time.Until(time.Unix(exp, 0)); d < 55*time.Minute || d > 61*time.Minute {
			t.Errorf("expires_at is %s away, want about an hour", d)
		}
		linkURL := l["url"].(string)
		if !strings.HasPrefix(linkURL, e.URL+"/stripe/connect?") {
			t.Fatalf("url = %s", linkURL)
		}

		status := func() string {
			p := e.get(t, "/stripe/status/"+m.ID)
			if p.Status != 200 {
				t.Fatalf("status: %d %s", p.Status, p.Body)
			}
			return strings.TrimSpace(p.Body)
		}
		if got, want := status(), `{"store_id":"`+m.ID+`","has_stripe":false,"is_live_mode":false}`; got != want {
			t.Errorf("status before = %s, want %s", got, want)
		}

		form := e.get(t, pathOf(t, linkURL))
		if form.Status != 200 || !strings.Contains(form.Body, "Connect Stripe to Test Store") {
			t.Fatalf("form: %d\n%s", form.Status, form.Body)
		}
		checkPageHeaders(t, "connect form", form.Header)
		fields := hidden(form)
		if fields.Get("csrf_token") == "" || fields.Get("token") == "" || fields.Get("return_url") != dash {
			t.Fatalf("hidden fields = %v", fields)
		}
		keys := func(f url.Values) url.Values {
			out := url.Values{"publishable_key": {goodPK}, "secret_key": {goodSK}}
			for k, v := range f {
				out[k] = v
			}
			return out
		}

		// No CSRF token, a forged one, one for another link: refused, nothing saved.
		noCSRF := keys(fields)
		noCSRF.Del("csrf_token")
		for name, tok := range map[string]string{"missing": "", "forged": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + ".AAAA"} {
			f := keys(fields)
			f.Set("csrf_token", tok)
			p := e.post(t, "/stripe/connect", f)
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "This form has expired") {
				t.Errorf("%s CSRF token: %d\n%s", name, p.Status, p.Body)
			}
			checkPageHeaders(t, "connect refused", p.Header)
		}
		// Another site's POST (the Origin a browser sends) is refused too.
		cross := e.send(t, "POST", "/stripe/connect", keys(fields), http.Header{"Origin": {"https://evil.example"}})
		if cross.Status != http.StatusForbidden {
			t.Errorf("cross-origin POST: %d", cross.Status)
		}
		if got := status(); !strings.Contains(got, `"has_stripe":false`) {
			t.Fatalf("refused forms connected Stripe: %s", got)
		}

		// return_url on another host: refused on the page and on POST.
		for _, bad := range []string{"https://evil.example/steal", "https://dash.example.com.evil.example/", "https://dash.example.com:8443/", "javascript:alert(1)"} {
			q := url.Values{"store_id": {m.ID}, "token": {fields.Get("token")}, "return_url": {bad}}
			p := e.get(t, "/stripe/connect?"+q.Encode())
			if p.Status != http.StatusBadRequest || strings.Contains(p.Body, "<form") {
				t.Errorf("return_url %s: %d\n%s", bad, p.Status, p.Body)
			}
			checkPageHeaders(t, "bad return_url", p.Header)
			f := keys(fields)
			f.Set("return_url", bad)
			if p := e.post(t, "/stripe/connect", f); p.Status != http.StatusBadRequest {
				t.Errorf("POST return_url %s: %d", bad, p.Status)
			}
		}

		// A live key through a test link: refused on the form.
		live := keys(fields)
		live.Set("publishable_key", livePK)
		live.Set("secret_key", liveSK)
		p := e.post(t, "/stripe/connect", live)
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "this link connects test mode keys only") {
			t.Errorf("live key on a test link: %d\n%s", p.Status, p.Body)
		}

		// Good keys: saved, redirected to the success page, which links back.
		p = e.post(t, "/stripe/connect", keys(fields))
		if p.Status != http.StatusSeeOther {
			t.Fatalf("connect: %d\n%s", p.Status, p.Body)
		}
		loc := p.Header.Get("Location")
		if !strings.HasPrefix(loc, "/stripe/success/"+m.ID+"?") {
			t.Fatalf("Location = %s", loc)
		}
		ok := e.get(t, loc)
		if ok.Status != 200 || !strings.Contains(ok.Body, "Stripe is connected") || !strings.Contains(ok.Body, `href="https://dash.example.com/stores/1?tab=payments"`) {
			t.Fatalf("success page: %d\n%s", ok.Status, ok.Body)
		}
		checkPageHeaders(t, "success page", ok.Header)
		// The success page does not link anywhere it was not sent by a connection.
		u, _ := url.Parse(loc)
		q := u.Query()
		q.Set("return_url", "https://evil.example/")
		if p := e.get(t, u.Path+"?"+q.Encode()); strings.Contains(p.Body, "evil.example") {
			t.Errorf("success page links to an unsigned return_url:\n%s", p.Body)
		}
		if got, want := status(), `{"store_id":"`+m.ID+`","has_stripe":true,"is_live_mode":false}`; got != want {
			t.Errorf("status after = %s, want %s", got, want)
		}
		cfg := e.api(t, "GET", "/v1/provider_configs/stripe", m.TestSecretKey, nil, nil)
		if cfg.Status != 200 || !strings.Contains(string(cfg.Body), `"secret_key":"sk_test_`) || strings.Contains(string(cfg.Body), goodSK) {
			t.Errorf("stripe config: %d %s", cfg.Status, cfg.Body)
		}

		// The link is used up: the same token (even with a fresh CSRF token
		// from before) cannot connect again.
		again := e.post(t, "/stripe/connect", keys(fields))
		if again.Status != http.StatusGone || !strings.Contains(again.Body, "already used") {
			t.Errorf("reused link: %d\n%s", again.Status, again.Body)
		}
		if p := e.get(t, pathOf(t, linkURL)); p.Status != http.StatusGone {
			t.Errorf("GET of a used link: %d", p.Status)
		}

		// Tampered tokens: another store, a longer expiry.
		other := e.NewMerchant(t, "Other Store")
		tok := fields.Get("token")
		parts := strings.Split(tok, ".")
		for name, q := range map[string]url.Values{
			"other store": {"store_id": {other.ID}, "token": {tok}},
			"extended":    {"store_id": {m.ID}, "token": {parts[0] + "." + strconv.FormatInt(exp+86400, 10) + "." + parts[2]}},
			"garbage":     {"store_id": {m.ID}, "token": {"nope"}},
			"none":        {"store_id": {m.ID}},
		} {
			if p := e.get(t, "/stripe/connect?"+q.Encode()); p.Status != http.StatusForbidden || strings.Contains(p.Body, "<form") {
				t.Errorf("%s token: %d", name, p.Status)
			}
		}

		// An expired link.
		short := e.link(t, m.TestSecretKey, url.Values{"expires_in": {"1"}})
		time.Sleep(1100 * time.Millisecond)
		if p := e.get(t, pathOf(t, short["url"].(string))); p.Status != http.StatusGone || !strings.Contains(p.Body, "expired") {
			t.Errorf("expired link: %d\n%s", p.Status, p.Body)
		}

		// Link parameters.
		for name, f := range map[string]url.Values{
			"return_url off the hosts": {"return_url": {"https://a.example/x"}, "allowed_redirect_hosts[]": {"b.example"}},
			"host with a path":         {"allowed_redirect_hosts[]": {"b.example/x"}},
			"host with a scheme":       {"allowed_redirect_hosts[]": {"https://b.example"}},
			"not http":                 {"return_url": {"javascript:alert(1)"}},
			"expires_in":               {"expires_in": {"0"}},
			"unknown":                  {"mode": {"live"}},
		} {
			r := e.api(t, "POST", "/v1/connect_links", m.TestSecretKey, f, nil)
			if r.Status != 400 {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		if r := e.api(t, "POST", "/v1/connect_links", m.TestPublishableKey, nil, nil); r.Status != 403 {
			t.Errorf("publishable key: %d %s", r.Status, r.Body)
		}
		if r := e.api(t, "POST", "/v1/connect_links", "", nil, nil); r.Status != 401 {
			t.Errorf("no key: %d %s", r.Status, r.Body)
		}
		// Several hosts: any may be returned to.
		multi := e.link(t, m.LiveSecretKey, url.Values{"allowed_redirect_hosts[]": {"a.example", "B.example:8443"}})
		if multi["mode"] != "live" || fmt.Sprint(multi["allowed_redirect_hosts"]) != "[a.example b.example:8443]" {
			t.Errorf("multi-host link = %v", multi)
		}
		mq, _ := url.Parse(multi["url"].(string))
		for ret, want := range map[string]int{"https://b.example:8443/x": 200, "https://a.example/": 200, "http://a.example:80/": 200, "https://b.example/": 400} {
			q := mq.Query()
			q.Set("return_url", ret)
			if p := e.get(t, "/stripe/connect?"+q.Encode()); p.Status != want {
				t.Errorf("return_url %s: %d, want %d", ret, p.Status, want)
			}
		}
	})
}

// TestConnectErrors: keys Stripe refuses and keys of the wrong shape are
// shown on the form, and leave the link usable.
func TestConnectErrors(t *testing.T) {
	e := start(t, "sqlite", nil)
	l := e.link(t, e.Merchant.TestSecretKey, nil)
	form := e.get(t, pathOf(t, l["url"].(string)))
	fields := hidden(form)
	try := func(pk, sk, wh string) *page {
		f := url.Values{"publishable_key": {pk}, "secret_key": {sk}, "webhook_secret": {wh}}
		for k, v := range fields {
			f[k] = v
		}
		return e.post(t, "/stripe/connect", f)
	}
	for _, c := range []struct{ pk, sk, wh, want string }{
		{goodPK, badSK, "", "Stripe rejected the secret key"},
		{goodPK, "not-a-key", "", "starts with sk_test_ or sk_live_"},
		{"", goodSK, "", "Enter your Stripe publishable key"},
		{livePK, goodSK, "", "live"},
		{goodPK, goodSK, "nope", "whsec_"},
	} {
		p := try(c.pk, c.sk, c.wh)
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, c.want) || !strings.Contains(p.Body, `aria-invalid="true"`) {
			t.Errorf("%s/%s: %d, want %q on the form\n%s", c.pk, c.sk, p.Status, c.want, p.Body)
		}
		if strings.Contains(p.Body, c.sk) && c.sk != "not-a-key" {
			t.Errorf("the secret key is echoed back")
		}
		if strings.Contains(p.Body, "goroutine") || strings.Contains(p.Body, ".go:") {
			t.Errorf("the page shows a stack trace:\n%s", p.Body)
		}
	}
	// Stripe unreachable: said so, nothing saved, link still usable.
	e.Stripe.FailNext("500", 10)
	p := try(goodPK, goodSK, "")
	if p.Status != http.StatusBadGateway || !strings.Contains(p.Body, "Could not reach") {
		t.Errorf("Stripe down: %d\n%s", p.Status, p.Body)
	}
	e.Stripe.FailNext("500", 0)
	if p := try(goodPK, goodSK, "whsec_abc123"); p.Status != http.StatusSeeOther {
		t.Errorf("after the errors the link should still work: %d\n%s", p.Status, p.Body)
	}
}

// TestInternalAPI: without TENDER_INTERNAL_SECRET, or with a wrong secret,
// every internal route is an unknown route; with it, a platform creates
// stores, asks their status and makes connect links.
func TestInternalAPI(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		off := start(t, kind, map[string]string{"TENDER_INTERNAL_SECRET": ""})
		routes := []struct{ method, path string }{
			{"GET", "/api/internal/stores/" + e.Merchant.ID + "/stripe-status"},
			{"POST", "/api/internal/stores"},
			{"POST", "/api/internal/stores/" + e.Merchant.ID + "/connect_links"},
			{"DELETE", "/api/internal/stores"},
			{"GET", "/api/internal/nothing"},
		}
		unknown := e.api(t, "GET", "/api/nothing-here", "", nil, nil)
		for _, rt := range routes {
			for name, c := range map[string]struct {
				srv *env
				hdr http.Header
			}{
				"unset":        {off, http.Header{"X-Internal-Secret": {secret}}},
				"unset, empty": {off, http.Header{"X-Internal-Secret": {""}}},
				"missing":      {e, nil},
				"wrong":        {e, http.Header{"X-Internal-Secret": {secret + "x"}}},
				"prefix":       {e, http.Header{"X-Internal-Secret": {secret[:10]}}},
			} {
				r := c.srv.api(t, rt.method, rt.path, "", url.Values{"name": {"x"}}, c.hdr)
				if r.Status != 404 {
					t.Errorf("%s %s, secret %s: %d %s", rt.method, rt.path, name, r.Status, r.Body)
					continue
				}
				got, want := jsonOf(t, r)["error"].(map[string]any), jsonOf(t, unknown)["error"].(map[string]any)
				if got["code"] != want["code"] || got["type"] != want["type"] ||
					got["message"] != fmt.Sprintf("Unrecognized request URL (%s: %s).", rt.method, rt.path) {
					t.Errorf("%s %s, secret %s: %v, want the unknown route's answer %v", rt.method, rt.path, name, got, want)
				}
			}
		}

		h := http.Header{"X-Internal-Secret": {secret}}
		r := e.Do(t, testserverJSON("POST", "/api/internal/stores", map[string]any{"name": "Platform Store"}, h))
		if r.Status != 200 {
			t.Fatalf("create store: %d %s", r.Status, r.Body)
		}
		st := jsonOf(t, r)
		id, _ := st["id"].(string)
		if !strings.HasPrefix(id, "mer_") || !strings.HasPrefix(fmt.Sprint(st["test_secret_key"]), "sk_test_") ||
			!strings.HasPrefix(fmt.Sprint(st["live_publishable_key"]), "pk_live_") || st["name"] != "Platform Store" {
			t.Fatalf("store = %v", st)
		}
		// Its keys work.
		if r := e.api(t, "GET", "/v1/account", st["test_secret_key"].(string), nil, nil); r.Status != 200 {
			t.Errorf("the new store's key: %d %s", r.Status, r.Body)
		}
		if r := e.Do(t, testserverJSON("POST", "/api/internal/stores", map[string]any{"name": " "}, h)); r.Status != 400 {
			t.Errorf("blank name: %d", r.Status)
		}
		r = e.api(t, "GET", "/api/internal/stores/"+id+"/stripe-status", "", nil, h)
		if got := strings.TrimSpace(string(r.Body)); r.Status != 200 || got != `{"store_id":"`+id+`","has_stripe":false,"is_live_mode":false}` {
			t.Errorf("status: %d %s", r.Status, got)
		}
		if r := e.api(t, "GET", "/api/internal/stores/mer_nope/stripe-status", "", nil, h); r.Status != 404 {
			t.Errorf("unknown store: %d", r.Status)
		}

		// A platform's link takes keys of either mode; here live ones.
		r = e.api(t, "POST", "/api/internal/stores/"+id+"/connect_links", "", url.Values{"return_url": {"https://platform.example/done"}}, h)
		if r.Status != 200 {
			t.Fatalf("internal link: %d %s", r.Status, r.Body)
		}
		l := jsonOf(t, r)
		if l["mode"] != nil {
			t.Errorf("mode = %v, want null (either)", l["mode"])
		}
		form := e.get(t, pathOf(t, l["url"].(string)))
		f := hidden(form)
		f.Set("publishable_key", livePK)
		f.Set("secret_key", liveSK)
		if p := e.post(t, "/stripe/connect", f); p.Status != http.StatusSeeOther {
			t.Fatalf("connect live: %d %s", p.Status, p.Body)
		}
		r = e.api(t, "GET", "/api/internal/stores/"+id+"/stripe-status", "", nil, h)
		if got := strings.TrimSpace(string(r.Body)); got != `{"store_id":"`+id+`","has_stripe":true,"is_live_mode":true}` {
			t.Errorf("status after: %s", got)
		}
		if r := e.api(t, "POST", "/api/internal/stores/"+id+"/connect_links", "", url.Values{"mode": {"staging"}}, h); r.Status != 400 {
			t.Errorf("bad mode: %d", r.Status)
		}
		if r := e.api(t, "POST", "/api/internal/stores/mer_nope/connect_links", "", nil, h); r.Status != 404 {
			t.Errorf("link for an unknown store: %d %s", r.Status, r.Body)
		}
	})
}

// TestCheckoutHTTP: the checkout form needs its CSRF token; pages carry
// their security headers; finished and unknown sessions get clear pages.
func TestCheckoutHTTP(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		key := e.Merchant.TestSecretKey
		s := e.session(t, key, "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}", "https://shop.example/cart")
		id := s["id"].(string)
		p := e.get(t, pathOf(t, s["url"].(string)))
		if p.Status != 200 {
			t.Fatalf("checkout page: %d\n%s", p.Status, p.Body)
		}
		checkPageHeaders(t, "checkout", p.Header)
		if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://shop.example") || strings.Contains(csp, "stripe") {
			t.Errorf("checkout CSP = %s", csp)
		}
		for _, want := range []string{"Test Store", "Linen shirt", "53.50 USD", "25.00 USD", "50.00 USD", `autocomplete="cc-number"`, `href="https://shop.example/cart"`, "Test mode"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("checkout page lacks %q", want)
			}
		}
		card := url.Values{"method": {"sandbox"}, "card_number": {"4242 4242 4242 4242"}, "card_expiry": {"12/34"}, "card_cvc": {"123"}}
		// Without the CSRF token, or with another session's: refused, not paid.
		other := e.session(t, key, "https://shop.example/thanks", "")
		otherTok := hidden(e.get(t, pathOf(t, other["url"].(string)))).Get("csrf_token")
		for name, tok := range map[string]string{"missing": "", "other session's": otherTok, "tampered": hidden(p).Get("csrf_token") + "x"} {
			f := url.Values{}
			for k, v := range card {
				f[k] = v
			}
			if tok != "" {
				f.Set("csrf_token", tok)
			}
			r := e.post(t, "/checkout/"+id, f)
			if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "This form has expired") {
				t.Errorf("%s CSRF token: %d", name, r.Status)
			}
			checkPageHeaders(t, "checkout refused", r.Header)
		}
		if st, pay := e.sessionStatus(t, key, id); st != "open" || pay != "unpaid" {
			t.Fatalf("after refused forms the session is %s/%s", st, pay)
		}

		// With it: paid, off to success_url with the session id filled in.
		f := hidden(p)
		for k, v := range card {
			f[k] = v
		}
		r := e.post(t, "/checkout/"+id, f)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "https://shop.example/thanks?session="+id {
			t.Fatalf("pay: %d Location %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		if st, pay := e.sessionStatus(t, key, id); st != "complete" || pay != "paid" {
			t.Errorf("session is %s/%s", st, pay)
		}
		// The page of a paid order says so; a replayed form pays nothing more.
		done := e.get(t, "/checkout/"+id)
		if done.Status != 200 || !strings.Contains(done.Body, "This order is paid") {
			t.Errorf("paid page: %d\n%s", done.Status, done.Body)
		}
		checkPageHeaders(t, "paid page", done.Header)
		if r := e.post(t, "/checkout/"+id, f); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/checkout/"+id {
			t.Errorf("replayed form: %d %s", r.Status, r.Header.Get("Location"))
		}
		pis := e.api(t, "GET", "/v1/payment_intents?limit=10", key, nil, nil)
		if n := strings.Count(string(pis.Body), `"object":"payment_intent"`); n != 1 {
			t.Errorf("%d payment intents, want 1", n)
		}

		// Expired, unknown.
		if r := e.api(t, "POST", "/v1/checkout/sessions/"+other["id"].(string)+"/expire", key, nil, nil); r.Status != 200 {
			t.Fatalf("expire: %d %s", r.Status, r.Body)
		}
		exp := e.get(t, "/checkout/"+other["id"].(string))
		if exp.Status != 200 || !strings.Contains(exp.Body, "This checkout has expired") || strings.Contains(exp.Body, "<form") {
			t.Errorf("expired page: %d\n%s", exp.Status, exp.Body)
		}
		checkPageHeaders(t, "expired page", exp.Header)
		for _, path := range []string{"/checkout/cs_nope", "/checkout/cs_00000000000000000000000000"} {
			nf := e.get(t, path)
			if nf.Status != 404 || !strings.Contains(nf.Body, "Checkout not found") {
				t.Errorf("%s: %d", path, nf.Status)
			}
			checkPageHeaders(t, "not found page", nf.Header)
		}

		// Assets are served with their types; nothing else is.
		css := e.get(t, "/static/tender.css")
		if css.Status != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") || css.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("css: %d %v", css.Status, css.Header)
		}
		if js := e.get(t, "/static/pages.js"); js.Status != 200 || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("js: %d", js.Status)
		}
		for _, path := range []string{"/static/nope.css", "/static/..%2fweb.go", "/static/"} {
			if r := e.get(t, path); r.Status == 200 {
				t.Errorf("%s served", path)
			}
		}
	})
}

// TestCheckoutCardErrors: form errors and declines are shown on the page.
func TestCheckoutCardErrors(t *testing.T) {
	e := start(t, "sqlite", nil)
	s := e.session(t, e.Merchant.TestSecretKey, "https://shop.example/thanks", "")
	id := s["id"].(string)
	f := hidden(e.get(t, "/checkout/"+id))
	for _, c := range []struct {
		number, expiry, cvc string
		status              int
		want                string
	}{
		{"4242", "12/34", "123", 422, "Enter the card number"},
		{"4242424242424242", "13/34", "123", 422, "Enter the expiry date as MM/YY"},
		{"4242424242424242", "12/34", "1", 422, "security code"},
		{"4242424242424241", "12/34", "123", 402, "card number is incorrect"},
		{"4000000000000002", "12/34", "123", 402, "Your card was declined"},
		{"4000 0000 0000 9995", "12/2034", "123", 402, "insufficient funds"},
	} {
		f.Set("method", "sandbox")
		f.Set("card_number", c.number)
		f.Set("card_expiry", c.expiry)
		f.Set("card_cvc", c.cvc)
		p := e.post(t, "/checkout/"+id, f)
		if p.Status != c.status || !strings.Contains(p.Body, c.want) || !strings.Contains(p.Body, `role="alert"`) {
			t.Errorf("%s %s %s: %d, want %d and %q\n%s", c.number, c.expiry, c.cvc, p.Status, c.status, c.want, p.Body)
		}
		checkPageHeaders(t, "checkout error", p.Header)
	}
	if st, pay := e.sessionStatus(t, e.Merchant.TestSecretKey, id); st != "open" || pay != "unpaid" {
		t.Errorf("session is %s/%s", st, pay)
	}
}

// TestCheckoutStripe: with Stripe first among the store's options, the
// page loads Stripe.js with the store's publishable key and the
// PaymentIntent's client secret, and its CSP allows Stripe and nothing
// more. Stripe.js cannot run here: the test confirms the PaymentIntent at
// the fake as Stripe.js would and sends Stripe's webhook; the shopper,
// back from Stripe, goes on to success_url.
func TestCheckoutStripe(t *testing.T) {
	e := start(t, "sqlite", nil)
	key := e.Merchant.TestSecretKey
	const whsec = "whsec_test_checkoutpage0123456789"
	r := e.api(t, "PUT", "/v1/provider_configs/stripe", key, url.Values{"credentials[publishable_key]": {goodPK},
		"credentials[secret_key]": {goodSK}, "credentials[webhook_secret]": {whsec}}, nil)
	if r.Status != 200 {
		t.Fatalf("configure stripe: %d %s", r.Status, r.Body)
	}
	s := e.session(t, key, "https://shop.example/thanks", "")
	id := s["id"].(string)
	secretRE := regexp.MustCompile(`data-client-secret="((pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+)"`)
	var clientSecret, stripePI string
	for i := 0; i < 2; i++ {
		p := e.get(t, "/checkout/"+id)
		if p.Status != 200 {
			t.Fatalf("page: %d\n%s", p.Status, p.Body)
		}
		checkPageHeaders(t, "stripe checkout", p.Header)
		csp := p.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self' https://js.stripe.com", "frame-src https://js.stripe.com", "https://hooks.stripe.com", "connect-src https://api.stripe.com"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		for _, want := range []string{`<script src="https://js.stripe.com/v3/" defer></script>`, `data-publishable-key="` + goodPK + `"`,
			`data-return-url="` + e.URL + `/checkout/` + id + `"`, "Credit/Debit Card", "Test card"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("page lacks %s", want)
			}
		}
		m := secretRE.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no client secret on the page:\n%s", p.Body)
		}
		if clientSecret != "" && m[1] != clientSecret {
			t.Errorf("a second view has another client secret: %s, then %s", clientSecret, m[1])
		}
		clientSecret, stripePI = m[1], m[2]
		if strings.Contains(p.Body, goodSK) {
			t.Fatal("the page shows the secret key")
		}
	}
	if n := e.Stripe.Created("acct_good"); n != 1 {
		t.Errorf("%d PaymentIntents created at Stripe for two page views, want 1", n)
	}
	// The sandbox option's page allows no Stripe.
	if p := e.get(t, "/checkout/"+id+"?method=sandbox"); strings.Contains(p.Header.Get("Content-Security-Policy"), "stripe") || !strings.Contains(p.Body, `autocomplete="cc-number"`) {
		t.Errorf("sandbox option: CSP %s", p.Header.Get("Content-Security-Policy"))
	}
	// Stripe.js confirms; back from Stripe before its webhook, the page
	// waits and reloads.
	if err := e.Stripe.ConfirmClientSide(stripePI, "pm_card_visa"); err != nil {
		t.Fatal(err)
	}
	back := "/checkout/" + id + "?payment_intent=" + stripePI + "&payment_intent_client_secret=" + clientSecret + "&redirect_status=succeeded"
	p := e.get(t, back)
	if p.Status != 200 || !strings.Contains(p.Body, "Confirming your payment") || !strings.Contains(p.Body, `<meta http-equiv="refresh" content="2">`) {
		t.Errorf("returning page: %d\n%s", p.Status, p.Body)
	}
	checkPageHeaders(t, "confirming page", p.Header)
	// Stripe's webhook completes the order; the next reload goes on.
	ev, err := e.Stripe.Event("payment_intent.succeeded", stripePI)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(whsec))
	now := time.Now().Unix()
	fmt.Fprintf(mac, "%d.%s", now, ev)
	sig := fmt.Sprintf("t=%d,v1=%s", now, hex.EncodeToString(mac.Sum(nil)))
	r = e.Do(t, testserver.Request{Method: "POST", Path: "/v1/webhooks/stripe/" + e.Merchant.ID, Raw: ev,
		Header: http.Header{"Content-Type": {"application/json"}, "Stripe-Signature": {sig}}})
	if r.Status/100 != 2 {
		t.Fatalf("webhook: %d %s", r.Status, r.Body)
	}
	if st, pay := e.sessionStatus(t, key, id); st != "complete" || pay != "paid" {
		t.Fatalf("session is %s/%s", st, pay)
	}
	p = e.get(t, back)
	if !strings.Contains(p.Body, `<meta http-equiv="refresh" content="0;url=https://shop.example/thanks">`) {
		t.Errorf("paid, back from Stripe:\n%s", p.Body)
	}
}

// TestEveryPageHeaders: every kind of page, including errors, carries the
// CSP and framing headers.
func TestEveryPageHeaders(t *testing.T) {
	e := start(t, "sqlite", nil)
	m := e.Merchant
	key := m.TestSecretKey
	open := e.session(t, key, "https://shop.example/thanks", "https://shop.example/cart")
	paid := e.session(t, key, "https://shop.example/thanks", "")
	f := hidden(e.get(t, pathOf(t, paid["url"].(string))))
	f.Set("method", "sandbox")
	f.Set("card_number", "4242424242424242")
	f.Set("card_expiry", "12/34")
	f.Set("card_cvc", "123")
	if p := e.post(t, "/checkout/"+paid["id"].(string), f); p.Status != http.StatusSeeOther {
		t.Fatalf("pay: %d", p.Status)
	}
	l := e.link(t, key, nil)
	pages := map[string]int{
		"/stripe/connect": http.StatusForbidden,
		"/stripe/connect?store_id=" + m.ID + "&token=a.b.c":               http.StatusForbidden,
		pathOf(t, l["url"].(string)):                                      http.StatusOK,
		"/stripe/success/" + m.ID:                                         http.StatusOK,
		"/stripe/success/mer_nope":                                        http.StatusNotFound,
		"/checkout/" + open["id"].(string):                                http.StatusOK,
		"/checkout/" + open["id"].(string) + "?method=nope":               http.StatusOK,
		"/checkout/" + paid["id"].(string):                                http.StatusOK,
		"/checkout/" + paid["id"].(string) + "?redirect_status=succeeded": http.StatusOK,
		"/checkout/cs_nope":                                               http.StatusNotFound,
	}
	for path, status := range pages {
		p := e.get(t, path)
		if p.Status != status {
			t.Errorf("%s: %d, want %d", path, p.Status, status)
		}
		checkPageHeaders(t, path, p.Header)
	}
	// Back from a payment page: the way on to success_url is a page that
	// moves on by itself (a redirect would be held to the payment page's
	// form-action by the browser).
	p := e.get(t, "/checkout/"+paid["id"].(string)+"?redirect_status=succeeded")
	if !strings.Contains(p.Body, `<meta http-equiv="refresh" content="0;url=https://shop.example/thanks">`) ||
		!strings.Contains(p.Body, `href="https://shop.example/thanks"`) {
		t.Errorf("return page:\n%s", p.Body)
	}
	if p := e.send(t, "POST", "/checkout/"+open["id"].(string), url.Values{}, nil); p.Status != http.StatusForbidden {
		t.Errorf("POST without a token: %d", p.Status)
	} else {
		checkPageHeaders(t, "refused POST", p.Header)
	}
}

// TestConnectLinkOnce: of concurrent submissions of one link, exactly one
// connects.
func TestConnectLinkOnce(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		l := e.link(t, e.Merchant.TestSecretKey, nil)
		f := hidden(e.get(t, pathOf(t, l["url"].(string))))
		f.Set("publishable_key", goodPK)
		f.Set("secret_key", goodSK)
		const n = 6
		statuses := make(chan int, n)
		for range n {
			go func() {
				req, _ := http.NewRequest("POST", e.URL+"/stripe/connect", strings.NewReader(f.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := noRedirect().Do(req)
				if err != nil {
					statuses <- 0
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}()
		}
		got := map[int]int{}
		for range n {
			got[<-statuses]++
		}
		if got[http.StatusSeeOther] != 1 || got[http.StatusGone] != n-1 {
			t.Errorf("statuses %v, want one 303 and %d 410", got, n-1)
		}
	})
}
