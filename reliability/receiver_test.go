package reliability_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// sink is a webhook receiver that counts events and duplicates.
type sink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string]int
}

func newSink(t *testing.T) *sink {
	s := &sink{seen: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev struct{ ID string }
		json.Unmarshal(b, &ev)
		s.mu.Lock()
		s.seen[ev.ID]++
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// waitAll waits until every id was received; it returns the ones missing
// at the deadline and the number of duplicates.
func (s *sink) waitAll(ids []string, d time.Duration) (missing []string, dups int) {
	deadline := time.Now().Add(d)
	for {
		s.mu.Lock()
		missing = missing[:0]
		for _, id := range ids {
			if s.seen[id] == 0 {
				missing = append(missing, id)
			}
		}
		dups = 0
		for _, n := range s.seen {
			if n > 1 {
				dups += n - 1
			}
		}
		s.mu.Unlock()
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing, dups
		}
		time.Sleep(100 * time.Millisecond)
	}
}
