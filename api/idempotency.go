package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/api/params"
	"github.com/tenderhq/tender/engine"
)

// maxIdempotencyKey is Stripe's limit on Idempotency-Key.
const maxIdempotencyKey = 255

// bufferedWriter holds a response until the idempotency record is written,
// so that what is replayed later is exactly what was sent first.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

// idempotent runs h under the request's Idempotency-Key with Stripe's
// semantics: the first response is kept for 24 hours and replayed to any
// retry with the same key and parameters (with Idempotent-Replayed: true);
// other parameters get idempotency_error; a retry while the first request
// runs gets 409 with Stripe-Should-Retry. Tender keeps a response when the
// request succeeded or changed something (a declined charge, say); an
// error that changed nothing is forgotten so a corrected retry can run, and
// a 5xx leaves the key for the retry to resume the interrupted work
// (every phase of the engine is safe to repeat), instead of replaying the
// failure forever.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, a *Auth, key string, inline bool, h HandlerFunc) {
	if len(key) > maxIdempotencyKey {
		s.WriteError(w, r, tender.InvalidRequest(tender.CodeParameterInvalid,
			"Idempotency-Key must be at most %d characters; got %d.", maxIdempotencyKey, len(key)))
		return
	}
	v, err := params.FromRequest(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	st := state(r.Context())
	st.params = v
	fingerprint, err := json.Marshal(v) // map keys sort: a canonical form
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), fingerprint...))
	now := s.now().UTC()
	t := tender.Tenant{MerchantID: a.MerchantID, Livemode: a.Livemode}
	record := func() *tender.IdempotencyRecord {
		return &tender.IdempotencyRecord{ID: tender.NewID("idr"), Tenant: t, Key: key, RequestHash: hex.EncodeToString(sum[:]),
			Status: tender.IdempotencyInFlight, LockedAt: now, Created: now}
	}
	var existing *tender.IdempotencyRecord
	if inline {
		// A retry finds its key with a read, and does not run the request
		// only to learn that at its first write.
		existing, err = s.payments.FindIdempotent(r.Context(), t, key)
		if err != nil && !errors.Is(err, tender.ErrNotFound) {
			s.WriteError(w, r, err)
			return
		}
		if existing == nil && s.inlineIdempotent(w, r, t, key, record(), h) {
			return
		}
	}
	// The key is known (or, inline, was taken while the request ran; it
	// changed nothing): replay, refuse, resume or run under a new record.
	rec := record()
	if existing == nil {
		existing, err = s.payments.BeginIdempotent(r.Context(), rec)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
	}
	if existing != nil {
		if existing.RequestHash != rec.RequestHash {
			s.WriteError(w, r, &tender.Error{Type: tender.IdempotencyError, Code: "idempotency_key_reused",
				Message: "Keys for idempotent requests can only be used with the same parameters they were first used with. Try a different Idempotency-Key if you meant to make a different request."})
			return
		}
		if existing.Status == tender.IdempotencyDone {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Idempotent-Replayed", "true")
			h.Set("Idempotency-Key", key)
			w.WriteHeader(existing.ResponseStatus)
			w.Write(existing.ResponseBody)
			return
		}
		stale := existing.LockedAt.IsZero() || now.Sub(existing.LockedAt) > s.cfg.IdempotencyLockTimeout
		ok := false
		if stale {
			ok, err = s.payments.TakeOverIdempotent(r.Context(), t, existing.ID, existing.LockedAt, now)
			if err != nil {
				s.WriteError(w, r, err)
				return
			}
		}
		if !ok {
			w.Header().Set("Stripe-Should-Retry", "true")
			w.Header().Set("Retry-After", strconv.Itoa(1))
			s.WriteError(w, r, &tender.Error{Type: tender.InvalidRequestError, Code: tender.CodeIdempotencyKeyInUse,
				Message: "There is currently another in-progress request using this Idempotency-Key; retry after it completes."})
			return
		}
		rec = existing
		st.resumed = true
	}
	st.idem = rec

	buf := &bufferedWriter{header: http.Header{}}
	if err := h(buf, r); err != nil {
		s.WriteError(buf, r, err)
	}
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	ctx, cancel := outliving(r.Context())
	defer cancel()
	switch {
	case buf.status >= 500:
		err = s.payments.ReleaseIdempotent(ctx, t, rec.ID)
	case buf.status < 400 || st.committed:
		err = s.payments.FinishIdempotent(ctx, t, rec.ID, buf.status, buf.body.Bytes())
	default:
		err = s.payments.DeleteIdempotent(ctx, t, rec.ID)
	}
	if err != nil {
		s.log.Error("record idempotent response", "request_id", st.id, "error", err)
	}
	send(w, buf, key)
}

// inlineIdempotent runs h with its record for the engine to write in the
// request's own transactions (engine.Idempotency): a new key then costs no
// commit of its own, and a payment's answer is stored with its outcome. It
// reports false, having sent nothing, if the key turned out to be taken.
func (s *Server) inlineIdempotent(w http.ResponseWriter, r *http.Request, t tender.Tenant, key string, rec *tender.IdempotencyRecord, h HandlerFunc) bool {
	st := state(r.Context())
	idem := &engine.Idempotency{Record: rec}
	st.idem, st.inline = rec, idem
	buf := &bufferedWriter{header: http.Header{}}
	if err := h(buf, r); err != nil {
		if idem.Lost() {
			st.idem, st.inline = nil, nil
			return false
		}
		s.WriteError(buf, r, err)
	}
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	ctx, cancel := outliving(r.Context())
	defer cancel()
	var err error
	switch {
	case !idem.Written() && buf.status < 400:
		// An answer without a change (not expected of the routes that run
		// inline): keep it like any other.
		var existing *tender.IdempotencyRecord
		if existing, err = s.payments.BeginIdempotent(ctx, rec); err == nil && existing == nil {
			err = s.payments.FinishIdempotent(ctx, t, rec.ID, buf.status, buf.body.Bytes())
		}
	case !idem.Written():
		// Refused before changing anything: nothing was written to forget.
	case buf.status >= 500:
		err = s.payments.ReleaseIdempotent(ctx, t, rec.ID)
	case buf.status == http.StatusOK && bytes.Equal(idem.Response(), buf.body.Bytes()):
		// Stored with the outcome.
	default:
		err = s.payments.FinishIdempotent(ctx, t, rec.ID, buf.status, buf.body.Bytes())
	}
	if err != nil {
		s.log.Error("record idempotent response", "request_id", st.id, "error", err)
	}
	send(w, buf, key)
	return true
}

// outliving is the context to record a request's outcome in: the record is
// written even if the client has gone away.
func outliving(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() != nil {
		return contextWithoutCancel(ctx, 10*time.Second)
	}
	return ctx, func() {}
}

// send writes a buffered response under its Idempotency-Key.
func send(w http.ResponseWriter, buf *bufferedWriter, key string) {
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	w.Header().Set("Idempotency-Key", key)
	w.WriteHeader(buf.status)
	w.Write(buf.body.Bytes())
}
