package tender

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

// idAlphabet is Crockford's base32 in lower case. Its characters are in
// ascending ASCII order, so the encoding preserves the byte order of what it
// encodes: ids sort by creation time as plain strings.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// idBodyLen is the length of an id after its prefix: 128 bits in base32.
const idBodyLen = 26

// Prefixes of Tender's object ids. They tell a reader (and a log line) what
// an id names, as Stripe's do.
const (
	PrefixMerchant      = "mer"
	PrefixAPIKey        = "key"
	PrefixPaymentIntent = "pi"
	PrefixCharge        = "ch"
	PrefixRefund        = "re"
	PrefixCustomer      = "cus"
	PrefixPaymentMethod = "pm"
	PrefixEvent         = "evt"
	PrefixWebhook       = "we"
	PrefixDelivery      = "whd"
	PrefixCheckout      = "cs"
	PrefixRequest       = "req"
)

// NewID returns a new id: prefix, underscore, then 48 bits of milliseconds
// since the Unix epoch followed by 80 random bits. The time prefix keeps
// B-tree inserts at the right edge and makes ids usable as pagination
// cursors in creation order; the random part makes them unguessable.
func NewID(prefix string) string {
	return newIDAt(prefix, time.Now())
}

func newIDAt(prefix string, t time.Time) string {
	var raw [16]byte
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint64(raw[0:8], ms<<16)
	// The two low bytes of the first word and the whole second word are random.
	if _, err := rand.Read(raw[6:]); err != nil {
		panic("tender: crypto/rand failed: " + err.Error())
	}
	var b strings.Builder
	b.Grow(len(prefix) + 1 + idBodyLen)
	b.WriteString(prefix)
	b.WriteByte('_')
	hi := binary.BigEndian.Uint64(raw[0:8])
	lo := binary.BigEndian.Uint64(raw[8:16])
	// 128 bits as 26 base32 digits: the first digit carries the top 3 bits.
	var out [idBodyLen]byte
	for i := idBodyLen - 1; i >= 0; i-- {
		out[i] = idAlphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	b.Write(out[:])
	return b.String()
}

// ValidID reports whether s looks like an id with the given prefix. It is a
// cheap syntactic check used to answer garbage with 404 before a query.
func ValidID(s, prefix string) bool {
	if len(s) != len(prefix)+1+idBodyLen || !strings.HasPrefix(s, prefix) || s[len(prefix)] != '_' {
		return false
	}
	for i := len(prefix) + 1; i < len(s); i++ {
		if strings.IndexByte(idAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}
