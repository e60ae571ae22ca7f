package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tenderhq/tender"
)

// listParams are the pagination parameters every list takes.
type listParams struct {
	Limit         *int64       `param:"limit"`
	StartingAfter string       `param:"starting_after"`
	EndingBefore  string       `param:"ending_before"`
	Created       *rangeFilter `param:"created"`
	Expand        []string     `param:"expand"`
}

// rangeFilter is created=123 or created[gt|gte|lt|lte]=123 (Unix seconds).
type rangeFilter struct {
	GT, GTE, LT, LTE *time.Time
}

// UnmarshalParam decodes an exact time or a range.
func (f *rangeFilter) UnmarshalParam(path string, raw any) error {
	parse := func(p string, v any) (*time.Time, error) {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case interface{ String() string }:
			s = x.String()
		default:
			return nil, tender.InvalidParam(tender.CodeParameterInvalidInt, p, "Invalid timestamp: must be a Unix time in seconds.")
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return nil, tender.InvalidParam(tender.CodeParameterInvalidInt, p, "Invalid timestamp: must be a Unix time in seconds.")
		}
		t := time.Unix(n, 0)
		return &t, nil
	}
	if m, ok := raw.(map[string]any); ok {
		for k, v := range m {
			t, err := parse(path+"["+k+"]", v)
			if err != nil {
				return err
			}
			switch k {
			case "gt":
				f.GT = t
			case "gte":
				f.GTE = t
			case "lt":
				f.LT = t
			case "lte":
				f.LTE = t
			default:
				return tender.InvalidParam(tender.CodeParameterUnknown, path+"["+k+"]", "Received unknown parameter: %s[%s]", path, k)
			}
		}
		return nil
	}
	t, err := parse(path, raw)
	if err != nil {
		return err
	}
	// An exact second: [t, t+1s).
	end := t.Add(time.Second)
	f.GTE, f.LT = t, &end
	return nil
}

// query turns list parameters into a store query for the caller.
func (p *listParams) query(a *Auth) (tender.ListQuery, error) {
	q := tender.ListQuery{Tenant: tender.Tenant{MerchantID: a.MerchantID, Livemode: a.Livemode}, Limit: 10,
		StartingAfter: p.StartingAfter, EndingBefore: p.EndingBefore}
	if p.Limit != nil {
		if *p.Limit < 1 || *p.Limit > 100 {
			return q, tender.InvalidParam(tender.CodeParameterInvalidInt, "limit", "Invalid limit: must be between 1 and 100.")
		}
		q.Limit = int(*p.Limit)
	}
	if p.StartingAfter != "" && p.EndingBefore != "" {
		return q, tender.InvalidParam(tender.CodeParameterInvalid, "ending_before", "You may only specify one of starting_after and ending_before.")
	}
	if p.Created != nil {
		// Stored times are milliseconds; the API's are seconds.
		q.CreatedGT, q.CreatedGTE, q.CreatedLT, q.CreatedLTE = p.Created.GT, p.Created.GTE, p.Created.LT, p.Created.LTE
		if q.CreatedGT != nil {
			t := q.CreatedGT.Add(time.Second - time.Millisecond)
			q.CreatedGT = &t
		}
		if q.CreatedLTE != nil {
			t := q.CreatedLTE.Add(time.Second - time.Millisecond)
			q.CreatedLTE = &t
		}
	}
	return q, nil
}

// listObject is Stripe's list envelope.
type listObject struct {
	Object  string `json:"object"`
	Data    []any  `json:"data"`
	HasMore bool   `json:"has_more"`
	URL     string `json:"url"`
}

func writeList[T any](w http.ResponseWriter, url string, page tender.Page[T], render func(T) any) {
	out := listObject{Object: "list", Data: make([]any, 0, len(page.Data)), HasMore: page.HasMore, URL: url}
	for _, v := range page.Data {
		out.Data = append(out.Data, render(v))
	}
	WriteJSON(w, http.StatusOK, out)
}
