package web_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenderhq/tender/internal/testdb"
)

// Browser tests drive Debian's Chromium (apt-get install chromium) from Go
// with chromedp. Without Chromium they skip, except in CI (CI set), where
// it is installed and its absence is a failure.

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	dir    string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dir != "" {
		os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// chromiumPath finds Chromium (TENDER_TEST_CHROMIUM, else
// /usr/bin/chromium), or skips the test without it — except in CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("TENDER_TEST_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("Chromium is not installed at %s: CI must run the browser tests (.ci/run installs it)", path)
	}
	t.Skipf("Chromium is not installed at %s (apt-get install chromium); skipping the browser tests", path)
	return ""
}

// browserKind is the database the browser tests run on: PostgreSQL when
// it is available (as in CI), else SQLite. The HTTP tests cover both.
func browserKind(t *testing.T) string {
	kinds := testdb.Kinds(t)
	return kinds[len(kinds)-1]
}

// viewport sizes: a phone and a desktop.
type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

var (
	phone   = viewport{"phone", 390, 844, true}
	desktop = viewport{"desktop", 1280, 860, false}
)

// newTab opens a tab of the shared headless browser, sized to vp. Every
// action in the tab must finish within the test's deadline.
func newTab(t *testing.T, vp viewport) context.Context {
	t.Helper()
	path := chromiumPath(t)
	browser.once.Do(func() {
		dir, err := os.MkdirTemp("", "tender-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		browser.dir = dir
		actx, acancel := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.UserDataDir(dir),
		)
		bctx, bcancel := chromedp.NewContext(actx)
		// The first run starts the browser; it lives as long as bctx.
		if err := chromedp.Do(bctx); err != nil {
			browser.err = err
			bcancel()
			acancel()
			return
		}
		browser.ctx, browser.cancel = bctx, func() { bcancel(); acancel() }
	})
	if browser.err != nil {
		t.Fatalf("start Chromium: %v", browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx)
	t.Cleanup(cancel)
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if vp.mobile {
		opts = []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(vp.width, vp.height, opts...)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(tcancel)
	return tctx
}

// run runs browser actions or fails the test, with a screenshot of where
// it stopped.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		screenshot(t, ctx, "failed-"+strings.ReplaceAll(what, " ", "-"))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// screenshot saves the whole page as a PNG in the test's artifact
// directory (go test -artifacts keeps them, under -outputdir).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
}

// fill types into form fields, by id, replacing what they held.
func fill(fields ...string) chromedp.Action[chromedp.Void] {
	var steps []chromedp.Action[chromedp.Void]
	for i := 0; i+1 < len(fields); i += 2 {
		steps = append(steps, clearField(fields[i]), chromedp.SendKeys(chromedp.ID(fields[i]), fields[i+1]))
	}
	return chromedp.Steps(steps...)
}

// clearField empties an input, as a user selecting its text and deleting
// it would.
func clearField(id string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool](`(function(){var e=document.getElementById(`+strconv.Quote(id)+`);e.value="";return true})()`)(ctx, t)
		return chromedp.Void{}, err
	}
}

