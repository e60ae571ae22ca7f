package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// target is an API the load goes to: Tender, or the baseline's bare handler.
type target struct {
	name   string // "tender" or "baseline"
	url    string // base URL without a trailing slash
	key    string
	client *http.Client
}

func newTarget(name, url, key string, conns int) *target {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &target{name: name, url: strings.TrimRight(url, "/"), key: key,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (t *target) close() { t.client.CloseIdleConnections() }

// caller makes one connection's requests, reusing its body buffer.
type caller struct {
	t    *target
	body bytes.Buffer
}

// response is an answer; body is valid until the caller's next request.
type response struct {
	status int
	header http.Header
	body   []byte
}

// ok reports a 2xx.
func (r *response) ok() bool { return r.status >= 200 && r.status < 300 }

const formType = "application/x-www-form-urlencoded"

// do sends one request. A form body is sent form-encoded; idem, if set,
// is the Idempotency-Key.
func (c *caller) do(ctx context.Context, method, path, form, idem string) (*response, error) {
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.t.url+path, body)
	if err != nil {
		return nil, err
	}
	req.Header["Authorization"] = []string{"Bearer " + c.t.key}
	if form != "" {
		req.Header["Content-Type"] = []string{formType}
	}
	if idem != "" {
		req.Header["Idempotency-Key"] = []string{idem}
	}
	resp, err := c.t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	c.body.Reset()
	if _, err := c.body.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: c.body.Bytes()}, nil
}

// failure classifies an outcome for the errors table: "" for a 2xx, the
// status for another answer, "transport" for no answer.
func failure(r *response, err error) string {
	if err != nil {
		return "transport"
	}
	if r.ok() {
		return ""
	}
	return strconv.Itoa(r.status)
}

// mustOK turns a failed setup request into an error that shows the answer.
func mustOK(what string, r *response, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !r.ok() {
		b := r.body
		if len(b) > 500 {
			b = b[:500]
		}
		return fmt.Errorf("%s: status %d: %s", what, r.status, bytes.TrimSpace(b))
	}
	return nil
}

// objectID is the value of the first "id" in a JSON object: the object's
// own id in every answer Tender gives (the id field comes first). It
// avoids decoding whole payment intents on the load path.
func objectID(body []byte) (string, error) {
	const marker = `"id":"`
	i := bytes.Index(body, []byte(marker))
	if i < 0 {
		return "", errors.New("no id in the answer")
	}
	rest := body[i+len(marker):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 {
		return "", errors.New("malformed id in the answer")
	}
	return string(rest[:j]), nil
}
