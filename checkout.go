package tender

import "time"

// Checkout session statuses and payment statuses. A session is an order:
// seed 000's storefront creates payment intents "for an order", and a
// shopper pays it on Tender's hosted checkout page.
const (
	SessionOpen     = "open"
	SessionComplete = "complete"
	SessionExpired  = "expired"

	SessionUnpaid          = "unpaid"
	SessionPaid            = "paid"
	SessionAwaitingPayment = "awaiting_payment"
)

// EventCheckoutSessionAsyncSucceeded: a session paid later (a check arrived).
const EventCheckoutSessionAsyncSucceeded = "checkout.session.async_payment_succeeded"

// LineItem is one line of an order.
type LineItem struct {
	Name       string `json:"name"`
	Quantity   int64  `json:"quantity"`
	UnitAmount int64  `json:"unit_amount"`
}

// CheckoutSession is an order to be paid on Tender's hosted checkout.
type CheckoutSession struct {
	ID            string
	MerchantID    string
	Livemode      bool
	Status        string
	PaymentStatus string
	Currency      Currency
	AmountTotal   int64
	LineItems     []LineItem
	SuccessURL    string
	CancelURL     string
	CustomerEmail string
	Metadata      map[string]string
	// PaymentIntent is the intent paying the order, once a provider was chosen.
	PaymentIntent string
	// ClientToken lets a storefront act on this one order without a key.
	ClientToken string
	ExpiresAt   time.Time
	Created     time.Time
	Version     int64
}

// CheckoutSessionJSON is the checkout.session object (Stripe's shape, in brief).
type CheckoutSessionJSON struct {
	ID             string            `json:"id"`
	Object         string            `json:"object"`
	AmountSubtotal int64             `json:"amount_subtotal"`
	AmountTotal    int64             `json:"amount_total"`
	CancelURL      *string           `json:"cancel_url"`
	ClientToken    string            `json:"client_token,omitempty"`
	Created        int64             `json:"created"`
	Currency       string            `json:"currency"`
	CustomerEmail  *string           `json:"customer_email"`
	ExpiresAt      int64             `json:"expires_at"`
	LineItems      []LineItem        `json:"line_items"`
	Livemode       bool              `json:"livemode"`
	Metadata       map[string]string `json:"metadata"`
	Mode           string            `json:"mode"`
	PaymentIntent  any               `json:"payment_intent"`
	PaymentStatus  string            `json:"payment_status"`
	Status         string            `json:"status"`
	SuccessURL     *string           `json:"success_url"`
	URL            *string           `json:"url"`
}

// JSON renders the session; url is its hosted checkout page (null once
// the session is no longer open, as Stripe's).
func (s *CheckoutSession) JSON(url string) *CheckoutSessionJSON {
	items := s.LineItems
	if items == nil {
		items = []LineItem{}
	}
	j := &CheckoutSessionJSON{ID: s.ID, Object: "checkout.session", AmountSubtotal: s.AmountTotal, AmountTotal: s.AmountTotal,
		CancelURL: strPtr(s.CancelURL), Created: s.Created.Unix(), Currency: s.Currency.Code(), CustomerEmail: strPtr(s.CustomerEmail),
		ExpiresAt: s.ExpiresAt.Unix(), LineItems: items, Livemode: s.Livemode, Metadata: metadataOf(s.Metadata), Mode: "payment",
		PaymentIntent: idOrNil(s.PaymentIntent), PaymentStatus: s.PaymentStatus, Status: s.Status, SuccessURL: strPtr(s.SuccessURL)}
	if s.Status == SessionOpen {
		j.URL = &url
	}
	return j
}
