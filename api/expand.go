package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/tenderhq/tender"
)

// expansion fetches the object an id field names, for expand[]. Lookups
// use the caller's tenant, so another merchant's object never appears.
type expansion func(s *Server, r *http.Request, id string) (any, error)

var (
	intentExpansions = map[string]expansion{
		"latest_charge": func(s *Server, r *http.Request, id string) (any, error) {
			ch, err := s.payments.Charge(r.Context(), tenantOf(r), id, false)
			if err != nil {
				return nil, err
			}
			return ch.JSON(), nil
		},
	}
	chargeExpansions = map[string]expansion{
		"payment_intent": expandIntent,
	}
	refundExpansions = map[string]expansion{
		"payment_intent": expandIntent,
		"charge": func(s *Server, r *http.Request, id string) (any, error) {
			ch, err := s.payments.Charge(r.Context(), tenantOf(r), id, false)
			if err != nil {
				return nil, err
			}
			return ch.JSON(), nil
		},
	}
)

func expandIntent(s *Server, r *http.Request, id string) (any, error) {
	pi, err := s.payments.PaymentIntent(r.Context(), tenantOf(r), id, false)
	if err != nil {
		return nil, err
	}
	return pi.JSON(), nil
}

// RegisterExpansion adds an expandable field to an object kind
// ("payment_intent", "charge", "refund"); later features (customers,
// payment methods) plug in here.
func RegisterExpansion(object, field string, fn func(s *Server, r *http.Request, id string) (any, error)) {
	switch object {
	case "payment_intent":
		intentExpansions[field] = fn
	case "charge":
		chargeExpansions[field] = fn
	case "refund":
		refundExpansions[field] = fn
	}
}

func checkExpand(paths []string, prefix string, exps map[string]expansion) error {
	if len(paths) > 10 {
		return tender.InvalidParam(tender.CodeParameterInvalid, "expand", "You may expand at most 10 fields.")
	}
	for i, p := range paths {
		field, ok := strings.CutPrefix(p, prefix)
		if _, known := exps[field]; !ok || !known {
			return tender.InvalidParam(tender.CodeParameterInvalid, "expand["+strconv.Itoa(i)+"]",
				"This property cannot be expanded (%s).", p)
		}
	}
	return nil
}

// expand replaces id fields of obj with the objects they name.
func (s *Server) expand(r *http.Request, obj any, paths []string, exps map[string]expansion) (any, error) {
	if len(paths) == 0 {
		return obj, nil
	}
	if err := checkExpand(paths, "", exps); err != nil {
		return nil, err
	}
	return s.expandOne(r, obj, paths, "", exps)
}

func (s *Server) expandOne(r *http.Request, obj any, paths []string, prefix string, exps map[string]expansion) (any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, p := range paths {
		field := strings.TrimPrefix(p, prefix)
		id, ok := m[field].(string)
		if !ok || id == "" {
			continue
		}
		v, err := exps[field](s, r, id)
		if errors.Is(err, tender.ErrNotFound) {
			continue // gone (or never this tenant's): leave the id
		}
		if err != nil {
			return nil, err
		}
		m[field] = v
	}
	return m, nil
}

// writeExpandedList writes a list, expanding data.<field> paths in each item.
func (s *Server) writeExpandedList(w http.ResponseWriter, r *http.Request, url string, hasMore bool, n int, item func(int) any, paths []string, exps map[string]expansion) error {
	if err := checkExpand(paths, "data.", exps); err != nil {
		return err
	}
	out := listObject{Object: "list", Data: make([]any, 0, n), HasMore: hasMore, URL: url}
	for i := range n {
		obj := item(i)
		if len(paths) > 0 {
			var err error
			if obj, err = s.expandOne(r, obj, paths, "data.", exps); err != nil {
				return err
			}
		}
		out.Data = append(out.Data, obj)
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}
