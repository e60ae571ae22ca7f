package stripe

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/internal/stripefake"
)

// newFake starts a fake Stripe (internal/stripefake) that stops when the
// test ends.
func newFake(t *testing.T) *stripefake.Fake {
	t.Helper()
	f := stripefake.New()
	t.Cleanup(f.Close)
	return f
}

// Keys of the two test merchants. They look like real keys so that the
// log test can look for them.
const (
	keyA = "sk_test_51AaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa00secretA"
	keyB = "sk_test_51BbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBb00secretB"
	pkA  = "pk_test_51AaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa00publicA"
	pkB  = "pk_test_51BbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBb00publicB"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestProvider returns a provider pointed at url, logging at debug
// level into a buffer that is checked, when the test ends, for any secret
// key the tests use.
func newTestProvider(t *testing.T, url string, opts ...func(*Options)) (*Provider, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	opt := Options{APIURL: url, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, o := range opts {
		o(&opt)
	}
	t.Cleanup(func() { assertNoSecrets(t, logs.String()) })
	return New(opt), logs
}

// noRetries turns off every retry below the provider, so that a fault
// reaches it: the SDK's, and net/http's own (a request with an
// Idempotency-Key is replayable, and the transport re-sends it by itself
// when a reused connection turns out closed).
func noRetries(o *Options) {
	o.NetworkRetries = -1
	o.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func assertNoSecrets(t *testing.T, logs string) {
	t.Helper()
	for _, k := range []string{keyA, keyB, keyA[8:], keyB[8:], "fakeClientSecret123"} {
		if strings.Contains(logs, k) {
			t.Errorf("logs contain a secret (%s…):\n%s", k[:12], logs)
		}
	}
}

func testCall(key, merchant, idem string) tender.ProviderCall {
	return tender.ProviderCall{MerchantID: merchant, Credentials: tender.Credentials{CredSecretKey: key, CredPublishableKey: pkA},
		IdempotencyKey: idem}
}

func usd() tender.Currency { return tender.MustCurrency("usd") }

// isUnknown reports whether err means "outcome unknown": an error, but not
// a *tender.Error (which Tender reads as a definite refusal).
func isUnknown(err error) bool {
	_, definite := tender.AsError(err)
	return err != nil && !definite
}

// memLedger is an in-memory tender.ProviderLedger (Tender's sqlstore in
// production).
type memLedger struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemLedger() *memLedger { return &memLedger{m: map[string][]byte{}} }

func (l *memLedger) LedgerUpdate(ctx context.Context, provider, key string, fn func(old []byte) ([]byte, time.Time, error)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, _, err := fn(l.m[provider+"|"+key])
	if err != nil {
		return err
	}
	if v != nil {
		l.m[provider+"|"+key] = v
	}
	return nil
}

func (l *memLedger) LedgerGet(ctx context.Context, provider, key string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[provider+"|"+key]
	if !ok {
		return nil, tender.ErrNotFound
	}
	return b, nil
}

func (l *memLedger) LedgerDue(ctx context.Context, provider string, now time.Time, limit int) ([]string, error) {
	return nil, nil
}

func (l *memLedger) LedgerCount(ctx context.Context, provider, prefix string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.m))
	for k := range l.m {
		if strings.HasPrefix(k, provider+"|"+prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return len(keys), nil
}
