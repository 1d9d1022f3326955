package api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
)

// maxIdempotencyKeyLen bounds the Idempotency-Key header; UUIDs and ULIDs,
// what clients use, are far shorter.
const maxIdempotencyKeyLen = 255

// idempotent runs a POST that carries an Idempotency-Key at most once per
// tenant and key. The first request with a key runs and, when it succeeds,
// its status and body are stored; a later request with the same key and the
// same method, path and body gets the stored answer replayed with the
// header Idempotent-Replayed: true; one with the same key and another
// request is refused with 409.
//
// Only successful (2xx) answers are stored: a refused request changed
// nothing, so running it again is safe and lets a client correct it.
//
// Two requests with one key that arrive together are serialised by a lock
// per tenant and key, so the second waits and then replays. Across
// processes (PostgreSQL with several instances) the lock does not reach:
// both may run, and the one whose SaveIdempotentResponse loses (ECONFLICT)
// answers with the winner's stored response, so the client sees one
// answer, though the losing request's record was created too. Closing that
// gap needs the store to reserve a key before the request runs.
func (s *server) idempotent(w http.ResponseWriter, r *http.Request, h http.Handler, info *reqInfo) {
	key := r.Header.Get("Idempotency-Key")
	if p := checkIdempotencyKey(key); p != nil {
		writeProblem(w, p)
		return
	}
	tenant := info.key.TenantID
	sum := requestHash(r, info.body)
	unlock := s.locks.lock(tenant + "\x00" + key)
	defer unlock()

	prev, err := s.store.IdempotentResponse(r.Context(), tenant, key)
	switch evbill.ErrorCode(err) {
	case "":
		replay(w, prev, sum)
		return
	case evbill.ENOTFOUND:
	default:
		writeProblem(w, s.problemFor(r.Context(), err))
		return
	}

	rec := &recorder{header: w.Header()}
	h.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 200 && rec.status < 300 {
		// The write has been made: the record is saved even if the client
		// has gone, or its retry would create the record a second time.
		ctx := context.WithoutCancel(r.Context())
		resp := &evbill.IdempotentResponse{Key: key, RequestHash: sum, Status: rec.status, Body: rec.body.Bytes()}
		err := s.store.SaveIdempotentResponse(ctx, tenant, resp)
		switch evbill.ErrorCode(err) {
		case "":
		case evbill.ECONFLICT:
			// Another instance stored an answer for the key first: answer
			// as it did, so that every request with the key gets one answer.
			if won, err := s.store.IdempotentResponse(ctx, tenant, key); err == nil {
				replay(w, won, sum)
				return
			}
		default:
			// The record exists but its answer could not be stored: the
			// client still gets the answer; a retry would create another.
			s.problemFor(r.Context(), err) // logs
		}
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}

// checkIdempotencyKey refuses keys that are too long or not printable
// ASCII, which could not be stored and compared reliably.
func checkIdempotencyKey(key string) *Problem {
	bad := len(key) > maxIdempotencyKeyLen
	for i := 0; i < len(key) && !bad; i++ {
		bad = key[i] < 0x20 || key[i] > 0x7e
	}
	if !bad {
		return nil
	}
	return newProblem(http.StatusUnprocessableEntity, "invalid Idempotency-Key",
		&huma.ErrorDetail{Location: "header.Idempotency-Key", Message: "must be 1 to " + strconv.Itoa(maxIdempotencyKeyLen) + " printable ASCII characters"})
}

// replay answers with a stored response, or 409 when the key was used for
// another request.
func replay(w http.ResponseWriter, prev evbill.IdempotentResponse, sum []byte) {
	if subtle.ConstantTimeCompare(prev.RequestHash, sum) != 1 {
		writeProblem(w, newProblem(http.StatusConflict, "this Idempotency-Key was already used for a different request (method, path or body)"))
		return
	}
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Idempotent-Replayed", "true")
	w.WriteHeader(prev.Status)
	_, _ = w.Write(prev.Body)
}

// recorder holds a response until the idempotency record is saved, so
// that the loser of a race can still answer with the winner's response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Header returns the real response's headers: they go out with whichever
// answer is finally sent.
func (r *recorder) Header() http.Header { return r.header }

// WriteHeader holds the status.
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// Write holds the body.
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// keyedMutex is a set of mutexes by name, created on demand and dropped
// when nobody holds or waits for them, so memory stays bounded by the
// requests in flight.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks the mutex of name and returns its unlock function.
func (k *keyedMutex) lock(name string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[name]
	if e == nil {
		e = &keyedEntry{}
		k.m[name] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, name)
		}
		k.mu.Unlock()
	}
}
