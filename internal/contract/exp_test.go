package contract

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

func TestExp(t *testing.T) {
	b, _ := os.ReadFile("/root/go/pkg/mod/github.com/stripe/stripe-mock@v0.203.0/embedded/openapi/spec3.json")
	t0 := time.Now()
	var raw map[string]json.RawMessage
	json.Unmarshal(b, &raw)
	t.Log("raw unmarshal", time.Since(t0))
	t0 = time.Now()
	var doc openapi3.T
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	t.Log("T unmarshal", time.Since(t0))
	t0 = time.Now()
	l := openapi3.NewLoader()
	if err := l.ResolveRefsIn(&doc, nil); err != nil {
		t.Fatal(err)
	}
	t.Log("resolve", time.Since(t0))
	t0 = time.Now()
	var comps struct {
		Schemas json.RawMessage `json:"schemas"`
	}
	json.Unmarshal(raw["components"], &comps)
	small, _ := json.Marshal(map[string]any{"openapi": raw["openapi"], "info": raw["info"], "paths": map[string]any{}, "components": map[string]any{"schemas": comps.Schemas}})
	t.Log("small", len(small), len(b))
	d2, err := openapi3.NewLoader().LoadFromData(small)
	t.Log("small load", time.Since(t0), err)
	d3, _ := openapi3.NewLoader().LoadFromData(small)
	t0 = time.Now()
	for _, n := range []string{"payment_intent", "charge", "refund", "customer", "payment_method", "event", "error"} {
		err = d3.Components.Schemas[n].Value.Validate(context.Background())
	}
	t.Log("fresh schema validate", time.Since(t0), err)
	t0 = time.Now()
	err = d2.Validate(context.Background())
	t.Log("small validate", time.Since(t0), err)
	t0 = time.Now()
	for _, n := range []string{"payment_intent", "charge", "refund", "customer", "payment_method", "event", "error"} {
		err = d2.Components.Schemas[n].Value.Validate(context.Background())
	}
	t.Log("schema validate", time.Since(t0), err)
}
