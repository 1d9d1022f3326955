package charging_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/charging"
)

// counted is a load function over a counter standing for the store: each
// load reads the counter, and the session has ended once it reaches end.
type counted struct {
	value atomic.Int64
	end   int64
	loads atomic.Int64
}

func (c *counted) load(ctx context.Context, tenantID, sessionID string) charging.Update {
	c.loads.Add(1)
	v := c.value.Load()
	l := &charging.Live{Session: evbill.Session{TenantID: tenantID, ID: sessionID, MeterStartWh: fmt.Sprint(v), State: evbill.SessionActive}}
	if v >= c.end {
		l.Session.State = evbill.SessionEnded
	}
	return charging.Update{Live: l}
}

// receive returns the next update, failing after 10 s.
func receive(t *testing.T, ch <-chan charging.Update) (charging.Update, bool) {
	t.Helper()
	select {
	case u, ok := <-ch:
		return u, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no update within 10 s")
	}
	return charging.Update{}, false
}

// TestBrokerSlowSubscriber: a subscriber that reads nothing while a
// thousand changes are published holds one update, and what it finally
// reads is the end; publishing never waited for it.
func TestBrokerSlowSubscriber(t *testing.T) {
	c := &counted{end: 1000}
	b := charging.NewBroker(c.load)
	defer b.Close()
	slow, cancel := b.Subscribe("ten_1", "ses_1")
	defer cancel()
	start := time.Now()
	for i := int64(1); i <= c.end; i++ {
		c.value.Store(i)
		b.Publish("ten_1", "ses_1")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("1000 publishes took %v", d)
	}
	var last charging.Update
	for !last.Ended() {
		last, _ = receive(t, slow)
		if len(slow) > 1 {
			t.Fatalf("a subscriber holds %d updates", len(slow))
		}
	}
	if got := last.Live.Session.MeterStartWh; got != "1000" {
		t.Errorf("the last update is as of %s, want 1000", got)
	}
	if n := c.loads.Load(); n > c.end+1 {
		t.Errorf("%d loads for %d changes", n, c.end)
	}
}

// TestBrokerNeverBlocks: while the store hangs (a load that does not
// return), publishing still returns at once, from many goroutines; once
// the store answers, the subscriber gets the latest figures.
func TestBrokerNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	var value atomic.Int64
	b := charging.NewBroker(func(ctx context.Context, tenantID, sessionID string) charging.Update {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return charging.Update{Live: &charging.Live{Session: evbill.Session{ID: sessionID, MeterStartWh: fmt.Sprint(value.Load())}}}
	})
	defer b.Close()
	var subs []<-chan charging.Update
	for i := range 50 {
		ch, cancel := b.Subscribe("ten_1", fmt.Sprintf("ses_%d", i%10))
		defer cancel()
		subs = append(subs, ch)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 2000 {
					value.Store(int64(i))
					b.Publish("ten_1", fmt.Sprintf("ses_%d", (g+i)%10))
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked while the store hung")
	}
	value.Store(7777)
	for i := range 10 {
		b.Publish("ten_1", fmt.Sprintf("ses_%d", i))
	}
	close(release)
	for i, ch := range subs {
		for {
			u, _ := receive(t, ch)
			if u.Live.Session.MeterStartWh == "7777" {
				break
			}
		}
		if len(ch) > 1 {
			t.Errorf("subscriber %d holds %d updates", i, len(ch))
		}
	}
}

// TestBrokerRace subscribes, publishes, cancels and closes from many
// goroutines at once (run with -race): no send on a closed channel, no
// lost end for a subscriber that stays, and Close ends everything.
func TestBrokerRace(t *testing.T) {
	c := &counted{end: 300}
	b := charging.NewBroker(c.load)
	var stay []<-chan charging.Update
	for i := range 20 {
		ch, _ := b.Subscribe("ten_1", fmt.Sprintf("ses_%d", i%4))
		stay = append(stay, ch)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				ch, cancel := b.Subscribe("ten_1", fmt.Sprintf("ses_%d", (g+i)%4))
				if i%3 == 0 {
					select {
					case <-ch:
					default:
					}
				}
				cancel()
				cancel() // twice is harmless
			}
		})
	}
	for g := range 4 {
		wg.Go(func() {
			for range 300 {
				c.value.Add(1)
				for s := range 4 {
					b.Publish("ten_1", fmt.Sprintf("ses_%d", (g+s)%4))
				}
			}
		})
	}
	wg.Wait()
	for s := range 4 {
		b.Publish("ten_1", fmt.Sprintf("ses_%d", s)) // the value is past the end now
	}
	for i, ch := range stay {
		var u charging.Update
		for !u.Ended() {
			u, _ = receive(t, ch)
		}
		if i == 0 && u.Live.Session.ID != "ses_0" {
			t.Errorf("subscriber of ses_0 got %s", u.Live.Session.ID)
		}
	}
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, ch := range stay {
		for range ch { // drained and closed
		}
	}
	ch, cancel := b.Subscribe("ten_1", "ses_0")
	defer cancel()
	if _, open := <-ch; open {
		t.Error("a subscription after Close is open")
	}
	b.Publish("ten_1", "ses_0") // harmless
}