// TestBrowserConnect: a merchant connects Stripe through a connect link,
// after a key Stripe refuses; an expired link says so.
func TestBrowserConnect(t *testing.T) {
	chromiumPath(t)
	e := start(t, browserKind(t), nil)
	dash := newShop(t)
	m := e.Merchant
	l := e.link(t, m.TestSecretKey, url.Values{"return_url": {dash.URL + "/dashboard?store=1"}})

	ctx := newTab(t, phone)
	run(t, ctx, "open the connect form", chromedp.Navigate(l["url"].(string)), chromedp.WaitVisible(chromedp.ID("publishable_key")))
	if h := text(t, ctx, "h1"); h != "Connect Stripe to Test Store" {
		t.Errorf("heading = %q", h)
	}
	screenshot(t, ctx, "connect-form-phone")

	// A key Stripe refuses: the error is on the form, next to the field.
	run(t, ctx, "submit a bad key",
		fill("publishable_key", goodPK, "secret_key", badSK),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	if s := text(t, ctx, ".error-summary"); !strings.Contains(s, "Stripe did not accept these keys") || !strings.Contains(s, "Stripe rejected the secret key") {
		t.Errorf("error summary = %q", s)
	}
	if s := text(t, ctx, "#secret_key-error"); !strings.Contains(s, "Stripe rejected the secret key") {
		t.Errorf("field error = %q", s)
	}
	if focused, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "form-error" {
		t.Errorf("focus is on %q, want the error summary", focused)
	}
	screenshot(t, ctx, "connect-bad-key-phone")

	// Good keys (the publishable key is still filled in).
	run(t, ctx, "submit good keys",
		fill("secret_key", goodSK),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".icon-ok")))
	if h := text(t, ctx, "h1"); h != "Stripe is connected" {
		t.Errorf("success heading = %q", h)
	}
	screenshot(t, ctx, "connect-success-phone")
	p := e.get(t, "/stripe/status/"+m.ID)
	if got := strings.TrimSpace(p.Body); got != `{"store_id":"`+m.ID+`","has_stripe":true,"is_live_mode":false}` {
		t.Errorf("status = %s", got)
	}
	run(t, ctx, "return to the dashboard", chromedp.Click(chromedp.CSS("a.button")))
	if got := dash.wait(t, 10*time.Second); got != "/dashboard?store=1" {
		t.Errorf("returned to %s", got)
	}

	// An expired link, on a desktop.
	short := e.link(t, m.TestSecretKey, url.Values{"expires_in": {"1"}})
	time.Sleep(1100 * time.Millisecond)
	dctx := newTab(t, desktop)
	run(t, dctx, "open an expired link", chromedp.Navigate(short["url"].(string)), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := text(t, dctx, "h1"); h != "This link has expired" {
		t.Errorf("expired link heading = %q", h)
	}
	if n, _ := chromedp.Run(dctx, chromedp.Evaluate[int](`document.forms.length`)); n != 0 {
		t.Errorf("the expired link's page has %d forms", n)
	}
	screenshot(t, dctx, "connect-expired-desktop")
}

