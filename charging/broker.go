package charging

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evbill/evbill"
)

// Update is a session's live figures as of a committed write: its start,
// a MeterValues, a change of state or its end. Its Live and CDR are
// shared by every subscriber and must not be modified.
type Update struct {
	// Live is the session as its driver sees it, read from the store
	// after the write was committed; nil when Err is set.
	Live *Live
	// CDR is the ended session's CDR, whose total is what the driver
	// pays; nil while the session runs, and for a session that ended
	// without one (flagged, or without a tariff).
	CDR *evbill.CDR
	// Err is why the figures could not be read. The subscriber should
	// cancel and subscribe again later: the broker does not retry.
	Err error

	shared *encodings // one per read, shared by the subscribers it reaches
}

// encodings are what subscribers made of one update, made once.
type encodings struct{ m sync.Map } // key → *encoding

type encoding struct {
	once sync.Once
	b    []byte
	err  error
}

// Encoded returns encode's result for key, computed once for all the
// subscribers that get this update and ask with an equal key: a session
// that a thousand follow is written out once, not a thousand times. The
// key must stand for everything encode depends on besides the update.
func (u Update) Encoded(key any, encode func() ([]byte, error)) ([]byte, error) {
	if u.shared == nil {
		return encode()
	}
	v, _ := u.shared.m.LoadOrStore(key, &encoding{})
	e := v.(*encoding)
	e.once.Do(func() { e.b, e.err = encode() })
	return e.b, e.err
}

// Ended reports whether the update is the session's last: it has ended.
func (u Update) Ended() bool {
	return u.Live != nil && u.Live.Session.State == evbill.SessionEnded
}

// maxLoads bounds the figures read from the store at once for all
// subscribers: the live stream must never crowd out the OCPP path's
// reads, and one read serves every subscriber of a session.
const maxLoads = 8

// loadTimeout bounds one read of a session's figures.
const loadTimeout = 10 * time.Second

// Broker is an in-process publish/subscribe of sessions' live figures,
// keyed by session. A publish only says that a session changed; the
// figures are then read from the store, once per change for all of the
// session's subscribers, by a goroutine of the session's own, so a
// publish never waits for a read or for a subscriber. Each subscriber
// holds at most one update: a slow one skips to the latest, so memory
// does not grow with the rate of change, and the last update (the end)
// is never lost. The broker is per process; the store stays the record,
// so a new subscriber's first update is read from it, not remembered.
type Broker struct {
	load func(ctx context.Context, tenantID, sessionID string) Update

	mu     sync.RWMutex
	topics map[topicKey]*topic
	closed bool

	loads  chan struct{} // a semaphore of maxLoads
	ctx    context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	closer sync.Once
}

type topicKey struct{ tenantID, sessionID string }

// topic is one session's subscribers and the goroutine that feeds them,
// which lives as long as the session has subscribers.
type topic struct {
	key  topicKey
	kick chan struct{} // capacity 1: changes since the last read coalesce
	done chan struct{} // closed when the last subscriber leaves
	// dirty says a publish came since the last read began; a kick
	// without it is a new subscriber waiting for its first update.
	dirty atomic.Bool

	mu       sync.Mutex
	subs     map[*subscriber]struct{}
	unprimed int // subscribers that have had no update yet
}

type subscriber struct {
	ch     chan Update // capacity 1: the latest update not yet taken
	primed bool
}

// NewBroker returns a broker whose updates load reads: the figures of
// the session as the store has them now.
func NewBroker(load func(ctx context.Context, tenantID, sessionID string) Update) *Broker {
	ctx, stop := context.WithCancel(context.Background())
	return &Broker{load: load, topics: map[topicKey]*topic{}, loads: make(chan struct{}, maxLoads), ctx: ctx, stop: stop}
}

// Subscribe follows the session: its first update is the session as the
// store has it now, each later one follows a change published after it.
// An update not yet taken is replaced by the next one, so the channel
// always ends with the latest. cancel ends the subscription and closes
// the channel; so does Close, and a subscription made after Close gets a
// closed channel at once.
func (b *Broker) Subscribe(tenantID, sessionID string) (updates <-chan Update, cancel func()) {
	sub := &subscriber{ch: make(chan Update, 1)}
	key := topicKey{tenantID, sessionID}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(sub.ch)
		return sub.ch, func() {}
	}
	t := b.topics[key]
	if t == nil {
		t = &topic{key: key, kick: make(chan struct{}, 1), done: make(chan struct{}), subs: map[*subscriber]struct{}{}}
		b.topics[key] = t
		b.wg.Add(1)
		go b.run(t)
	}
	t.mu.Lock()
	t.subs[sub] = struct{}{}
	t.unprimed++
	t.mu.Unlock()
	b.mu.Unlock()
	t.poke()
	var once sync.Once
	return sub.ch, func() { once.Do(func() { b.unsubscribe(t, sub) }) }
}

