package bench

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"time"
)

// receiver is the webhook endpoint the webhooks scenario subscribes: a
// bare net/http server on 127.0.0.1 that notes when each
// payment_intent.succeeded event arrives and answers 200 at once.
type receiver struct {
	url string
	srv *http.Server
}

func startReceiver(t *tracker) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Object struct {
					ID string `json:"id"`
				} `json:"object"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &ev) == nil && ev.Type == "payment_intent.succeeded" && ev.Data.Object.ID != "" {
			t.arrived(ev.Data.Object.ID, now)
		}
		w.WriteHeader(http.StatusOK)
	})
	rc := &receiver{url: "http://" + ln.Addr().String() + "/webhooks",
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go rc.srv.Serve(ln)
	return rc, nil
}

func (r *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.srv.Shutdown(ctx)
}