// TestBrowserCheckout: shoppers pay on the hosted checkout page with the
// sandbox's test cards (success, a decline, 3-D Secure) and place a manual
// (check) order.
func TestBrowserCheckout(t *testing.T) {
	chromiumPath(t)
	e := start(t, browserKind(t), nil)
	shop := newShop(t)
	key := e.Merchant.TestSecretKey
	newSession := func(t *testing.T, key string) (id, pageURL string) {
		s := e.session(t, key, shop.URL+"/thanks?cs={CHECKOUT_SESSION_ID}", shop.URL+"/cart")
		return s["id"].(string), s["url"].(string)
	}
	payWith := func(number string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			fill("card_number", number, "card_expiry", "12/34", "card_cvc", "123", "cardholder_name", "Ada Lovelace"),
			chromedp.Click(chromedp.CSS("form button[type=submit]")))
	}

	t.Run("card", func(t *testing.T) {
		id, u := newSession(t, key)
		ctx := newTab(t, desktop)
		run(t, ctx, "open checkout", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.ID("card_number")))
		for sel, want := range map[string]string{".amount-due": "53.50 USD", "h1": "Pay 53.50 USD", ".store": "Test Store", ".banner": "Test mode"} {
			if got := text(t, ctx, sel); !strings.Contains(got, want) {
				t.Errorf("%s = %q, want %q", sel, got, want)
			}
		}
		if s := text(t, ctx, ".summary"); !strings.Contains(s, "Linen shirt") || !strings.Contains(s, "Gift wrap") {
			t.Errorf("summary = %q", s)
		}
		// The style sheet loaded under the page's CSP.
		if bg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("button[type=submit]")).backgroundColor`)); bg != "rgb(67, 56, 202)" {
			t.Errorf("the pay button's background is %q: tender.css did not apply", bg)
		}
		screenshot(t, ctx, "checkout-desktop")
		run(t, ctx, "pay with 4242", payWith("4242 4242 4242 4242"))
		if got := shop.wait(t, 15*time.Second); got != "/thanks?cs="+id {
			t.Errorf("success_url hit = %s", got)
		}
		run(t, ctx, "land on success_url", chromedp.WaitVisible(chromedp.CSS("h1")))
		if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != shop.URL+"/thanks?cs="+id {
			t.Errorf("browser is at %s", loc)
		}
		if st, pay := e.sessionStatus(t, key, id); st != "complete" || pay != "paid" {
			t.Errorf("session is %s/%s", st, pay)
		}
	})

	t.Run("declined", func(t *testing.T) {
		id, u := newSession(t, key)
		ctx := newTab(t, phone)
		run(t, ctx, "open checkout", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.ID("card_number")))
		screenshot(t, ctx, "checkout-phone")
		run(t, ctx, "pay with a declined card", payWith("4000 0000 0000 0002"), chromedp.WaitVisible(chromedp.CSS(".error-summary")))
		if s := text(t, ctx, ".error-summary"); !strings.Contains(s, "Your card was declined.") {
			t.Errorf("decline shown as %q", s)
		}
		if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("cardholder_name"))); v != "Ada Lovelace" {
			t.Errorf("the name was not kept: %q", v)
		}
		screenshot(t, ctx, "checkout-declined-phone")
		if st, pay := e.sessionStatus(t, key, id); st != "open" || pay != "unpaid" {
			t.Errorf("session is %s/%s", st, pay)
		}
		// Another card on the same page then pays.
		run(t, ctx, "pay again", payWith("5555555555554444"))
		if got := shop.wait(t, 15*time.Second); got != "/thanks?cs="+id {
			t.Errorf("success_url hit = %s", got)
		}
	})

	t.Run("3ds", func(t *testing.T) {
		id, u := newSession(t, key)
		ctx := newTab(t, phone)
		run(t, ctx, "pay with the 3-D Secure card", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.ID("card_number")),
			payWith("4000 0000 0000 3220"), chromedp.WaitVisible(chromedp.CSS(`button[value="complete"]`)))
		if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasPrefix(loc, e.URL+"/sandbox/3ds/") {
			t.Errorf("challenge at %s", loc)
		}
		screenshot(t, ctx, "sandbox-3ds-phone")
		run(t, ctx, "complete the challenge", chromedp.Click(chromedp.CSS(`button[value="complete"]`)))
		if got := shop.wait(t, 15*time.Second); got != "/thanks?cs="+id {
			t.Errorf("success_url hit = %s", got)
		}
		if st, pay := e.sessionStatus(t, key, id); st != "complete" || pay != "paid" {
			t.Errorf("session is %s/%s", st, pay)
		}
	})

	t.Run("3ds failed", func(t *testing.T) {
		id, u := newSession(t, key)
		ctx := newTab(t, phone)
		run(t, ctx, "fail the challenge", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.ID("card_number")),
			payWith("4000 0000 0000 3220"), chromedp.WaitVisible(chromedp.CSS(`button[value="fail"]`)),
			chromedp.Click(chromedp.CSS(`button[value="fail"]`)), chromedp.WaitVisible(chromedp.CSS(".error-summary")))
		if s := text(t, ctx, ".error-summary"); !strings.Contains(strings.ToLower(s), "authenticat") {
			t.Errorf("failed challenge shown as %q", s)
		}
		if st, pay := e.sessionStatus(t, key, id); st != "open" || pay != "unpaid" {
			t.Errorf("session is %s/%s", st, pay)
		}
	})

	t.Run("manual", func(t *testing.T) {
		m := e.NewMerchant(t, "Paper Goods")
		instr := "Make checks payable to Paper Goods, 1 Main St, Springfield."
		r := e.api(t, "PUT", "/v1/provider_configs/manual", m.TestSecretKey, url.Values{"enabled": {"true"}, "settings[instructions]": {instr}}, nil)
		if r.Status != 200 {
			t.Fatalf("configure manual: %d %s", r.Status, r.Body)
		}
		id, u := newSession(t, m.TestSecretKey)
		ctx := newTab(t, phone)
		run(t, ctx, "open checkout", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(".instructions")))
		if s := text(t, ctx, ".instructions"); !strings.Contains(s, instr) {
			t.Errorf("instructions = %q", s)
		}
		if s := text(t, ctx, "nav.options"); !strings.Contains(s, "Check / Money Order") || !strings.Contains(s, "Test card") {
			t.Errorf("options = %q", s)
		}
		screenshot(t, ctx, "checkout-manual-phone")
		run(t, ctx, "place the order", chromedp.Click(chromedp.CSS("form button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS(".ref")))
		if h := text(t, ctx, "h1"); h != "Order placed" {
			t.Errorf("heading = %q", h)
		}
		if s := text(t, ctx, ".instructions"); !strings.Contains(s, instr) || !strings.Contains(s, "man_") {
			t.Errorf("placed order's instructions = %q", s)
		}
		screenshot(t, ctx, "checkout-manual-placed-phone")
		if st, pay := e.sessionStatus(t, m.TestSecretKey, id); st != "complete" || pay != "awaiting_payment" {
			t.Errorf("session is %s/%s", st, pay)
		}
		r = e.api(t, "GET", "/v1/checkout/sessions/"+id, m.TestSecretKey, nil, nil)
		if !strings.Contains(string(r.Body), `"payment_status":"awaiting_payment"`) {
			t.Errorf("session: %s", r.Body)
		}
	})
}
