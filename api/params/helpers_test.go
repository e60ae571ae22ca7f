package params

import (
	"strings"
	"testing"

	"github.com/tenderhq/tender"
)

// wantErr checks that err is a *tender.Error of type invalid_request_error
// with the given code and param, whose message contains msg.
func wantErr(t *testing.T, err error, code, param, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (param %q)", code, param)
	}
	e, ok := err.(*tender.Error)
	if !ok {
		t.Fatalf("got %T %v, want *tender.Error", err, err)
	}
	if e.Type != tender.InvalidRequestError {
		t.Errorf("type = %q, want %q (%v)", e.Type, tender.InvalidRequestError, e)
	}
	if e.Code != code {
		t.Errorf("code = %q, want %q (%v)", e.Code, code, e)
	}
	if e.Param != param {
		t.Errorf("param = %q, want %q (%v)", e.Param, param, e)
	}
	if !strings.Contains(e.Message, msg) {
		t.Errorf("message = %q, want it to contain %q", e.Message, msg)
	}
}
