package sim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/evbill/evbill/ocpp"
)

// Session states.
const (
	sAuthorizing uint8 = iota // Authorize sent, waiting for the verdict
	sCharging                 // the car draws power
	sFull                     // the car is full and parked: power 0
)

// session is one transaction of a charger's connector.
type session struct {
	idTag      string
	txID       int // 0 until the StartTransaction is answered; -1 if it was refused with a CALLERROR
	state      uint8
	stopped    bool // its StopTransaction is queued
	abandoned  bool // forgotten by a reboot
	recorded   bool
	samples    int // MeterValues sent, in benchmark mode
	startTS    int64
	meterStart int64
	stopTS     int64
	meterStop  int64
	reason     ocpp.Reason
	fullAt     int64 // when the car reaches its target, unix ms
	endAt      int64 // when the driver unplugs, full or not
	bat        battery
}

// outMsg is a CALL to send. Its payload is built when it is sent, so that
// a MeterValues or StopTransaction queued while offline carries the
// transaction id the replayed StartTransaction is answered with.
type outMsg struct {
	kind      kind
	dup       bool // a deliberate retransmission
	trigger   bool // sampled for a TriggerMessage
	connector uint8
	soc       int8 // percent; -1 when unknown
	powerW    int32
	currentDA int32 // 0.1 A
	status    ocpp.ChargePointStatus
	ts        int64 // unix ms
	wh        int64
	sess      *session
	txID      int // the transaction id a duplicate Start must get again
}

// Chaos kinds planned for a moment of a charger's life.
const (
	chaosNone uint8 = iota
	chaosOffline
	chaosReboot
)

// charger is one simulated charge point. All its fields are guarded by mu;
// it is driven by its connection's reading goroutine and its timer.
type charger struct {
	f    *fleet
	st   Station
	auth string // the Authorization header
	rng  *rand.Rand

	mu    sync.Mutex
	timer *time.Timer
	conn  *websocket.Conn
	gen   uint32 // connection generation: a stale reader's events are ignored

	dialing      bool
	wasConnected bool
	failures     uint8
	booted       bool // BootNotification accepted since the last (re)boot
	everBooted   bool

	hasOut       bool
	out          outMsg
	outID        string
	outSent      time.Time
	nextID       uint64
	queue        []outMsg
	callDeadline int64

	hbInterval    time.Duration
	meterInterval time.Duration
	meterKey      int // MeterValueSampleInterval as configured, s
	sampledData   string
	hbAt          int64
	sampleAt      int64
	eventAt       int64 // the session's next step, or the next session's start
	reconnectAt   int64
	chaosAt       int64
	chaosKind     uint8

	wantOffline bool
	offlineFor  time.Duration
	wantReboot  bool
	rebootStop  bool        // a reboot sends the session's StopTransaction (else forgets the session)
	rebootWhy   ocpp.Reason // its reason

	lastTS int64 // the last timestamp used, unix ms
	physTS int64 // the time the physics was advanced to
	regWh  float64
	sess   *session
}

func newCharger(f *fleet, st Station) *charger {
	c := &charger{f: f, st: st, rng: chargerRand(f.cfg.Seed, st.Index),
		auth:          "Basic " + base64.StdEncoding.EncodeToString([]byte(st.ChargePointID+":"+f.cfg.Password)),
		hbInterval:    300 * time.Second,
		meterInterval: f.cfg.MeterInterval,
		meterKey:      int(f.cfg.MeterInterval / time.Second),
		sampledData:   "Energy.Active.Import.Register,Power.Active.Import,Current.Import,SoC",
	}
	// A lifetime register somewhere between new and well used.
	c.regWh = float64(c.rng.IntN(5_000_000))
	return c
}

func nowMs() int64 { return time.Now().UnixMilli() }

// stamp returns the timestamp for something happening now: wall-clock
// milliseconds, strictly after the previous one, as the central system
// keeps one reading per instant.
func (c *charger) stamp() int64 {
	ts := nowMs()
	if ts <= c.lastTS {
		ts = c.lastTS + 1
	}
	c.lastTS = ts
	return ts
}

// advance brings the physics to ts: the session's car draws its power and
// the register rises by exactly its integral over the reported time.
func (c *charger) advance(ts int64) {
	if ts <= c.physTS {
		return
	}
	if s := c.sess; s != nil && s.state == sCharging {
		c.regWh += s.bat.advance(float64(ts-c.physTS) / 3.6e6)
	}
	c.physTS = ts
}

func (c *charger) register() int64 { return int64(math.Floor(c.regWh)) }

func (c *charger) exp(mean time.Duration) int64 {
	return int64(c.rng.ExpFloat64()*float64(mean.Milliseconds())) + 1
}

func (c *charger) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(c.rng.Int64N(int64(hi-lo)))
}

func (c *charger) benchmark() bool { return c.f.cfg.SamplesPerSession > 0 }

// --- timing ---

