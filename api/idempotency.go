package api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
)

// maxIdempotencyKeyLen bounds the Idempotency-Key header; UUIDs and ULIDs,
// what clients use, are far shorter.
const maxIdempotencyKeyLen = 255

// staleReservation is how long a reserved key may stay unanswered before
// another request may take it over: twice as long as a request holding a
// key may run (its context is cancelled at half), so only a reservation
// whose instance died is ever taken over. Instances' clocks must agree to
// well within that.
const staleReservation = 5 * time.Minute

// idempotent runs a POST that carries an Idempotency-Key at most once per
// tenant and key. The first request with a key reserves it in the store,
// runs and, when it succeeds, stores its status and body; a later request
// with the same key and the same method, path and body gets the stored
// answer replayed with the header Idempotent-Replayed: true; one with the
// same key and another request is refused with 409.
//
// Only successful (2xx) answers are kept: a refused request changed
// nothing, so its reservation is released and a corrected retry may run.
//
// The reservation is what makes this hold across instances: a request that
// finds the key reserved by a request still running elsewhere is answered
// 409 with Retry-After, and never runs. Within one instance a lock per
// tenant and key makes the second request wait and then replay instead.
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
	ctx := r.Context()
	if done := s.reserve(w, ctx, tenant, key, sum); done {
		return
	}
	// From here on the key is ours: whatever happens, it ends answered or
	// released, even if the client has gone.
	bg := context.WithoutCancel(ctx)
	answered := false
	defer func() {
		if !answered {
			_ = s.store.ReleaseIdempotencyKey(bg, tenant, key, time.Now().Add(time.Minute))
		}
	}()
	// The request must finish well before another instance may take the
	// key over as stale, or it could run twice.
	runCtx, cancel := context.WithTimeout(ctx, staleReservation/2)
	defer cancel()
	rec := &recorder{header: w.Header()}
	h.ServeHTTP(rec, r.WithContext(runCtx))
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 200 && rec.status < 300 {
		if err := s.store.CompleteIdempotentResponse(bg, tenant, key, rec.status, rec.body.Bytes()); err != nil {
			// The record exists but its answer could not be stored: the
			// client still gets the answer; a retry would create another.
			s.problemFor(ctx, err) // logs
		} else {
			answered = true
		}
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}

// reserve claims the key for this request. When the key already has an
// answer or is held by a running request, it writes the response (a replay
// or a 409) and reports done.
func (s *server) reserve(w http.ResponseWriter, ctx context.Context, tenant, key string, sum []byte) (done bool) {
	for attempt := 0; ; attempt++ {
		prev, err := s.store.IdempotentResponse(ctx, tenant, key)
		switch evbill.ErrorCode(err) {
		case "":
			if prev.Status != 0 {
				replay(w, prev, sum)
				return true
			}
			if time.Since(prev.CreatedAt) < staleReservation {
				if subtle.ConstantTimeCompare(prev.RequestHash, sum) != 1 {
					writeProblem(w, newProblem(http.StatusConflict, "this Idempotency-Key was already used for a different request (method, path or body)"))
				} else {
					w.Header().Set("Retry-After", "1")
					writeProblem(w, newProblem(http.StatusConflict, "a request with this Idempotency-Key is still running; retry shortly to get its answer"))
				}
				return true
			}
			// The instance that reserved it died before answering.
			if err := s.store.ReleaseIdempotencyKey(ctx, tenant, key, time.Now().Add(-staleReservation)); err != nil {
				writeProblem(w, s.problemFor(ctx, err))
				return true
			}
		case evbill.ENOTFOUND:
		default:
			writeProblem(w, s.problemFor(ctx, err))
			return true
		}
		err = s.store.SaveIdempotentResponse(ctx, tenant, &evbill.IdempotentResponse{Key: key, RequestHash: sum})
		if err == nil {
			return false
		}
		if evbill.ErrorCode(err) != evbill.ECONFLICT || attempt >= 2 {
			writeProblem(w, s.problemFor(ctx, err))
			return true
		}
		// Another instance reserved it between our read and our write:
		// look again.
	}
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

// recorder holds a response until its idempotency record is stored, so a
// failure to store it is noticed before the client has its answer.
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