func (b *Broker) unsubscribe(t *topic, sub *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t.mu.Lock()
	if _, ok := t.subs[sub]; ok {
		delete(t.subs, sub)
		if !sub.primed {
			t.unprimed--
		}
		close(sub.ch)
	}
	last := len(t.subs) == 0
	t.mu.Unlock()
	if last && b.topics[t.key] == t {
		delete(b.topics, t.key)
		close(t.done)
	}
}

// Publish says that the session changed, after the change is committed:
// its subscribers get the figures read after it. It never blocks on a
// read or a subscriber, and costs a map lookup when nobody follows the
// session, which is the common case on the OCPP path.
func (b *Broker) Publish(tenantID, sessionID string) {
	b.mu.RLock()
	t := b.topics[topicKey{tenantID, sessionID}]
	b.mu.RUnlock()
	if t == nil {
		return
	}
	t.dirty.Store(true)
	t.poke()
}

// poke wakes the topic's goroutine, or leaves the wake-up already pending.
func (t *topic) poke() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// Close ends every subscription, closing its channel, and waits for the
// reads in flight. A server shutting down calls it so that streams end
// instead of holding the shutdown; later publishes do nothing.
func (b *Broker) Close() {
	b.closer.Do(func() {
		b.mu.Lock()
		b.closed = true
		for key, t := range b.topics {
			t.mu.Lock()
			for sub := range t.subs {
				close(sub.ch)
			}
			t.subs, t.unprimed = nil, 0
			t.mu.Unlock()
			close(t.done)
			delete(b.topics, key)
		}
		b.mu.Unlock()
		b.stop()
		b.wg.Wait()
	})
}

// run feeds one topic's subscribers until the last one leaves: one read
// per wake-up, however many publishes and subscribers it stands for.
func (b *Broker) run(t *topic) {
	defer b.wg.Done()
	for {
		select {
		case <-t.done:
			return
		case <-t.kick:
		}
		all := t.dirty.Swap(false)
		t.mu.Lock()
		waiting := t.unprimed > 0
		t.mu.Unlock()
		if !all && !waiting {
			continue // a subscriber that joined during the last read got it
		}
		select {
		case b.loads <- struct{}{}:
		case <-t.done:
			return
		}
		ctx, cancel := context.WithTimeout(b.ctx, loadTimeout)
		u := b.load(ctx, t.key.tenantID, t.key.sessionID)
		u.shared = &encodings{}
		cancel()
		<-b.loads
		t.mu.Lock()
		for sub := range t.subs {
			if !all && sub.primed {
				continue // it has these figures already, or newer ones are coming
			}
			if !sub.primed {
				sub.primed = true
				t.unprimed--
			}
			offer(sub.ch, u)
		}
		t.mu.Unlock()
	}
}

// offer puts u in a subscriber's slot, replacing an update it has not
// taken. Only the topic's goroutine sends, under the topic's lock, so
// after the slot is emptied the send cannot fail; the receiver may only
// make room.
func offer(ch chan Update, u Update) {
	select {
	case ch <- u:
		return
	default:
	}
	select {
	case <-ch:
	default:
	}
	select {
	case ch <- u:
	default:
	}
}

// Subscribe follows a session's live figures; see Broker.Subscribe. The
// service publishes after each committed start, MeterValues, change of
// state and end.
func (s *Service) Subscribe(tenantID, sessionID string) (updates <-chan Update, cancel func()) {
	return s.broker.Subscribe(tenantID, sessionID)
}

// EndSubscriptions ends every live subscription for good, as a server
// shutting down does so that its streams finish; see Broker.Close.
func (s *Service) EndSubscriptions() { s.broker.Close() }

// liveUpdate reads a session's figures for its subscribers, with the CDR
// of an ended one: the total the driver pays, as stored.
func (s *Service) liveUpdate(ctx context.Context, tenantID, sessionID string) Update {
	l, err := s.Live(ctx, tenantID, sessionID)
	if err != nil {
		return Update{Err: err}
	}
	u := Update{Live: &l}
	if l.Session.State == evbill.SessionEnded {
		c, err := s.store.CDRBySession(ctx, tenantID, sessionID)
		switch evbill.ErrorCode(err) {
		case "":
			u.CDR = &c
		case evbill.ENOTFOUND: // ended without a CDR: flagged, or no tariff
		default:
			return Update{Err: err}
		}
	}
	return u
}
