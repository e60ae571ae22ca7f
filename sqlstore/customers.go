package sqlstore

import (
	"context"

	"github.com/tenderhq/tender"
)

func (q *queries) Customer(ctx context.Context, t tender.Tenant, id string, lock bool) (*tender.Customer, error) {
	var c tender.Customer
	v, err := q.getDoc(ctx, &c, `SELECT data, version FROM customers WHERE id = ? AND merchant_id = ? AND livemode = ?`+q.forUpdate(lock), id, t.MerchantID, t.Livemode)
	if err != nil {
		return nil, err
	}
	c.Version = v
	return &c, nil
}

// CustomerExists reports whether a customer (not deleted) exists for the tenant.
func (q *queries) CustomerExists(ctx context.Context, t tender.Tenant, id string) (bool, error) {
	var n int
	err := q.q.QueryRowContext(ctx, q.db.q(`SELECT COUNT(*) FROM customers WHERE id = ? AND merchant_id = ? AND livemode = ? AND deleted = ?`), id, t.MerchantID, t.Livemode, false).Scan(&n)
	return n > 0, translate(err)
}

func (q *queries) InsertCustomer(ctx context.Context, c *tender.Customer) error {
	c.Version = 1
	_, err := q.exec(ctx, `INSERT INTO customers (id, merchant_id, livemode, email, deleted, created, version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.MerchantID, c.Livemode, c.Email, c.Deleted, ms(c.Created), c.Version, encode(c))
	return err
}

func (q *queries) UpdateCustomer(ctx context.Context, c *tender.Customer) error {
	old := c.Version
	c.Version++
	err := updated(q.exec(ctx, `UPDATE customers SET email = ?, deleted = ?, version = ?, data = ? WHERE id = ? AND merchant_id = ? AND livemode = ? AND version = ?`,
		c.Email, c.Deleted, c.Version, encode(c), c.ID, c.MerchantID, c.Livemode, old))
	if err != nil {
		c.Version = old
	}
	return err
}

func (q *queries) PaymentMethod(ctx context.Context, t tender.Tenant, id string, lock bool) (*tender.PaymentMethod, error) {
	var pm tender.PaymentMethod
	v, err := q.getDoc(ctx, &pm, `SELECT data, version FROM payment_methods WHERE id = ? AND merchant_id = ? AND livemode = ?`+q.forUpdate(lock), id, t.MerchantID, t.Livemode)
	if err != nil {
		return nil, err
	}
	pm.Version = v
	return &pm, nil
}

func (q *queries) InsertPaymentMethod(ctx context.Context, pm *tender.PaymentMethod) error {
	pm.Version = 1
	_, err := q.exec(ctx, `INSERT INTO payment_methods (id, merchant_id, livemode, customer, created, version, data) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		pm.ID, pm.MerchantID, pm.Livemode, pm.Customer, ms(pm.Created), pm.Version, encode(pm))
	return err
}

func (q *queries) UpdatePaymentMethod(ctx context.Context, pm *tender.PaymentMethod) error {
	old := pm.Version
	pm.Version++
	err := updated(q.exec(ctx, `UPDATE payment_methods SET customer = ?, version = ?, data = ? WHERE id = ? AND merchant_id = ? AND livemode = ? AND version = ?`,
		pm.Customer, pm.Version, encode(pm), pm.ID, pm.MerchantID, pm.Livemode, old))
	if err != nil {
		pm.Version = old
	}
	return err
}

var (
	customerList = listSpec{table: "customers", filters: []func(tender.ListQuery) (string, []any, bool){
		func(tender.ListQuery) (string, []any, bool) { return "deleted = ?", []any{false}, true },
		eq("email", func(q tender.ListQuery) string { return q.Email }),
	}}
	paymentMethodList = listSpec{table: "payment_methods", filters: []func(tender.ListQuery) (string, []any, bool){
		func(q tender.ListQuery) (string, []any, bool) {
			switch q.Customer {
			case "":
				return "", nil, false
			case tender.AnyCustomer:
				return "customer <> ''", nil, true
			}
			return "customer = ?", []any{q.Customer}, true
		},
	}}
)

func (q *queries) ListCustomers(ctx context.Context, lq tender.ListQuery) (tender.Page[*tender.Customer], error) {
	return list(ctx, q, customerList, lq, decodeDoc(func(v *tender.Customer, ver int64) { v.Version = ver }))
}

func (q *queries) ListPaymentMethods(ctx context.Context, lq tender.ListQuery) (tender.Page[*tender.PaymentMethod], error) {
	return list(ctx, q, paymentMethodList, lq, decodeDoc(func(v *tender.PaymentMethod, ver int64) { v.Version = ver }))
}
