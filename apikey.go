package tender

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// KeyKind is the kind of an API key, told by its prefix.
type KeyKind string

// The three kinds of API key, as Stripe has them.
const (
	// SecretKey (sk_…) can do everything its merchant can, in its mode.
	SecretKey KeyKind = "secret"
	// PublishableKey (pk_…) is safe in a browser: it reaches only the few
	// endpoints marked for browsers.
	PublishableKey KeyKind = "publishable"
	// RestrictedKey (rk_…) is a secret key limited to a set of scopes.
	RestrictedKey KeyKind = "restricted"
)

// Scope is a permission a restricted key may hold (seed 001's scopes).
type Scope string

// The scopes of seed 001.
const (
	ScopePaymentsRead  Scope = "payments:read"
	ScopePaymentsWrite Scope = "payments:write"
	ScopeMerchantRead  Scope = "merchant:read"
	ScopeMerchantWrite Scope = "merchant:write"
	ScopeWebhooksRead  Scope = "webhooks:read"
	ScopeWebhooksWrite Scope = "webhooks:write"
)

// AllScopes lists every scope, in a stable order.
var AllScopes = []Scope{ScopePaymentsRead, ScopePaymentsWrite, ScopeMerchantRead,
	ScopeMerchantWrite, ScopeWebhooksRead, ScopeWebhooksWrite}

// ParseScopes parses a comma-separated list of scopes, rejecting unknown ones.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sc := Scope(part)
		if !slices.Contains(AllScopes, sc) {
			return nil, InvalidParam(CodeParameterInvalid, "scopes", "Unknown scope %q; known scopes: %s.", part, joinScopes(AllScopes))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, InvalidParam(CodeParameterMissing, "scopes", "A restricted key needs at least one scope.")
	}
	return out, nil
}

func joinScopes(s []Scope) string {
	parts := make([]string, len(s))
	for i, sc := range s {
		parts[i] = string(sc)
	}
	return strings.Join(parts, ",")
}

// APIKey is a stored API key. The key itself is shown once, when created;
// only its SHA-256 hash is kept, with a prefix and last four characters for
// people to recognise it by. (The key is 238 random bits, so a plain hash
// is as strong as a slow one and lets authentication be one index lookup.)
type APIKey struct {
	ID         string
	MerchantID string
	Livemode   bool
	Kind       KeyKind
	Scopes     []Scope // restricted keys only
	Hash       string  // hex SHA-256 of the key
	Last4      string
	Created    time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
}

// keyBodyLen is the number of random base62 characters after the prefix.
const keyBodyLen = 40

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Prefix is the visible start of the key, such as "rk_live_".
func (k *APIKey) Prefix() string { return keyPrefix(k.Kind, k.Livemode) }

// Redacted is how the key is shown after creation: "sk_test_…abcd".
func (k *APIKey) Redacted() string { return k.Prefix() + "…" + k.Last4 }

// Allows reports whether the key carries scope. Secret keys carry all
// scopes; publishable keys none (they are let through only on routes
// marked for browsers, which need no scope).
func (k *APIKey) Allows(s Scope) bool {
	switch k.Kind {
	case SecretKey:
		return true
	case RestrictedKey:
		return slices.Contains(k.Scopes, s)
	}
	return false
}

// Revoked reports whether the key was revoked.
func (k *APIKey) Revoked() bool { return k.RevokedAt != nil }

func keyPrefix(kind KeyKind, live bool) string {
	mode := "test_"
	if live {
		mode = "live_"
	}
	switch kind {
	case PublishableKey:
		return "pk_" + mode
	case RestrictedKey:
		return "rk_" + mode
	default:
		return "sk_" + mode
	}
}

// NewAPIKey makes a key for a merchant. It returns the stored form and the
// plaintext key, which the caller shows once and then forgets.
func NewAPIKey(merchantID string, kind KeyKind, live bool, scopes []Scope, now time.Time) (*APIKey, string) {
	body := make([]byte, keyBodyLen)
	var buf [64]byte
	for n := 0; n < keyBodyLen; {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("tender: crypto/rand failed: " + err.Error())
		}
		for _, c := range buf {
			// 248 = 4*62: rejecting bytes above it keeps every character equally likely.
			if c < 248 && n < keyBodyLen {
				body[n] = base62[c%62]
				n++
			}
		}
	}
	plain := keyPrefix(kind, live) + string(body)
	if kind != RestrictedKey {
		scopes = nil
	}
	return &APIKey{
		ID:         NewID(PrefixAPIKey),
		MerchantID: merchantID,
		Livemode:   live,
		Kind:       kind,
		Scopes:     scopes,
		Hash:       HashAPIKey(plain),
		Last4:      plain[len(plain)-4:],
		Created:    now,
	}, plain
}

// HashAPIKey is the stored form of a key.
func HashAPIKey(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// ParseAPIKey checks the syntax of a presented key and tells its kind and
// mode. Anything malformed is refused before any lookup.
func ParseAPIKey(plain string) (kind KeyKind, live bool, ok bool) {
	if len(plain) != 8+keyBodyLen {
		return "", false, false
	}
	switch plain[:3] {
	case "sk_":
		kind = SecretKey
	case "pk_":
		kind = PublishableKey
	case "rk_":
		kind = RestrictedKey
	default:
		return "", false, false
	}
	switch plain[3:8] {
	case "live_":
		live = true
	case "test_":
	default:
		return "", false, false
	}
	for i := 8; i < len(plain); i++ {
		if strings.IndexByte(base62, plain[i]) < 0 {
			return "", false, false
		}
	}
	return kind, live, true
}