// arm sets the timer to the earliest thing the charger has to do.
func (c *charger) arm() {
	if c.f.stopping.Load() {
		return
	}
	next := int64(0)
	consider := func(t int64) {
		if t != 0 && (next == 0 || t < next) {
			next = t
		}
	}
	consider(c.callDeadline)
	consider(c.sampleAt)
	consider(c.eventAt)
	consider(c.reconnectAt)
	consider(c.chaosAt)
	if c.conn != nil && c.booted && !c.hasOut && len(c.queue) == 0 {
		consider(c.hbAt)
	}
	if next == 0 {
		if c.timer != nil {
			c.timer.Stop()
		}
		return
	}
	d := time.Duration(max(next-nowMs(), 0)) * time.Millisecond
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.tick)
	} else {
		c.timer.Reset(d)
	}
}

// tick does whatever is due.
func (c *charger) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f.stopping.Load() {
		return
	}
	now := nowMs()
	if c.hasOut && c.callDeadline != 0 && now >= c.callDeadline {
		c.f.st.timeouts.Add(1)
		c.disconnect(c.between(time.Second, 3*time.Second))
	}
	if c.reconnectAt != 0 && now >= c.reconnectAt {
		c.reconnectAt = 0
		c.requestDial()
	}
	if c.chaosAt != 0 && now >= c.chaosAt {
		c.chaosAt = 0
		switch c.chaosKind {
		case chaosOffline:
			c.wantOffline, c.offlineFor = true, c.between(c.f.cfg.OfflineMin, c.f.cfg.OfflineMax)
		case chaosReboot:
			c.wantReboot, c.rebootStop, c.rebootWhy = true, c.rng.IntN(2) == 0, ocpp.ReasonReboot
		}
		c.chaosKind = chaosNone
	}
	if c.eventAt != 0 && now >= c.eventAt {
		c.eventAt = 0
		c.sessionEvent()
	}
	if c.sampleAt != 0 && now >= c.sampleAt {
		c.sampleAt = 0
		if s := c.sess; s != nil && s.state != sAuthorizing && !s.stopped {
			c.sample(false)
			if c.meterInterval > 0 {
				c.sampleAt = now + c.meterInterval.Milliseconds()
			}
		}
	}
	if c.conn != nil && c.booted && !c.hasOut && len(c.queue) == 0 && c.hbAt != 0 && now >= c.hbAt {
		c.enqueue(outMsg{kind: kHeartbeat})
	}
	c.pump()
	c.arm()
}

// --- sessions ---

// sessionEvent is the session's next step: a new session, the car full,
// the driver unplugging.
func (c *charger) sessionEvent() {
	s := c.sess
	switch {
	case s == nil:
		tokens := c.f.cfg.Tokens
		c.beginSession(tokens[c.rng.IntN(len(tokens))])
	case s.state == sCharging:
		ts := c.stamp()
		c.advance(ts)
		// The car is full at fullAt; the closed form and the sum of the
		// partial steps may differ in the last bit.
		if ts < s.endAt && (s.bat.full() || ts >= s.fullAt) {
			c.becomeFull(ts)
			return
		}
		reason := ocpp.ReasonEVDisconnected
		if c.rng.IntN(3) == 0 {
			reason = ocpp.ReasonLocal // stopped with the card before unplugging
		}
		c.stopTx(reason)
	case s.state == sFull:
		c.stopTx(ocpp.ReasonEVDisconnected)
	}
}

// beginSession plugs a car in: online, the driver's card is authorized
// first; offline, the charger starts the transaction on its own (offline
// authorization) and queues it.
func (c *charger) beginSession(idTag string) {
	c.sess = &session{idTag: idTag, bat: newBattery(c.rng, c.st)}
	if c.conn != nil && c.booted && !c.benchmark() {
		c.sess.state = sAuthorizing
		c.enqueue(outMsg{kind: kAuthorize, sess: c.sess})
		return
	}
	c.startTx()
}

// startTx starts the transaction of the current session.
func (c *charger) startTx() {
	s := c.sess
	bench := c.benchmark()
	if !bench {
		c.status(1, ocpp.StatusPreparing)
	}
	ts := c.stamp()
	c.advance(ts) // nothing charges between sessions; this only moves the clock
	s.state, s.startTS, s.meterStart = sCharging, ts, c.register()
	c.enqueue(outMsg{kind: kStart, sess: s})
	if bench {
		if c.f.cfg.Chaos {
			switch r := c.rng.Float64(); {
			case r < rebootPerSession/2:
				c.chaosAt, c.chaosKind = ts+1, chaosReboot
			case r < (rebootPerSession+offlinePerSession)/2:
				c.chaosAt, c.chaosKind = ts+1, chaosOffline
			}
		}
		return
	}
	c.status(1, ocpp.StatusCharging)
	s.fullAt = ts + int64(math.Ceil(s.bat.hoursToFull()*3.6e6))
	s.endAt = ts + c.exp(c.f.cfg.SessionLength)
	c.eventAt = min(s.fullAt, s.endAt)
	c.sampleAt = ts + c.meterInterval.Milliseconds()
	if c.meterInterval <= 0 {
		c.sampleAt = 0
	}
	if c.f.cfg.Chaos {
		span := c.eventAt - ts
		switch r := c.rng.Float64(); {
		case r < rebootPerSession:
			c.chaosAt, c.chaosKind = ts+c.rng.Int64N(span+1), chaosReboot
		case r < rebootPerSession+offlinePerSession:
			c.chaosAt, c.chaosKind = ts+c.rng.Int64N(span+1), chaosOffline
		}
	}
}

