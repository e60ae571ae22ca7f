package tender

import (
	"context"
	"time"
)

// PrefixConnectLink is the prefix of connect link ids.
const PrefixConnectLink = "clink"

// ConnectLink is a merchant's invitation to connect a Stripe account on
// Tender's hosted page (seed 002's /stripe/connect): made by the merchant
// (POST /v1/connect_links) or by a platform (the internal API), it is
// signed, expires, and works once. Only its id is in the link's token; the
// token's signature binds the id, the merchant and the expiry.
type ConnectLink struct {
	ID         string
	MerchantID string
	// Mode restricts the keys the link accepts: "test", "live", or ""
	// for either (a platform's link).
	Mode string
	// AllowedRedirectHosts are the hosts (host or host:port, lower case)
	// a return_url may point to; none means no return_url is accepted.
	AllowedRedirectHosts []string
	// ReturnURL is the return_url given when the link was made, if any.
	ReturnURL string
	ExpiresAt time.Time
	Created   time.Time
	// UsedAt is set once the link connected an account.
	UsedAt *time.Time
}

// ConnectLinkStore keeps connect links and whether they were used.
type ConnectLinkStore interface {
	InsertConnectLink(ctx context.Context, l *ConnectLink) error
	// ConnectLink returns a link (ErrNotFound if there is none).
	ConnectLink(ctx context.Context, id string) (*ConnectLink, error)
	// ClaimConnectLink marks an unused link that has not expired at `at`
	// as used, atomically: of concurrent claims, one wins. It returns
	// ErrNotFound if there is no such link and ErrConflict if the link was
	// used or has expired.
	ClaimConnectLink(ctx context.Context, id string, at time.Time) error
	// ReleaseConnectLink undoes a claim whose use failed, so that the link
	// can be tried again.
	ReleaseConnectLink(ctx context.Context, id string) error
	// PurgeConnectLinks deletes the links that expired before a time and
	// returns how many.
	PurgeConnectLinks(ctx context.Context, before time.Time) (int64, error)
}
