package tender

import "time"

// Customer is someone who pays a merchant, with saved payment methods.
type Customer struct {
	ID          string
	MerchantID  string
	Livemode    bool
	Email       string
	Name        string
	Description string
	Phone       string
	Metadata    map[string]string
	// DefaultPaymentMethod is invoice_settings.default_payment_method.
	DefaultPaymentMethod string
	// ProviderRefs maps a provider to this customer's id there (Stripe's cus_…).
	ProviderRefs map[string]string
	Deleted      bool
	Created      time.Time
	Version      int64
}

// PaymentMethod is a way to pay: a card, kept as the provider's token and
// the card's public details. Tender never stores a card number or a CVC.
type PaymentMethod struct {
	ID         string
	MerchantID string
	Livemode   bool
	Type       string
	// Provider owns the method; Token is the provider's reference for it.
	Provider       string
	Token          string
	Card           *CardDetails
	BillingDetails *BillingDetails
	Customer       string
	Metadata       map[string]string
	Created        time.Time
	Version        int64
}

// BillingDetails are a payment method's billing details (Stripe's shape).
type BillingDetails struct {
	Name    string   `json:"name,omitempty"`
	Email   string   `json:"email,omitempty"`
	Phone   string   `json:"phone,omitempty"`
	Address *Address `json:"address,omitempty"`
}

// Address is a postal address.
type Address struct {
	Line1      string `json:"line1,omitempty" param:"line1"`
	Line2      string `json:"line2,omitempty" param:"line2"`
	City       string `json:"city,omitempty" param:"city"`
	State      string `json:"state,omitempty" param:"state"`
	PostalCode string `json:"postal_code,omitempty" param:"postal_code"`
	Country    string `json:"country,omitempty" param:"country"`
}

// CustomerJSON is Stripe's customer object.
type CustomerJSON struct {
	ID                  string            `json:"id"`
	Object              string            `json:"object"`
	Address             *Address          `json:"address"`
	Balance             int64             `json:"balance"`
	Created             int64             `json:"created"`
	Currency            *string           `json:"currency"`
	DefaultSource       *string           `json:"default_source"`
	Delinquent          bool              `json:"delinquent"`
	Description         *string           `json:"description"`
	Discount            any               `json:"discount"`
	Email               *string           `json:"email"`
	InvoicePrefix       string            `json:"invoice_prefix"`
	InvoiceSettings     map[string]any    `json:"invoice_settings"`
	Livemode            bool              `json:"livemode"`
	Metadata            map[string]string `json:"metadata"`
	Name                *string           `json:"name"`
	NextInvoiceSequence int64             `json:"next_invoice_sequence"`
	Phone               *string           `json:"phone"`
	PreferredLocales    []string          `json:"preferred_locales"`
	Shipping            any               `json:"shipping"`
	TaxExempt           string            `json:"tax_exempt"`
	TestClock           *string           `json:"test_clock"`
}

// JSON renders the customer.
func (c *Customer) JSON() any {
	if c.Deleted {
		return map[string]any{"id": c.ID, "object": "customer", "deleted": true}
	}
	prefix := c.ID
	if len(prefix) > 12 {
		prefix = prefix[len(prefix)-8:]
	}
	return &CustomerJSON{
		ID: c.ID, Object: "customer", Created: c.Created.Unix(), Description: strPtr(c.Description),
		Email: strPtr(c.Email), InvoicePrefix: upperASCII(prefix),
		InvoiceSettings: map[string]any{"custom_fields": nil, "default_payment_method": idOrNil(c.DefaultPaymentMethod), "footer": nil, "rendering_options": nil},
		Livemode:        c.Livemode, Metadata: metadataOf(c.Metadata), Name: strPtr(c.Name), NextInvoiceSequence: 1,
		Phone: strPtr(c.Phone), PreferredLocales: []string{}, TaxExempt: "none",
	}
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// PaymentMethodJSON is Stripe's payment_method object.
type PaymentMethodJSON struct {
	ID             string            `json:"id"`
	Object         string            `json:"object"`
	AllowRedisplay string            `json:"allow_redisplay"`
	BillingDetails map[string]any    `json:"billing_details"`
	Card           *CardJSON         `json:"card,omitempty"`
	Created        int64             `json:"created"`
	Customer       any               `json:"customer"`
	Livemode       bool              `json:"livemode"`
	Metadata       map[string]string `json:"metadata"`
	Type           string            `json:"type"`
	Provider       string            `json:"provider"`
}

// CardJSON is a payment method's card hash.
type CardJSON struct {
	Brand             string         `json:"brand"`
	Checks            map[string]any `json:"checks"`
	Country           *string        `json:"country"`
	DisplayBrand      string         `json:"display_brand"`
	ExpMonth          int            `json:"exp_month"`
	ExpYear           int            `json:"exp_year"`
	Fingerprint       *string        `json:"fingerprint"`
	Funding           string         `json:"funding"`
	GeneratedFrom     any            `json:"generated_from"`
	Last4             string         `json:"last4"`
	Networks          map[string]any `json:"networks"`
	RegulatedStatus   string         `json:"regulated_status"`
	ThreeDSecureUsage map[string]any `json:"three_d_secure_usage"`
	Wallet            any            `json:"wallet"`
}

// JSON renders the payment method.
func (pm *PaymentMethod) JSON() *PaymentMethodJSON {
	bd := map[string]any{"address": nil, "email": nil, "name": nil, "phone": nil, "tax_id": nil}
	if b := pm.BillingDetails; b != nil {
		if b.Address != nil {
			a := b.Address
			bd["address"] = map[string]any{"city": strPtr(a.City), "country": strPtr(a.Country), "line1": strPtr(a.Line1),
				"line2": strPtr(a.Line2), "postal_code": strPtr(a.PostalCode), "state": strPtr(a.State)}
		}
		bd["email"], bd["name"], bd["phone"] = strPtr(b.Email), strPtr(b.Name), strPtr(b.Phone)
	}
	j := &PaymentMethodJSON{ID: pm.ID, Object: "payment_method", AllowRedisplay: "unspecified", BillingDetails: bd,
		Created: pm.Created.Unix(), Customer: idOrNil(pm.Customer), Livemode: pm.Livemode, Metadata: metadataOf(pm.Metadata),
		Type: pm.Type, Provider: pm.Provider}
	if c := pm.Card; c != nil {
		j.Card = &CardJSON{Brand: c.Brand, Checks: map[string]any{"address_line1_check": nil, "address_postal_code_check": nil, "cvc_check": "pass"},
			Country: strPtr(c.Country), DisplayBrand: c.Brand, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear,
			Fingerprint: strPtr(c.Fingerprint), Funding: c.Funding, Last4: c.Last4,
			Networks: map[string]any{"available": []string{c.Brand}, "preferred": nil}, RegulatedStatus: "unregulated",
			ThreeDSecureUsage: map[string]any{"supported": true}}
	}
	return j
}
