package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k1, k2 := NewKey(), NewKey()
	old, err := New(k1)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := old.Seal([]byte("sk_test_secret"), []byte("row-1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ct, "sk_test_secret") {
		t.Fatal("ciphertext holds the plaintext")
	}
	rotated, err := New(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ring    *Keyring
		ct      string
		aad     string
		wantErr bool
	}{
		{"same key", old, ct, "row-1", false},
		{"after rotation, old key kept", rotated, ct, "row-1", false},
		{"other row", old, ct, "row-2", true},
		{"tampered", old, ct[:len(ct)-2] + "AA", "row-1", true},
		{"garbage", old, "nonsense", "row-1", true},
		{"unknown key", func() *Keyring { r, _ := New(k2); return r }(), ct, "row-1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.ring.Open(tc.ct, []byte(tc.aad))
			if tc.wantErr {
				if !errors.Is(err, ErrDecrypt) {
					t.Fatalf("want ErrDecrypt, got %v (%q)", err, pt)
				}
				return
			}
			if err != nil || !bytes.Equal(pt, []byte("sk_test_secret")) {
				t.Fatalf("open: %q %v", pt, err)
			}
		})
	}
	ct2, _ := rotated.Seal([]byte("x"), nil)
	if id, _ := KeyIDOf(ct2); id != KeyID(k2) {
		t.Fatalf("rotated ring sealed with %s, want %s", id, KeyID(k2))
	}
}

func TestParseKey(t *testing.T) {
	k := NewKey()
	for _, s := range []string{EncodeKey(k), EncodeKey(k) + "\n", strings.TrimRight(EncodeKey(k), "=")} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Fatalf("ParseKey(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "not base64!", EncodeKey(k[:16])} {
		if _, err := ParseKey(s); err == nil {
			t.Fatalf("ParseKey(%q) accepted", s)
		}
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "tender.key")
	k1, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode(), err)
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("reload: created=%v err=%v same=%v", created, err, bytes.Equal(k1, k2))
	}
}
