package reliability_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/testdb"
)

// TestFaultyReceivers points endpoints at receivers that hang, reset the
// connection, redirect, answer 3xx, 4xx, 5xx, garbage or huge bodies,
// beside one healthy endpoint: the healthy one gets every event promptly,
// and the dispatcher keeps going.
func TestFaultyReceivers(t *testing.T) {
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			c := newCluster(t, kind, map[string]string{"TENDER_WEBHOOK_TIMEOUT": "1s", "TENDER_WEBHOOK_BACKOFF": "300ms,300ms,300ms"})
			p := c.start(t, nil)
			healthy := newSink(t)
			bad := map[string]http.HandlerFunc{
				"hangs": func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body) // so the server notices the client leaving
					select {
					case <-r.Context().Done():
					case <-time.After(30 * time.Second):
					}
				},
				"resets": func(w http.ResponseWriter, r *http.Request) {
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.(*net.TCPConn).SetLinger(0)
						conn.Close()
					}
				},
				"redirects": func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, healthy.srv.URL+"/stolen", http.StatusFound)
				},
				"304": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) },
				"404": func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
				"500": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
				"huge body": func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusOK)
					bw := bufio.NewWriter(w)
					for range 64 << 10 {
						bw.WriteString(strings.Repeat("x", 1024)) // 64 MiB, if anyone reads it
					}
					bw.Flush()
				},
				"garbage": func(w http.ResponseWriter, r *http.Request) {
					conn, buf, err := w.(http.Hijacker).Hijack()
					if err == nil {
						buf.WriteString("NOT HTTP AT ALL\r\n\r\n")
						buf.Flush()
						conn.Close()
					}
				},
			}
			for name, h := range bad {
				srv := httptest.NewServer(h)
				t.Cleanup(srv.Close)
				if status, m := call(p.URL, c.key, "POST", "/v1/webhook_endpoints", url.Values{"url": {srv.URL + "/" + url.PathEscape(name)}, "enabled_events[]": {"*"}}, ""); status != 200 {
					t.Fatalf("%s endpoint: %d %v", name, status, m)
				}
			}
			if status, m := call(p.URL, c.key, "POST", "/v1/webhook_endpoints", url.Values{"url": {healthy.srv.URL}, "enabled_events[]": {"*"}}, ""); status != 200 {
				t.Fatalf("healthy endpoint: %d %v", status, m)
			}
			start := time.Now()
			n := 40
			for i := range n {
				call(p.URL, c.key, "POST", "/v1/customers", url.Values{"email": {fmt.Sprintf("c%d@example.com", i)}}, "")
			}
			db := c.db(t)
			ids := eventIDs(t, db)
			missing, dups := healthy.waitAll(ids, 20*time.Second)
			if len(missing) > 0 {
				t.Fatalf("the healthy endpoint missed %d of %d events while the others failed", len(missing), len(ids))
			}
			took := time.Since(start)
			count(func() {
				tally.delivered += len(ids)
				tally.duplicates += dups
				tally.faults += len(bad)
			})
			// The bad endpoints' deliveries are failing or failed, never succeeded.
			var succeeded int
			db.QueryRow(`SELECT COUNT(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
				WHERE d.status = 'succeeded' AND e.data NOT LIKE '%` + healthy.srv.URL + `%' AND e.data NOT LIKE '%huge%'`).Scan(&succeeded)
			if succeeded != 0 {
				t.Fatalf("%d deliveries to failing endpoints counted as succeeded", succeeded)
			}
			p.Kill() // before the receivers close, so none waits on a delivery
			t.Logf("%s: healthy endpoint got all %d events in %s beside %d faulty ones", kind, len(ids), took.Round(time.Millisecond), len(bad))
		})
	}
}
