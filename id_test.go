package tender

import (
	"sort"
	"testing"
	"time"
)

func TestNewIDOrderAndShape(t *testing.T) {
	const n = 10000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = NewID(PrefixPaymentIntent)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids made one after another are not in order")
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		if !ValidID(id, PrefixPaymentIntent) {
			t.Fatalf("ValidID(%q) = false", id)
		}
	}
	// Later milliseconds sort after earlier ones.
	a := newIDAt("x", time.UnixMilli(1_700_000_000_000))
	b := newIDAt("x", time.UnixMilli(1_700_000_000_001))
	if !(a < b) {
		t.Fatalf("%s !< %s", a, b)
	}
	for _, bad := range []string{"", "pi_", "ch_" + ids[0][3:], "pi_" + ids[0][3:len(ids[0])-1], ids[0][:len(ids[0])-1] + "I", ids[0] + "0"} {
		if ValidID(bad, PrefixPaymentIntent) {
			t.Fatalf("ValidID(%q) = true", bad)
		}
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NewID(PrefixPaymentIntent)
	}
}

func FuzzValidID(f *testing.F) {
	f.Add("pi_01m80gdw5b0tmajz8tm2s1mbk7", "pi")
	f.Add("", "")
	f.Add("cus_\x00", "cus")
	f.Fuzz(func(t *testing.T, s, prefix string) {
		if ValidID(s, prefix) && len(s) != len(prefix)+1+idBodyLen {
			t.Fatalf("ValidID(%q, %q) accepted a wrong length", s, prefix)
		}
	})
}