// becomeFull: the car stops drawing power and stays parked for a while.
func (c *charger) becomeFull(ts int64) {
	s := c.sess
	s.bat.soc = max(s.bat.soc, s.bat.target)
	s.state = sFull
	c.sampleInto(ts, false) // the reading that shows power 0
	c.enqueue(outMsg{kind: kStatus, connector: 1, status: ocpp.StatusSuspendedEV, ts: c.stamp()})
	c.eventAt = nowMs() + c.exp(c.f.cfg.Parking)
	if c.eventAt > s.endAt {
		c.eventAt = s.endAt // the driver had planned to leave earlier
	}
}

// sample takes a meter reading now.
func (c *charger) sample(trigger bool) {
	c.sampleInto(c.stamp(), trigger)
}

func (c *charger) sampleInto(ts int64, trigger bool) {
	c.advance(ts)
	m := outMsg{kind: kMeter, ts: ts, wh: c.register(), soc: -1, trigger: trigger, connector: 1}
	if s := c.sess; s != nil && s.state != sAuthorizing && !s.stopped {
		m.sess = s
		p := s.bat.power(s.bat.soc)
		if s.state != sCharging {
			p = 0
		}
		m.powerW = int32(p)
		m.currentDA = int32(current(c.st, p) * 10)
		m.soc = int8(math.Floor(s.bat.soc * 100))
	}
	c.enqueue(m)
}

// stopTx ends the current session's transaction with reason.
func (c *charger) stopTx(reason ocpp.Reason) {
	s := c.sess
	if s == nil {
		return
	}
	c.sampleAt = 0
	if s.state == sAuthorizing {
		c.sess = nil
		c.scheduleNext()
		return
	}
	ts := c.stamp()
	c.advance(ts) // while the session is current, so its energy up to the stop counts
	c.sess = nil
	s.stopped, s.stopTS, s.meterStop, s.reason = true, ts, c.register(), reason
	c.enqueue(outMsg{kind: kStop, sess: s})
	if !c.benchmark() {
		c.status(1, ocpp.StatusFinishing)
		c.status(1, ocpp.StatusAvailable)
		c.scheduleNext()
	}
}

// scheduleNext plans the connector's next session (and, with chaos,
// perhaps an offline stretch before it).
func (c *charger) scheduleNext() {
	if c.benchmark() {
		return // the next one starts when the Stop is answered
	}
	gap := c.exp(c.f.cfg.SessionGap)
	c.eventAt = nowMs() + gap
	if c.f.cfg.Chaos && c.chaosKind == chaosNone && c.rng.Float64() < offlineIdle {
		c.chaosAt, c.chaosKind = nowMs()+c.rng.Int64N(gap), chaosOffline
	}
}

// finish reports a session that is over to Config.OnSession.
func (c *charger) finish(s *session) {
	if s.recorded || c.f.cfg.OnSession == nil {
		return
	}
	s.recorded = true
	rec := SessionRecord{ChargePointID: c.st.ChargePointID, TransactionID: s.txID, IDTag: s.idTag,
		MeterStartWh: s.meterStart, Start: time.UnixMilli(s.startTS).UTC(), Reason: s.reason, Abandoned: s.abandoned}
	if !s.abandoned {
		rec.MeterStopWh, rec.Stop = s.meterStop, time.UnixMilli(s.stopTS).UTC()
	}
	c.f.cfg.OnSession(rec)
}

// connectorStatus is connector 1's status as the charger would report it.
func (c *charger) connectorStatus() ocpp.ChargePointStatus {
	switch s := c.sess; {
	case s == nil:
		return ocpp.StatusAvailable
	case s.state == sAuthorizing:
		return ocpp.StatusPreparing
	case s.state == sFull:
		return ocpp.StatusSuspendedEV
	}
	return ocpp.StatusCharging
}

func (c *charger) status(connector uint8, st ocpp.ChargePointStatus) {
	c.enqueue(outMsg{kind: kStatus, connector: connector, status: st, ts: c.stamp()})
}

// --- sending ---

func (c *charger) enqueue(m outMsg) { c.queue = append(c.queue, m) }

// pump sends the next CALL if none is outstanding (OCPP-J allows one at a
// time), and goes offline or reboots when one was planned: only between
// messages, as a charger does.
func (c *charger) pump() {
	for c.conn != nil && !c.hasOut {
		if c.wantReboot {
			c.reboot()
			return
		}
		if c.wantOffline {
			c.wantOffline = false
			c.f.st.offline.Add(1)
			c.disconnect(c.offlineFor)
			return
		}
		if !c.booted {
			c.send(outMsg{kind: kBoot})
			return
		}
		if len(c.queue) == 0 {
			if cap(c.queue) > 64 {
				c.queue = nil // a long offline stretch is over: give the memory back
			}
			return
		}
		// Shift rather than reslice, so the queue's array is reused: it
		// is short except after an offline stretch.
		m := c.queue[0]
		n := copy(c.queue, c.queue[1:])
		c.queue[n] = outMsg{}
		c.queue = c.queue[:n]
		if m.sess != nil && m.sess.txID < 0 && m.kind != kStart {
			continue // its transaction was refused: nothing to report it under
		}
		c.send(m)
	}
}

