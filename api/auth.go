package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/ratelimit"
)

// Auth is who is calling: a key, its merchant and its mode. Every
// tenant-owned query a handler makes filters by MerchantID and Livemode.
type Auth struct {
	Key        *tender.APIKey
	MerchantID string
	Livemode   bool
}

// AuthFrom returns the authenticated caller of a request (nil on public routes).
func AuthFrom(ctx context.Context) *Auth {
	if s := state(ctx); s != nil {
		return s.auth
	}
	return nil
}

func authOf(r *http.Request) *Auth { return AuthFrom(r.Context()) }

// touchEvery bounds how often a key's last_used_at is written: at most once
// a minute per key per instance, instead of a write on every request.
const touchEvery = time.Minute

// presentedKey finds the key in a request: Authorization: Bearer KEY,
// HTTP Basic with the key as user name (Stripe's SDKs and curl -u KEY:),
// or X-API-Key (seed 001).
func presentedKey(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		cred = strings.TrimSpace(cred)
		switch strings.ToLower(scheme) {
		case "bearer":
			return cred, true
		case "basic":
			raw, err := base64.StdEncoding.DecodeString(cred)
			if err != nil {
				return "", true
			}
			user, _, _ := strings.Cut(string(raw), ":")
			return user, true
		}
		return "", true
	}
	if k := r.Header.Get("X-API-Key"); k != "" {
		return strings.TrimSpace(k), true
	}
	return "", false
}

// redactKey shows enough of a presented key to recognise it and never
// enough to use it.
func redactKey(k string) string {
	if _, _, ok := tender.ParseAPIKey(k); ok {
		return k[:8] + "…" + k[len(k)-4:]
	}
	return "(malformed)"
}

func (s *Server) authenticate(r *http.Request, rt Route) (*Auth, error) {
	plain, sent := presentedKey(r)
	if !sent {
		return nil, &tender.Error{Type: tender.AuthenticationError, Code: tender.CodeAPIKeyInvalid,
			Message: "You did not provide an API key. Provide your secret key in the Authorization header using Bearer auth (Authorization: Bearer sk_test_…), HTTP Basic auth with the key as user name (curl -u sk_test_…:), or the X-API-Key header."}
	}
	invalid := &tender.Error{Type: tender.AuthenticationError, Code: tender.CodeAPIKeyInvalid,
		Message: "Invalid API key provided: " + redactKey(plain) + "."}
	kind, _, ok := tender.ParseAPIKey(plain)
	if !ok {
		return nil, invalid
	}
	key, err := s.keys.lookup(r.Context(), s.store, tender.HashAPIKey(plain), s.now())
	if errors.Is(err, tender.ErrNotFound) {
		return nil, invalid
	}
	if err != nil {
		return nil, err
	}
	if key.Revoked() {
		return nil, &tender.Error{Type: tender.AuthenticationError, Code: tender.CodeAPIKeyExpired,
			Message: "This API key has been revoked: " + redactKey(plain) + "."}
	}
	a := &Auth{Key: key, MerchantID: key.MerchantID, Livemode: key.Livemode}
	if st := state(r.Context()); st != nil {
		st.auth = a // the access log names the key even if a check below refuses it
	}
	s.touch(key)
	if kind == tender.PublishableKey && !rt.Browser {
		return nil, &tender.Error{Type: tender.PermissionError, Code: tender.CodeInsufficientScope,
			Message: "This API call cannot be made with a publishable API key. Use a secret or restricted key."}
	}
	if rt.Scope != "" && kind == tender.RestrictedKey && !key.Allows(rt.Scope) {
		return nil, &tender.Error{Type: tender.PermissionError, Code: tender.CodeInsufficientScope,
			Message: fmt.Sprintf("The provided key '%s' does not have the required permissions for this endpoint. Having the '%s' scope would allow this request to continue.", key.Redacted(), rt.Scope)}
	}
	return a, nil
}

// touch records a key's use in the background, once per touchEvery.
func (s *Server) touch(k *tender.APIKey) {
	now := s.now()
	if k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) < touchEvery {
		return
	}
	if last, ok := s.touched.Load(k.ID); ok && now.Sub(last.(time.Time)) < touchEvery {
		return
	}
	s.touched.Store(k.ID, now)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.store.TouchAPIKey(ctx, k.ID, now); err != nil {
			s.log.Warn("record key use", "key_id", k.ID, "error", err)
		}
	}()
}

// limit spends one request of the key's budget, and one of its payment
// budget on payment-creating routes. The response carries the RateLimit-*
// headers of the general budget; a refusal carries Retry-After. If the
// limiter itself fails (Redis down), the request goes through: refusing
// payments because a rate-limit cache is down would be the worse failure.
func (s *Server) limit(w http.ResponseWriter, r *http.Request, a *Auth, rt Route) error {
	if s.cfg.Limiter == nil {
		return nil
	}
	check := func(key string, perMinute int, headers bool) error {
		if perMinute <= 0 {
			return nil
		}
		res, err := s.cfg.Limiter.Allow(r.Context(), key, ratelimit.Limit{PerMinute: perMinute})
		if err != nil {
			s.log.Warn("rate limiter unavailable; allowing request", "request_id", RequestID(r.Context()), "error", err)
			return nil
		}
		if headers || !res.Allowed {
			h := w.Header()
			h.Set("RateLimit-Limit", strconv.Itoa(res.Limit))
			h.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
			h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(res.ResetAfter)))
		}
		if !res.Allowed {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(res.RetryAfter))))
			return &tender.Error{Type: tender.RateLimitError, Code: tender.CodeRateLimit,
				Message: "Too many requests hit the API too quickly. Retry after the time in the Retry-After header."}
		}
		return nil
	}
	if err := check(a.Key.ID, s.cfg.RateLimit, true); err != nil {
		return err
	}
	if rt.Payment {
		return check(a.Key.ID+":payments", s.cfg.PaymentRateLimit, false)
	}
	return nil
}

func ceilSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}