// TestBrokerSharesLoads: a change of a session followed by a hundred
// subscribers is read once for all of them, and a new subscriber's first
// update is read for it without sending the others what they have.
func TestBrokerSharesLoads(t *testing.T) {
	c := &counted{end: 1 << 62}
	b := charging.NewBroker(c.load)
	defer b.Close()
	var subs []<-chan charging.Update
	for range 100 {
		ch, cancel := b.Subscribe("ten_1", "ses_1")
		defer cancel()
		subs = append(subs, ch)
	}
	for _, ch := range subs {
		receive(t, ch) // the first figures
	}
	before := c.loads.Load()
	c.value.Store(42)
	b.Publish("ten_1", "ses_1")
	for _, ch := range subs {
		if u, _ := receive(t, ch); u.Live.Session.MeterStartWh != "42" {
			t.Fatalf("after the change: %s", u.Live.Session.MeterStartWh)
		}
	}
	if n := c.loads.Load() - before; n != 1 {
		t.Errorf("one change was read %d times for 100 subscribers", n)
	}
	// What the subscribers make of one update is made once.
	c.value.Store(43)
	b.Publish("ten_1", "ses_1")
	var encodes atomic.Int64
	var wg sync.WaitGroup
	for _, ch := range subs {
		u, _ := receive(t, ch)
		wg.Go(func() {
			got, err := u.Encoded("json", func() ([]byte, error) {
				encodes.Add(1)
				return []byte(u.Live.Session.MeterStartWh), nil
			})
			if string(got) != "43" || err != nil {
				t.Errorf("encoded %q, %v", got, err)
			}
		})
	}
	wg.Wait()
	if n := encodes.Load(); n != 1 {
		t.Errorf("one update was encoded %d times for 100 subscribers", n)
	}
	late, cancel := b.Subscribe("ten_1", "ses_1")
	defer cancel()
	if u, _ := receive(t, late); u.Live.Session.MeterStartWh != "43" {
		t.Errorf("a late subscriber's first update: %s", u.Live.Session.MeterStartWh)
	}
	for i, ch := range subs {
		select {
		case u := <-ch:
			t.Errorf("subscriber %d was sent the late subscriber's first update: %+v", i, u.Live.Session)
		case <-time.After(time.Millisecond):
		}
	}
}

// TestSubscribeFollowsSession follows a session driven over a real
// WebSocket: the first update is the session as stored, each MeterValues
// brings one with its reading, and the last has ended with the CDR the
// store holds, whose amount the running cost's engine agrees with.
func TestSubscribeFollowsSession(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		got := ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":%q}`, start.Format(time.RFC3339)))
		tx := int(got["transactionId"].(float64))
		sess, err := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if err != nil {
			t.Fatal(err)
		}
		updates, cancel := w.svc.Subscribe(w.tenant.ID, sess.ID)
		defer cancel()
		if u, _ := receive(t, updates); u.Err != nil || u.Ended() || u.Live.Session.ID != sess.ID || u.Live.EnergyKWh.String() != "0" {
			t.Fatalf("the first update: %+v", u)
		}
		for i, r := range []struct {
			wh  int
			kWh string
		}{{5000, "4"}, {9250, "8.25"}} {
			ch.call("MeterValues", meterValues(tx, start.Add(time.Duration(i+1)*20*time.Minute), r.wh, 11000))
			u, _ := receive(t, updates)
			if u.Err != nil || !u.Live.EnergyKWh.Equal(mustDecimal(t, r.kWh)) {
				t.Fatalf("after a reading of %d Wh: %+v, want %s kWh", r.wh, u, r.kWh)
			}
			if u.Live.Result == nil || u.Live.Rate == nil || !u.Live.HasPower {
				t.Fatalf("a running update without cost, rate or power: %+v", u.Live)
			}
		}
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":9250,"timestamp":%q,"reason":"EVDisconnected","idTag":"TAG1"}`,
			tx, start.Add(60*time.Minute).Format(time.RFC3339)))
		var u charging.Update
		for !u.Ended() {
			if u, _ = receive(t, updates); u.Err != nil {
				t.Fatal(u.Err)
			}
		}
		record, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.CDR == nil || u.CDR.ID != record.ID || u.CDR.AmountMinor != record.AmountMinor || record.AmountMinor <= 0 {
			t.Fatalf("the end's CDR %+v, stored %+v", u.CDR, record)
		}
		if u.Live.Result == nil || u.Live.Result.Charge.Minor != record.AmountMinor {
			t.Errorf("the end's price %+v, the CDR's amount %d", u.Live.Result, record.AmountMinor)
		}
	})
}

func mustDecimal(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