// send writes the CALL. A write that fails loses the connection; a
// transaction message is then kept for the next one.
func (c *charger) send(m outMsg) {
	payload, err := c.payload(&m)
	if err != nil {
		// Our own bug: count it where it shows, and do not wedge the queue.
		c.f.st.callErrors.Add(1)
		c.f.st.errsKind[m.kind].Add(1)
		return
	}
	c.nextID++
	id := strconv.FormatUint(c.nextID, 36)
	bp := c.f.getBuf()
	*bp = ocpp.AppendCall((*bp)[:0], id, kindAction[m.kind], payload)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = c.conn.Write(ctx, websocket.MessageText, *bp)
	cancel()
	c.f.putBuf(bp)
	c.hasOut, c.out, c.outID, c.outSent = true, m, id, time.Now()
	now := nowMs()
	c.callDeadline = now + c.f.cfg.CallTimeout.Milliseconds()
	c.hbAt = now + c.hbInterval.Milliseconds()
	if err != nil {
		c.connectionLost(err)
		return
	}
	c.f.st.sent.Add(1)
	if m.kind == kStart || m.kind == kMeter || m.kind == kStop {
		c.f.st.txSent.Add(1)
	}
	if m.dup {
		c.f.st.duplicates.Add(1)
	}
}

func ts(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// payload builds the JSON payload of a CALL with the ocpp package's types.
func (c *charger) payload(m *outMsg) ([]byte, error) {
	switch m.kind {
	case kBoot:
		return json.Marshal(&ocpp.BootNotificationReq{ChargePointVendor: "evbill-sim", ChargePointModel: c.st.Model,
			FirmwareVersion: "sim-1", MeterType: "sim"})
	case kHeartbeat:
		return []byte("{}"), nil
	case kStatus:
		t := ts(m.ts)
		return json.Marshal(&ocpp.StatusNotificationReq{ConnectorId: int(m.connector), ErrorCode: ocpp.ErrorNoError, Status: m.status, Timestamp: &t})
	case kAuthorize:
		return json.Marshal(&ocpp.AuthorizeReq{IdTag: m.sess.idTag})
	case kStart:
		s := m.sess
		return json.Marshal(&ocpp.StartTransactionReq{ConnectorId: 1, IdTag: s.idTag, MeterStart: int(s.meterStart), Timestamp: ts(s.startTS)})
	case kMeter:
		return appendMeterValues(nil, m), nil
	case kStop:
		s := m.sess
		return json.Marshal(&ocpp.StopTransactionReq{IdTag: s.idTag, MeterStop: int(s.meterStop), Timestamp: ts(s.stopTS),
			TransactionId: s.txID, Reason: s.reason})
	}
	return nil, fmt.Errorf("sim: no payload for message kind %d", m.kind)
}

// appendMeterValues appends m's MeterValues payload, written by hand: it
// is nearly every message a benchmark sends, and encoding/json's
// reflection was an eighth of the simulator's CPU, which the server on the
// same cores then lacks. TestMeterValuesPayload holds it to what
// encoding/json makes of the ocpp types.
func appendMeterValues(b []byte, m *outMsg) []byte {
	ctxt := ocpp.ContextSamplePeriodic
	if m.trigger {
		ctxt = ocpp.ContextTrigger
	}
	sv := func(b []byte, value []byte, measurand ocpp.Measurand, location ocpp.Location, unit string) []byte {
		b = append(b, `{"value":"`...)
		b = append(b, value...)
		b = append(b, `","context":"`...)
		b = append(b, ctxt...)
		b = append(b, `","measurand":"`...)
		b = append(b, measurand...)
		b = append(b, `","location":"`...)
		b = append(b, location...)
		b = append(b, `","unit":"`...)
		b = append(b, unit...)
		return append(b, `"}`...)
	}
	var num [24]byte
	b = append(b, `{"connectorId":`...)
	b = strconv.AppendInt(b, int64(m.connector), 10)
	if m.sess != nil {
		b = append(b, `,"transactionId":`...)
		b = strconv.AppendInt(b, int64(m.sess.txID), 10)
	}
	b = append(b, `,"meterValue":[{"timestamp":"`...)
	b = ts(m.ts).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","sampledValue":[`...)
	b = sv(b, strconv.AppendInt(num[:0], m.wh, 10), ocpp.MeasurandEnergyActiveImportRegister, ocpp.LocationOutlet, "Wh")
	if m.sess != nil {
		b = append(b, ',')
		b = sv(b, strconv.AppendInt(num[:0], int64(m.powerW), 10), ocpp.MeasurandPowerActiveImport, ocpp.LocationOutlet, "W")
		b = append(b, ',')
		da := int64(m.currentDA)
		amps := num[:0]
		if da < 0 {
			amps, da = append(amps, '-'), -da
		}
		amps = strconv.AppendInt(amps, da/10, 10)
		amps = append(amps, '.', byte('0'+da%10))
		b = sv(b, amps, ocpp.MeasurandCurrentImport, ocpp.LocationOutlet, "A")
		b = append(b, ',')
		b = sv(b, strconv.AppendInt(num[:0], int64(m.soc), 10), ocpp.MeasurandSoC, ocpp.LocationEV, "Percent")
	}
	return append(b, "]}]}"...)
}

// --- receiving ---

// read is the connection's goroutine: it reads frames until the
// connection ends. Its buffer is its own, as an old reader may still be
// finishing while a new connection's starts.
func (c *charger) read(conn *websocket.Conn, gen uint32) {
	buf := make([]byte, 0, 512)
	for {
		_, r, err := conn.Reader(context.Background())
		if err == nil {
			buf, err = readAll(r, buf[:0])
		}
		if err != nil {
			c.mu.Lock()
			if gen == c.gen && !c.f.stopping.Load() {
				c.f.st.disconnects.Add(1)
				c.connectionLost(err)
				c.arm()
			}
			c.mu.Unlock()
			return
		}
		c.onFrame(gen, buf)
		if cap(buf) > 16<<10 {
			buf = make([]byte, 0, 512)
		}
	}
}

func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (c *charger) onFrame(gen uint32, data []byte) {
	f, perr := ocpp.ParseFrame(data)
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.conn == nil {
		return
	}
	switch {
	case f.Type == ocpp.TypeCall:
		if perr != nil {
			c.reply(f.UniqueID, nil, perr)
		} else {
			c.serve(f)
		}
	case perr != nil:
		// A broken answer is never answered (OCPP-J); the CALL times out.
	case (f.Type == ocpp.TypeCallResult || f.Type == ocpp.TypeCallError) && c.hasOut && f.UniqueID == c.outID:
		d := time.Since(c.outSent)
		m := c.out
		c.hasOut, c.out, c.callDeadline = false, outMsg{}, 0
		c.f.st.all.record(d)
		c.f.st.byKind[m.kind].record(d)
		c.result(&m, &f)
	}
	c.pump()
	c.arm()
}

// result acts on the answer to our CALL m.
func (c *charger) result(m *outMsg, f *ocpp.Frame) {
	if f.Type == ocpp.TypeCallError {
		c.f.st.callErrors.Add(1)
		c.f.st.errsKind[m.kind].Add(1)
		switch m.kind {
		case kBoot:
			c.disconnect(c.backoff()) // try the boot again later
		case kAuthorize:
			if m.sess == c.sess {
				c.sess = nil
				c.scheduleNext()
			}
		case kStart:
			if m.sess.txID == 0 {
				m.sess.txID = -1
				if m.sess == c.sess {
					c.sess = nil
					c.sampleAt = 0
					c.scheduleNext()
					if c.benchmark() {
						c.beginNextBenchmark()
					}
				}
			}
		}
		return
	}
	switch m.kind {
	case kBoot:
		var conf ocpp.BootNotificationConf
		if json.Unmarshal(f.Payload, &conf) != nil || conf.Status != ocpp.RegistrationAccepted {
			d := time.Duration(conf.Interval) * time.Second
			c.disconnect(max(d, c.backoff()))
			return
		}
		c.booted, c.failures = true, 0
		if conf.Interval > 0 {
			c.hbInterval = time.Duration(conf.Interval) * time.Second
		}
		c.hbAt = nowMs() + c.hbInterval.Milliseconds()
		c.status(0, ocpp.StatusAvailable)
		c.status(1, c.connectorStatus())
		if !c.everBooted {
			c.everBooted = true
			if c.benchmark() {
				c.beginNextBenchmark()
			} else if c.sess == nil && c.eventAt == 0 {
				c.scheduleNext()
			}
		} else if c.benchmark() && c.sess == nil {
			c.beginNextBenchmark()
		}
	case kAuthorize:
		var conf ocpp.AuthorizeConf
		_ = json.Unmarshal(f.Payload, &conf)
		if m.sess != c.sess || c.sess.state != sAuthorizing {
			return
		}
		if conf.IdTagInfo.Status != ocpp.AuthorizationAccepted {
			c.f.st.rejected.Add(1)
			c.sess = nil
			c.scheduleNext()
			return
		}
		c.startTx()
	case kStart:
		var conf ocpp.StartTransactionConf
		_ = json.Unmarshal(f.Payload, &conf)
		s := m.sess
		if m.dup {
			if conf.TransactionId != m.txID {
				c.f.st.dupMismatch.Add(1)
			}
			return
		}
		s.txID = conf.TransactionId
		c.f.st.started.Add(1)
		c.maybeDuplicate(m, s.txID)
		if s.abandoned {
			c.finish(s)
			return
		}
		if conf.IdTagInfo.Status != ocpp.AuthorizationAccepted && s == c.sess && !s.stopped {
			c.f.st.rejected.Add(1)
			c.stopTx(ocpp.ReasonDeAuthorized)
			return
		}
		if c.benchmark() && s == c.sess && !s.stopped {
			c.benchmarkStep(s)
		}
	case kMeter:
		if m.dup {
			return
		}
		if m.sess != nil {
			c.maybeDuplicate(m, m.sess.txID)
		}
		if s := m.sess; c.benchmark() && s != nil && s == c.sess && !s.stopped && !m.trigger {
			s.samples++
			c.benchmarkStep(s)
		}
	case kStop:
		if m.dup {
			return
		}
		c.f.st.ended.Add(1)
		c.finish(m.sess)
		if c.benchmark() && c.sess == nil {
			c.beginNextBenchmark()
		}
	}
}

// maybeDuplicate retransmits a Start or MeterValues now and then, with
// the same content and a new uniqueId, as a charger does when an answer
// got lost: the central system must not count it twice.
func (c *charger) maybeDuplicate(m *outMsg, txID int) {
	if !c.f.cfg.Chaos || c.rng.Float64() >= duplicateRate {
		return
	}
	d := *m
	d.dup, d.txID = true, txID
	c.queue = append(c.queue, outMsg{})
	copy(c.queue[1:], c.queue)
	c.queue[0] = d
}

// benchmarkStep sends the session's next message: a MeterValues until it
// has SamplesPerSession, then its StopTransaction.
func (c *charger) benchmarkStep(s *session) {
	if s.samples < c.f.cfg.SamplesPerSession {
		c.sample(false)
		return
	}
	c.stopTx(ocpp.ReasonLocal)
}

func (c *charger) beginNextBenchmark() {
	if c.f.stopping.Load() || c.sess != nil {
		return
	}
	tokens := c.f.cfg.Tokens
	c.beginSession(tokens[c.rng.IntN(len(tokens))])
}

// --- the central system's CALLs ---

// serve answers a CALL of the central system.
func (c *charger) serve(f ocpp.Frame) {
	c.f.st.serverCalls.Add(1)
	if !ocpp.KnownAction(f.Action) {
		c.reply(f.UniqueID, nil, ocpp.Errorf(ocpp.NotImplemented, "unknown action %s", f.Action))
		return
	}
	if cerr := ocpp.ValidateRequest(f.Action, f.Payload); cerr != nil {
		c.reply(f.UniqueID, nil, cerr)
		return
	}
	conf, after, cerr := c.handle(f.Action, f.Payload)
	if cerr != nil {
		c.reply(f.UniqueID, nil, cerr)
		return
	}
	b, err := json.Marshal(conf)
	if err != nil {
		c.reply(f.UniqueID, nil, ocpp.Errorf(ocpp.InternalError, "%v", err))
		return
	}
	c.reply(f.UniqueID, b, nil)
	if after != nil && c.conn != nil {
		after()
	}
}

// handle returns the confirmation of a valid server CALL and what to do
// once it has been sent.
func (c *charger) handle(action string, payload []byte) (conf any, after func(), cerr *ocpp.CallError) {
	switch action {
	case ocpp.ActionChangeConfiguration:
		var req ocpp.ChangeConfigurationReq
		_ = json.Unmarshal(payload, &req)
		return &ocpp.ChangeConfigurationConf{Status: c.setConfig(req.Key, req.Value)}, nil, nil
	case ocpp.ActionGetConfiguration:
		var req ocpp.GetConfigurationReq
		_ = json.Unmarshal(payload, &req)
		return c.getConfig(req.Key), nil, nil
	case ocpp.ActionReset:
		var req ocpp.ResetReq
		_ = json.Unmarshal(payload, &req)
		why := ocpp.ReasonSoftReset
		if req.Type == ocpp.ResetHard {
			why = ocpp.ReasonHardReset
		}
		return &ocpp.ResetConf{Status: ocpp.ResetAccepted}, func() {
			c.wantReboot, c.rebootStop, c.rebootWhy = true, true, why
		}, nil
	case ocpp.ActionTriggerMessage:
		var req ocpp.TriggerMessageReq
		_ = json.Unmarshal(payload, &req)
		return c.trigger(&req)
	case ocpp.ActionRemoteStartTransaction:
		var req ocpp.RemoteStartTransactionReq
		_ = json.Unmarshal(payload, &req)
		if c.sess != nil || (req.ConnectorId != nil && *req.ConnectorId != 1) {
			return &ocpp.RemoteStartTransactionConf{Status: ocpp.RemoteRejected}, nil, nil
		}
		return &ocpp.RemoteStartTransactionConf{Status: ocpp.RemoteAccepted}, func() {
			if c.sess == nil {
				c.eventAt = 0
				// AuthorizeRemoteTxRequests is false: no Authorize first.
				c.sess = &session{idTag: req.IdTag, bat: newBattery(c.rng, c.st)}
				c.startTx()
			}
		}, nil
	case ocpp.ActionRemoteStopTransaction:
		var req ocpp.RemoteStopTransactionReq
		_ = json.Unmarshal(payload, &req)
		if s := c.sess; s == nil || s.state == sAuthorizing || s.txID != req.TransactionId {
			return &ocpp.RemoteStopTransactionConf{Status: ocpp.RemoteRejected}, nil, nil
		}
		return &ocpp.RemoteStopTransactionConf{Status: ocpp.RemoteAccepted}, func() { c.stopTx(ocpp.ReasonRemote) }, nil
	case ocpp.ActionDataTransfer:
		var req ocpp.DataTransferReq
		_ = json.Unmarshal(payload, &req)
		return c.display(&req), nil, nil
	case ocpp.ActionUnlockConnector:
		var req ocpp.UnlockConnectorReq
		_ = json.Unmarshal(payload, &req)
		if req.ConnectorId != 1 {
			return &ocpp.UnlockConnectorConf{Status: ocpp.UnlockNotSupported}, nil, nil
		}
		return &ocpp.UnlockConnectorConf{Status: ocpp.UnlockUnlocked}, func() {
			if c.sess != nil {
				c.stopTx(ocpp.ReasonUnlockCommand)
			}
		}, nil
	}
	return nil, nil, ocpp.Errorf(ocpp.NotSupported, "the simulator does not support %s", action)
}

// display takes the central system's California Pricing messages, as a
// charger with a display of costs would, and counts them; their text is
// not kept, as nobody looks at a simulated screen. Other vendors' data is
// not understood.
func (c *charger) display(req *ocpp.DataTransferReq) *ocpp.DataTransferConf {
	if req.VendorId != ocpp.CostMsgVendorID {
		return &ocpp.DataTransferConf{Status: ocpp.DataTransferUnknownVendorId}
	}
	switch req.MessageId {
	case ocpp.CostMsgSetUserPrice, ocpp.CostMsgRunningCost, ocpp.CostMsgFinalCost:
	default:
		return &ocpp.DataTransferConf{Status: ocpp.DataTransferUnknownMessageId}
	}
	if !json.Valid([]byte(req.Data)) {
		return &ocpp.DataTransferConf{Status: ocpp.DataTransferRejected}
	}
	c.f.st.costMessages.Add(1)
	return &ocpp.DataTransferConf{Status: ocpp.DataTransferAccepted}
}

func (c *charger) trigger(req *ocpp.TriggerMessageReq) (any, func(), *ocpp.CallError) {
	conn := 1
	if req.ConnectorId != nil {
		conn = *req.ConnectorId
	}
	if conn > 1 || conn < 0 {
		return &ocpp.TriggerMessageConf{Status: ocpp.TriggerRejected}, nil, nil
	}
	var after func()
	switch req.RequestedMessage {
	case ocpp.TriggerBootNotification:
		after = func() { c.enqueue(outMsg{kind: kBoot}) }
	case ocpp.TriggerHeartbeat:
		after = func() { c.enqueue(outMsg{kind: kHeartbeat}) }
	case ocpp.TriggerStatusNotification:
		after = func() {
			if req.ConnectorId == nil || conn == 0 {
				c.status(0, ocpp.StatusAvailable)
			}
			if req.ConnectorId == nil || conn == 1 {
				c.status(1, c.connectorStatus())
			}
		}
	case ocpp.TriggerMeterValues:
		after = func() { c.sample(true) }
	default:
		return &ocpp.TriggerMessageConf{Status: ocpp.TriggerNotImplemented}, nil, nil
	}
	return &ocpp.TriggerMessageConf{Status: ocpp.TriggerAccepted}, after, nil
}

// setConfig takes a configuration key. MeterValueSampleInterval is
// honoured unless the run fixed the interval (then only remembered).
func (c *charger) setConfig(key, value string) ocpp.ConfigurationStatus {
	switch key {
	case "MeterValueSampleInterval", "HeartbeatInterval":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return ocpp.ConfigurationRejected
		}
		if key == "HeartbeatInterval" {
			if n > 0 {
				c.hbInterval = time.Duration(n) * time.Second
			}
			return ocpp.ConfigurationAccepted
		}
		c.meterKey = n
		if !c.f.cfg.MeterIntervalFixed {
			c.meterInterval = time.Duration(n) * time.Second
			if s := c.sess; s != nil && c.sampleAt != 0 {
				c.sampleAt = nowMs() + c.meterInterval.Milliseconds()
			}
		}
		return ocpp.ConfigurationAccepted
	case "MeterValuesSampledData":
		c.sampledData = value
		return ocpp.ConfigurationAccepted
	case "NumberOfConnectors", "AuthorizeRemoteTxRequests":
		return ocpp.ConfigurationRejected // read-only
	}
	return ocpp.ConfigurationNotSupported
}

