package tender

import "time"

// Merchant is a tenant of Tender: a store with its own keys, provider
// credentials, webhooks and payments. Every tenant-owned object carries the
// merchant id and the mode (livemode) it was created in.
type Merchant struct {
	ID      string
	Name    string
	Created time.Time
}
