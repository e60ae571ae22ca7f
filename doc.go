// Package tender holds Tender's domain: money, identifiers, merchants and
// API keys, payment intents and their state machine, refunds, events, the
// provider interface, and the one error model that every face of the API
// translates to Stripe's error object.
//
// Nothing in this package knows about HTTP, SQL or a particular payment
// provider; those live in the adapter packages (api, sqlstore, provider/…)
// and are wired together in cmd/tender.
package tender