func (c *charger) getConfig(keys []string) *ocpp.GetConfigurationConf {
	str := func(s string) *string { return &s }
	all := []ocpp.KeyValue{
		{Key: "HeartbeatInterval", Value: str(strconv.Itoa(int(c.hbInterval / time.Second)))},
		{Key: "MeterValueSampleInterval", Value: str(strconv.Itoa(c.meterKey))},
		{Key: "MeterValuesSampledData", Value: str(c.sampledData)},
		{Key: "NumberOfConnectors", Readonly: true, Value: str("1")},
		{Key: "AuthorizeRemoteTxRequests", Readonly: true, Value: str("false")},
	}
	if len(keys) == 0 {
		return &ocpp.GetConfigurationConf{ConfigurationKey: all}
	}
	conf := &ocpp.GetConfigurationConf{}
	for _, k := range keys {
		found := false
		for _, kv := range all {
			if kv.Key == k {
				conf.ConfigurationKey = append(conf.ConfigurationKey, kv)
				found = true
			}
		}
		if !found {
			conf.UnknownKey = append(conf.UnknownKey, k)
		}
	}
	return conf
}

// reply writes a CALLRESULT (payload) or a CALLERROR (cerr).
func (c *charger) reply(uniqueID string, payload []byte, cerr *ocpp.CallError) {
	bp := c.f.getBuf()
	if cerr != nil {
		*bp = ocpp.AppendCallError((*bp)[:0], uniqueID, cerr)
	} else {
		*bp = ocpp.AppendCallResult((*bp)[:0], uniqueID, payload)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := c.conn.Write(ctx, websocket.MessageText, *bp)
	cancel()
	c.f.putBuf(bp)
	if err != nil {
		c.connectionLost(err)
	}
}

// --- connections ---

// requestDial queues the charger for the fleet's dialling loop.
func (c *charger) requestDial() {
	if c.dialing || c.conn != nil || c.f.stopping.Load() {
		return
	}
	c.dialing = true
	c.f.dialq <- c // never blocks: the queue holds every charger once
}

// dial connects, and on success becomes the connection's reader.
func (c *charger) dial(ctx context.Context, sem chan struct{}) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	client := c.f.clients[c.f.dialN.Add(1)%uint64(len(c.f.clients))]
	conn, resp, err := websocket.Dial(dctx, c.f.cfg.URL+c.st.ChargePointID, &websocket.DialOptions{
		HTTPClient:   client,
		HTTPHeader:   http.Header{"Authorization": {c.auth}},
		Subprotocols: []string{ocpp.Subprotocol16},
	})
	cancel()
	<-sem
	if err == nil && conn.Subprotocol() != ocpp.Subprotocol16 {
		conn.CloseNow()
		err = fmt.Errorf("the central system did not accept subprotocol %s", ocpp.Subprotocol16)
	}
	c.mu.Lock()
	c.dialing = false
	if c.f.stopping.Load() || ctx.Err() != nil {
		c.mu.Unlock()
		if err == nil {
			conn.CloseNow()
		}
		return
	}
	if err != nil {
		c.f.st.connFailures.Add(1)
		msg := err.Error()
		if resp != nil {
			msg = fmt.Sprintf("%s: HTTP %s", c.st.ChargePointID, resp.Status)
		}
		c.f.st.lastConnError.Store(&msg)
		c.failures = min(c.failures+1, 10)
		c.reconnectAt = nowMs() + c.backoff().Milliseconds()
		c.arm()
		c.mu.Unlock()
		return
	}
	c.conn = conn
	c.gen++
	gen := c.gen
	c.f.st.connUp()
	c.f.st.connects.Add(1)
	c.pump()
	c.arm()
	c.mu.Unlock()
	c.read(conn, gen)
}

