// Package vault encrypts secrets at rest (provider credentials, webhook
// signing secrets) with AES-256-GCM under a master key. Each ciphertext
// names the key that sealed it, so the master key can be rotated while old
// ciphertexts stay readable, and is bound to its row by associated data, so
// a ciphertext copied into another row (another merchant's) fails to open.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a master key: 32 bytes, for AES-256.
const KeySize = 32

// ErrDecrypt is returned for a ciphertext that does not open: tampered,
// moved to another row, or sealed under a key this keyring lacks.
var ErrDecrypt = errors.New("vault: ciphertext does not open")

// Keyring holds the current master key and any older ones still needed to
// read what they sealed.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
	raw     map[string][]byte
}

// KeyID names a key without revealing it: the first 8 bytes of its SHA-256, in hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// New makes a keyring that seals with current and opens with current or any of older.
func New(current []byte, older ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}, raw: map[string][]byte{}}
	for i, key := range append([][]byte{current}, older...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("vault: master key must be %d bytes, got %d", KeySize, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(key)
		k.aeads[id] = aead
		k.raw[id] = append([]byte(nil), key...)
		if i == 0 {
			k.current = id
		}
	}
	return k, nil
}

// CurrentKeyID names the key that Seal uses.
func (k *Keyring) CurrentKeyID() string { return k.current }

// Seal encrypts plaintext bound to aad (e.g. "provider_configs|mer_…|live|stripe").
// The result is text: "v1.<key id>.<base64 nonce+ciphertext>".
func (k *Keyring) Seal(plaintext, aad []byte) (string, error) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := aead.Seal(nonce, nonce, plaintext, aad)
	return "v1." + k.current + "." + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// KeyIDOf tells which key sealed a ciphertext.
func KeyIDOf(ciphertext string) (string, bool) {
	parts := strings.SplitN(ciphertext, ".", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return "", false
	}
	return parts[1], true
}

// Open decrypts a ciphertext made by Seal with the same aad.
func (k *Keyring) Open(ciphertext string, aad []byte) ([]byte, error) {
	parts := strings.SplitN(ciphertext, ".", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return nil, ErrDecrypt
	}
	aead, ok := k.aeads[parts[1]]
	if !ok {
		return nil, fmt.Errorf("%w: sealed under unknown key %s", ErrDecrypt, parts[1])
	}
	raw, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrDecrypt
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// ParseKey decodes a master key given as base64 (standard or URL alphabet,
// padded or not) of 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("master key must be base64 of %d bytes, got %d bytes", KeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("master key is not valid base64")
}

// NewKey makes a random master key.
func NewKey() []byte {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic("vault: crypto/rand failed: " + err.Error())
	}
	return b
}

// EncodeKey renders a master key for TENDER_MASTER_KEY or a key file.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// LoadOrCreateKeyFile reads the master key at path, creating it (mode 0600)
// with a random key if it does not exist. created tells which happened.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("key file %s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	key = NewKey()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		// Another process made it first: use theirs.
		return LoadOrCreateKeyFile(path)
	}
	if err != nil {
		return nil, false, err
	}
	if _, err := f.WriteString(EncodeKey(key) + "\n"); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// MAC is a keyed hash of data under a key derived from the current master
// key for purpose. It lets Tender recognise a value again (a card's
// fingerprint) without being able to recover it. Rotating the master key
// changes the MACs of values seen after the rotation.
func (k *Keyring) MAC(purpose string, data []byte) []byte {
	m := hmac.New(sha256.New, k.macKey(purpose))
	m.Write(data)
	return m.Sum(nil)
}

func (k *Keyring) macKey(purpose string) []byte {
	m := hmac.New(sha256.New, k.raw[k.current])
	m.Write([]byte("tender mac key|" + purpose))
	return m.Sum(nil)
}
