package params

import (
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"

	"github.com/tenderhq/tender"
)

// FromRequest decodes r's parameters into Values.
//
// GET, HEAD and DELETE requests carry them in the URL query, as Stripe's
// SDKs send them. Other methods carry them in the body, read according to
// Content-Type: application/json or application/x-www-form-urlencoded; an
// empty body means no parameters whatever its Content-Type, since some
// clients label bodiless POSTs (e.g. a confirm) with either type or none. Any
// other Content-Type is refused with tender.CodeUnsupportedContentType.
//
// Parameters in the URL query of a body-carrying request are merged in, but
// a top-level name present in both is an error naming it: neither source can
// be assumed to be the one the client meant.
//
// FromRequest reads the whole body; the caller bounds it with
// http.MaxBytesReader, and a body over that limit yields
// tender.CodeBodyTooLarge.
func FromRequest(r *http.Request) (Values, error) {
	query := ""
	if r.URL != nil {
		query = r.URL.RawQuery
	}
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodDelete:
		return ParseForm(query)
	}

	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	v, leaves, err := parseBody(r.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, err
	}
	if query == "" {
		return v, nil
	}
	q, qLeaves, err := parseForm(query)
	if err != nil {
		return nil, err
	}
	if leaves+qLeaves > MaxLeaves {
		return nil, errTooManyParams()
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if _, dup := v[k]; dup {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, paramName(k),
				"Parameter %s was given both in the URL query and in the request body.", paramName(k))
		}
		v[k] = q[k]
	}
	return v, nil
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, tender.InvalidRequest(tender.CodeBodyTooLarge,
				"The request body is too large: the limit is %d bytes.", tooLarge.Limit)
		}
		// Almost always the client going away mid-upload; it is not a
		// server fault, so it is not reported as one.
		e := tender.InvalidRequest("", "The request body could not be read.")
		e.Cause = err
		return nil, e
	}
	return body, nil
}

func parseBody(contentType string, body []byte) (Values, int, error) {
	if len(body) == 0 {
		return Values{}, 0, nil
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = ""
	}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		return parseForm(string(body))
	case "application/json":
		return parseJSON(body)
	}
	shown := "none"
	if contentType != "" {
		shown = clip(contentType, 60)
	}
	return nil, 0, tender.InvalidRequest(tender.CodeUnsupportedContentType,
		"Unsupported Content-Type %s: send application/x-www-form-urlencoded or application/json.", shown)
}