// backoff is the wait before the next attempt after failures: doubling
// from 1 s to a minute, with jitter so that a fleet that lost the central
// system does not come back in lockstep.
func (c *charger) backoff() time.Duration {
	d := time.Second << min(c.failures, 6)
	d = min(d, time.Minute)
	return d/2 + time.Duration(c.rng.Int64N(int64(d)))
}

// connectionLost handles a connection that broke: a reconnection after the
// backoff.
func (c *charger) connectionLost(err error) {
	if c.conn == nil {
		return
	}
	c.failures = min(c.failures+1, 10)
	c.disconnect(c.backoff())
}

// disconnect closes the connection (as a network loss would: no closing
// handshake) and plans the reconnection after d. The CALL in flight and the
// queued transaction messages are kept for the next connection; a
// heartbeat or an Authorize is dropped, and a session waiting for its
// Authorize starts offline instead.
func (c *charger) disconnect(d time.Duration) {
	conn := c.conn
	if conn == nil {
		return
	}
	c.conn = nil
	c.gen++
	c.f.st.connected.Add(-1)
	if c.hasOut {
		if c.out.kind.transactional() {
			c.queue = append(c.queue, outMsg{})
			copy(c.queue[1:], c.queue)
			c.queue[0] = c.out
		}
		c.hasOut, c.out, c.callDeadline = false, outMsg{}, 0
	}
	kept := c.queue[:0]
	for _, m := range c.queue {
		if m.kind.transactional() {
			kept = append(kept, m)
		}
	}
	clear(c.queue[len(kept):])
	c.queue = kept
	if s := c.sess; s != nil && s.state == sAuthorizing {
		c.startTx()
	}
	conn.CloseNow()
	c.reconnectAt = nowMs() + max(d, time.Millisecond).Milliseconds()
}

