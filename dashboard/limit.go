package dashboard

import (
	"sync"
	"time"
)

// failures counts failed logins per key (an email address, a client
// address) in fixed windows: after max failures within one window, the
// key is refused until the window ends. A password is then guessed at a
// few attempts per window per address, and one client cannot try many
// addresses fast either.
//
// The counts are in this process's memory: with n instances behind one
// address a guesser gets up to n times the attempts, still a handful a
// minute. Keeping them in the database would cost a write per failed
// login, which is what a guesser would then flood.
type failures struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	keys   map[string]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

// maxFailKeys bounds the memory of the counts: past it, ended windows are
// dropped, and if none has ended every new key is refused (someone is
// trying a great many addresses at once; the refusal lasts a window).
const maxFailKeys = 100_000

func newFailures(max int, window time.Duration) *failures {
	return &failures{max: max, window: window, keys: map[string]*failWindow{}}
}

// blocked reports whether key has used up its failures at now, and until
// when it is refused.
func (f *failures) blocked(key string, now time.Time) (bool, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.keys[key]
	if w == nil {
		if len(f.keys) >= maxFailKeys && !f.sweep(now) {
			return true, now.Add(f.window)
		}
		return false, time.Time{}
	}
	if now.Sub(w.start) >= f.window {
		delete(f.keys, key)
		return false, time.Time{}
	}
	return w.n >= f.max, w.start.Add(f.window)
}

// fail counts a failure of key at now.
func (f *failures) fail(key string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.keys[key]
	if w == nil || now.Sub(w.start) >= f.window {
		if w == nil && len(f.keys) >= maxFailKeys && !f.sweep(now) {
			return
		}
		w = &failWindow{start: now}
		f.keys[key] = w
	}
	w.n++
}

// forget clears key's failures: a successful login starts afresh.
func (f *failures) forget(key string) {
	f.mu.Lock()
	delete(f.keys, key)
	f.mu.Unlock()
}

// sweep drops ended windows and reports whether that made room.
func (f *failures) sweep(now time.Time) bool {
	for k, w := range f.keys {
		if now.Sub(w.start) >= f.window {
			delete(f.keys, k)
		}
	}
	return len(f.keys) < maxFailKeys
}
