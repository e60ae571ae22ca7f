package api_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v85/webhook"

	"github.com/tenderhq/tender/internal/testserver"
	"github.com/tenderhq/tender/vault"
)

func TestMasterKeyRotation(t *testing.T) {
	eachDB(t, testserver.Options{Env: fastWebhooks}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		rcv := newReceiver(t, nil)
		_, secret := c.endpoint(rcv.srv.URL, "customer.created")
		s.Stop(t)

		oldKey := s.Env()["TENDER_MASTER_KEY"]
		newKey := vault.EncodeKey(vault.NewKey())
		file := filepath.Join(t.TempDir(), "new.key")
		os.WriteFile(file, []byte(newKey), 0o600)
		out, err := s.CLI(t, "keys", "rotate-master", "--new-key-file", file)
		if err != nil || !strings.Contains(out, "Re-encrypted 1 secrets") {
			t.Fatalf("rotate: %v\n%s", err, out)
		}
		// Interrupted or repeated: nothing is left to do.
		if out, err := s.CLI(t, "keys", "rotate-master", "--new-key-file", file); err != nil || !strings.Contains(out, "Re-encrypted 0 secrets") {
			t.Fatalf("second rotate: %v\n%s", err, out)
		}

		// With only the new key, the endpoint's secret still opens and signs.
		env := map[string]string{"TENDER_MASTER_KEY": newKey}
		for k, v := range fastWebhooks {
			env[k] = v
		}
		s2 := testserver.Start(t, testserver.Options{Kind: kindOf(s), DBURL: s.DBURL, Env: env})
		c2 := newClient(t, s2, s.Merchant.TestSecretKey)
		c2.ok(c2.post("/v1/customers", form("email", "r@example.com")))
		select {
		case id := <-rcv.received:
			bodies, headers := rcv.got(id)
			if err := stripewebhook.ValidatePayload(bodies[0], headers[0].Get("Payments-Signature"), secret); err != nil {
				t.Fatalf("signature after rotation: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no delivery after rotation; logs:\n%s", s2.Logs())
		}
		if strings.Contains(s2.Logs(), oldKey) || strings.Contains(s2.Logs(), newKey) || strings.Contains(s2.Logs(), secret) {
			t.Fatal("a key or secret is in the logs")
		}
		// A key file that is not base64 of 32 bytes is refused.
		os.WriteFile(file, []byte("short"), 0o600)
		if _, err := s.CLI(t, "keys", "rotate-master", "--new-key-file", file); err == nil {
			t.Fatal("a bad key file was accepted")
		}
	})
}

func kindOf(s *testserver.Server) string {
	if strings.HasPrefix(s.DBURL, "postgres") {
		return "postgres"
	}
	return "sqlite"
}