// reboot restarts the charger between messages: the connection drops,
// and the next one begins with a BootNotification. The session either ends
// with a StopTransaction sent after the boot, or is forgotten (the central
// system ends it when the next transaction starts).
func (c *charger) reboot() {
	c.wantReboot, c.wantOffline = false, false
	c.f.st.reboots.Add(1)
	if s := c.sess; s != nil {
		switch {
		case s.state == sAuthorizing:
			c.sess = nil
		case c.rebootStop:
			c.stopTx(c.rebootWhy)
		default:
			c.sess, c.sampleAt = nil, 0
			s.abandoned = true
			c.f.st.abandoned.Add(1)
			if s.txID > 0 {
				c.finish(s)
			}
		}
	}
	if c.sess == nil && !c.benchmark() && c.eventAt == 0 {
		c.scheduleNext()
	}
	c.booted = false
	c.disconnect(c.between(c.f.cfg.OfflineMin, 2*c.f.cfg.OfflineMin))
}

// closer closes a connection gracefully at the end of a run.
type closer struct{ conn *websocket.Conn }

func (cl closer) close() { _ = cl.conn.Close(websocket.StatusGoingAway, "simulation over") }

// stop ends the charger at the end of a run.
func (c *charger) stop() (closer, bool) {
	if c.timer != nil {
		c.timer.Stop()
	}
	conn := c.conn
	if conn == nil {
		return closer{}, false
	}
	c.conn = nil
	c.gen++
	c.f.st.connected.Add(-1)
	return closer{conn}, true
}
