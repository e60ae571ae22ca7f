package tender

import (
	"strings"
	"testing"
	"time"
)

func TestAPIKeys(t *testing.T) {
	for _, kind := range []KeyKind{SecretKey, PublishableKey, RestrictedKey} {
		for _, live := range []bool{false, true} {
			k, plain := NewAPIKey("mer_1", kind, live, []Scope{ScopePaymentsRead}, time.Now())
			gotKind, gotLive, ok := ParseAPIKey(plain)
			if !ok || gotKind != kind || gotLive != live || HashAPIKey(plain) != k.Hash || !strings.HasSuffix(plain, k.Last4) {
				t.Fatalf("%s live=%v: %q parsed as %s %v %v", kind, live, plain, gotKind, gotLive, ok)
			}
			if strings.Contains(k.Redacted(), plain[8:len(plain)-4]) {
				t.Fatalf("Redacted shows the key: %s", k.Redacted())
			}
		}
	}
	_, a := NewAPIKey("m", SecretKey, false, nil, time.Now())
	_, b := NewAPIKey("m", SecretKey, false, nil, time.Now())
	if a == b {
		t.Fatal("two keys are equal")
	}
	for _, bad := range []string{"", "sk_test_", "sk_prod_" + strings.Repeat("a", 40), "xk_test_" + strings.Repeat("a", 40), "sk_test_" + strings.Repeat("-", 40), "sk_test_" + strings.Repeat("a", 41)} {
		if _, _, ok := ParseAPIKey(bad); ok {
			t.Fatalf("ParseAPIKey(%q) accepted", bad)
		}
	}
	if _, err := ParseScopes("payments:read,bogus"); err == nil {
		t.Fatal("unknown scope accepted")
	}
	if sc, err := ParseScopes(" payments:read , payments:read,webhooks:write"); err != nil || len(sc) != 2 {
		t.Fatalf("ParseScopes: %v %v", sc, err)
	}
}

func FuzzParseAPIKey(f *testing.F) {
	_, plain := NewAPIKey("m", SecretKey, false, nil, time.Now())
	f.Add(plain)
	f.Add("pk_live_")
	f.Fuzz(func(t *testing.T, s string) {
		kind, _, ok := ParseAPIKey(s)
		if ok && (len(s) != 48 || kind == "") {
			t.Fatalf("ParseAPIKey(%q) accepted", s)
		}
	})
}
