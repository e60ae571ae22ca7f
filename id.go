package tender

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"
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
// Within one process ids are strictly increasing: two ids made in the same
// millisecond differ by one in their random part (as monotonic ULIDs do), so
// that events written in one transaction list in the order they were made.
func NewID(prefix string) string {
	return newIDAt(prefix, time.Now())
}

var idState struct {
	sync.Mutex
	ms     uint64
	hi, lo uint64 // the last id's 128 bits
}

func newIDAt(prefix string, t time.Time) string {
	var raw [16]byte
	ms := uint64(t.UnixMilli())
	if _, err := rand.Read(raw[6:]); err != nil {
		panic("tender: crypto/rand failed: " + err.Error())
	}
	binary.BigEndian.PutUint64(raw[0:8], ms<<16|uint64(binary.BigEndian.Uint16(raw[6:8])))
	hi := binary.BigEndian.Uint64(raw[0:8])
	lo := binary.BigEndian.Uint64(raw[8:16])
	idState.Lock()
	if ms <= idState.ms {
		// Same millisecond (or the clock stepped back): the last id plus one.
		hi, lo = idState.hi, idState.lo+1
		if lo == 0 {
			hi++
		}
	} else {
		idState.ms = ms
	}
	idState.hi, idState.lo = hi, lo
	idState.Unlock()
	return encodeID(prefix, hi, lo)
}

func encodeID(prefix string, hi, lo uint64) string {
	var b strings.Builder
	b.Grow(len(prefix) + 1 + idBodyLen)
	b.WriteString(prefix)
	b.WriteByte('_')
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
