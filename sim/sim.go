// Package sim is evbill's charger fleet simulator: thousands of OCPP 1.6J
// charge points, from one process, against a central system. It is both
// the demo's traffic and the load generator of the benchmarks, so it
// behaves like real chargers (vehicles whose power tapers with their state
// of charge, idle parking, early plug-outs, offline stretches whose
// transaction messages are replayed, retransmissions, reboots) and costs
// little per charger.
//
// # Cost per charger
//
// A connected charger is one goroutine (reading its WebSocket), one
// time.Timer armed for the earliest thing it has to do (its next meter
// sample, heartbeat, session event, reconnection or CALL timeout) and a
// few hundred bytes of state. Everything a charger does happens under its
// own mutex, in the reading goroutine (answers, server CALLs) or in the
// timer's callback: there is no goroutine waiting on a channel and no
// ticker per charger. Dialling goes through one loop that paces
// connections (--connect-rate), because each one costs the central system
// a PBKDF2 password check.
//
// # Physics
//
// A session's power depends only on the vehicle's state of charge, so its
// energy is integrated in closed form over the timestamps it reports: the
// register rises by exactly ∫power dt between two readings, never faster
// than the connector's maximum power, which is what the central system's
// plausibility check compares. Timestamps are wall-clock milliseconds,
// strictly increasing per charger.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evbill/evbill/ocpp"
)

// Config is one simulation run. Zero durations and rates take the defaults
// documented on each field.
type Config struct {
	// URL is the central system's OCPP endpoint, ws:// or wss://, without
	// the charge point id: ws://127.0.0.1:8080/ocpp. Required.
	URL string
	// Chargers is the number of charge points. Required.
	Chargers int
	// Prefix starts every charge point id: SIM- gives SIM-00001…
	Prefix string
	// Password is every station's OCPP Basic authentication password.
	Password string
	// Tokens are the idTags the drivers use. Default SIM-TOKEN-1…10.
	Tokens []string
	// Duration ends the run; 0 runs until ctx is cancelled.
	Duration time.Duration
	// Seed makes the fleet (station powers) and its behaviour repeatable.
	Seed uint64

	// MeterInterval is the time between meter samples during a session;
	// default 60 s. The central system may change it with
	// ChangeConfiguration MeterValueSampleInterval, unless
	// MeterIntervalFixed is set.
	MeterInterval      time.Duration
	MeterIntervalFixed bool
	// DCShare is the fraction of DC stations, 0…1.
	DCShare float64
	// Chaos enables offline stretches, retransmissions and reboots.
	Chaos bool
	// OfflineMin and OfflineMax bound an offline stretch; default 5–60 s.
	// A reboot is down for OfflineMin to twice that.
	OfflineMin, OfflineMax time.Duration

	// SessionGap is the mean idle time between two sessions of a
	// connector (exponential); default 10 min.
	SessionGap time.Duration
	// SessionLength is the mean time until the driver unplugs
	// (exponential), full or not; default 45 min.
	SessionLength time.Duration
	// Parking is the mean time a full car stays plugged in; default 20 min.
	Parking time.Duration
	// SamplesPerSession, when above 0, is the benchmark mode: every
	// session is StartTransaction, that many MeterValues and
	// StopTransaction, each sent as soon as the previous one is answered,
	// and the next session starts when the Stop is answered. No
	// Authorize, no status changes, no gaps.
	SamplesPerSession int

	// ConnectRate is the most connection attempts per second; default 200.
	ConnectRate float64
	// MaxDialing bounds the attempts in flight; default 256.
	MaxDialing int
	// SourceIPs spreads connections over these local addresses, round
	// robin, so more than one source port range is available.
	SourceIPs []netip.Addr
	// CallTimeout is how long a CALL waits for its answer before the
	// charger gives up on the connection; default 30 s.
	CallTimeout time.Duration

	// Progress receives a status line every ProgressEvery (default 5 s);
	// nil prints none.
	Progress      io.Writer
	ProgressEvery time.Duration
	// OnSession, if set, is called for every session that ended (its
	// StopTransaction was answered) or was abandoned by a reboot (once its
	// transaction id is known). It is called with the charger's lock held:
	// it must be quick and must not block.
	OnSession func(SessionRecord)
}

// SessionRecord is what a charger knows of one of its sessions when it is
// over, for tests and scripts that check the central system kept it.
type SessionRecord struct {
	ChargePointID string
	TransactionID int
	IDTag         string
	MeterStartWh  int64
	MeterStopWh   int64 // 0 when abandoned
	Start         time.Time
	Stop          time.Time // zero when abandoned
	Reason        ocpp.Reason
	// Abandoned means the charger rebooted and forgot the session: it
	// never sent its StopTransaction, and the central system ends it when
	// the connector's next transaction starts.
	Abandoned bool
}

// Default values of Config.
const (
	DefaultPrefix        = "SIM-"
	DefaultPassword      = "simulator-password-0001"
	DefaultMeterInterval = 60 * time.Second
	DefaultSessionGap    = 10 * time.Minute
	DefaultSessionLength = 45 * time.Minute
	DefaultParking       = 20 * time.Minute
	DefaultConnectRate   = 200
	DefaultCallTimeout   = 30 * time.Second
)

// DefaultTokens returns the idTags used when none are given.
func DefaultTokens() []string {
	t := make([]string, 10)
	for i := range t {
		t[i] = fmt.Sprintf("SIM-TOKEN-%d", i+1)
	}
	return t
}

// withDefaults fills in defaults and checks the configuration.
func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return c, errors.New("a central system URL is required")
	case err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "":
		return c, fmt.Errorf("URL %q is not a ws:// or wss:// URL", c.URL)
	case c.Chargers < 1:
		return c, errors.New("at least one charger is needed")
	case c.DCShare < 0 || c.DCShare > 1:
		return c, errors.New("the DC share must be between 0 and 1")
	case c.SamplesPerSession < 0:
		return c, errors.New("samples per session cannot be negative")
	case c.ConnectRate < 0:
		return c, errors.New("the connect rate cannot be negative")
	case c.OfflineMax < c.OfflineMin:
		return c, errors.New("the longest offline stretch is shorter than the shortest")
	}
	c.URL = strings.TrimSuffix(c.URL, "/") + "/"
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Password == "" {
		c.Password = DefaultPassword
	}
	if len(c.Tokens) == 0 {
		c.Tokens = DefaultTokens()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.MeterInterval, DefaultMeterInterval)
	def(&c.SessionGap, DefaultSessionGap)
	def(&c.SessionLength, DefaultSessionLength)
	def(&c.Parking, DefaultParking)
	def(&c.CallTimeout, DefaultCallTimeout)
	def(&c.ProgressEvery, 5*time.Second)
	if c.OfflineMin <= 0 && c.OfflineMax <= 0 {
		c.OfflineMin, c.OfflineMax = 5*time.Second, 60*time.Second
	}
	def(&c.OfflineMin, time.Second)
	def(&c.OfflineMax, c.OfflineMin)
	if c.ConnectRate == 0 {
		c.ConnectRate = DefaultConnectRate
	}
	if c.MaxDialing <= 0 {
		c.MaxDialing = 256
	}
	return c, nil
}

// Chaos rates. Per session: a reboot or an offline stretch at a random
// moment; per Start or MeterValues answered: a retransmission. Between
// sessions a charger sometimes goes offline too.
const (
	rebootPerSession  = 0.07
	offlinePerSession = 0.20
	offlineIdle       = 0.05
	duplicateRate     = 0.05
)

// fleet is a running simulation.
type fleet struct {
	cfg      Config
	st       stats
	chargers []*charger
	dialq    chan *charger
	clients  []*http.Client
	dialN    atomic.Uint64
	wg       sync.WaitGroup
	stopping atomic.Bool
	ctx      context.Context // cancelled when the run ends
	bufs     sync.Pool       // *[]byte frame buffers, shared by the fleet

	// Measured before the shutdown closes the connections, against the
	// start: what the fleet costs.
	goroutinesAtEnd      int
	memAtStart, memAtEnd runtime.MemStats
}

// Run simulates the fleet until cfg.Duration has passed or ctx is
// cancelled, then disconnects every charger and returns the summary. It
// fails only on a configuration it cannot run; what goes wrong with
// connections and messages is counted in the summary.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if limit, err := raiseFileLimit(uint64(cfg.Chargers) + fdReserve); err == nil && limit < uint64(cfg.Chargers)+fdReserve {
		if uint64(cfg.Chargers) > limit {
			return nil, fmt.Errorf("%d chargers need %d open files, but the limit is %d (ulimit -Hn): raise it or simulate fewer chargers",
				cfg.Chargers, uint64(cfg.Chargers)+fdReserve, limit)
		}
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "sim: warning: the open files limit is %d; %d chargers need about %d, so the last few connections may fail\n",
				limit, cfg.Chargers, uint64(cfg.Chargers)+fdReserve)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 {
		var c2 context.CancelFunc
		runCtx, c2 = context.WithTimeout(runCtx, cfg.Duration)
		defer c2()
	}
	f := &fleet{cfg: cfg, dialq: make(chan *charger, cfg.Chargers), ctx: runCtx}
	f.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	f.clients = httpClients(cfg.SourceIPs)
	runtime.GC()
	runtime.ReadMemStats(&f.memAtStart)
	f.st.start = time.Now()
	f.chargers = make([]*charger, cfg.Chargers)
	for i := range f.chargers {
		f.chargers[i] = newCharger(f, StationFor(cfg.Seed, i, cfg.Prefix, cfg.DCShare))
	}
	dialDone := make(chan struct{})
	go func() { f.dialLoop(runCtx); close(dialDone) }()
	for _, c := range f.chargers {
		c.mu.Lock()
		c.requestDial()
		c.mu.Unlock()
	}
	var progressDone chan struct{}
	if cfg.Progress != nil {
		progressDone = make(chan struct{})
		go func() { f.progressLoop(runCtx); close(progressDone) }()
	}
	<-runCtx.Done()
	end := time.Now()
	f.shutdown()
	<-dialDone
	if progressDone != nil {
		<-progressDone
	}
	sum := f.st.summary(cfg.Chargers, end)
	sum.Connected = 0 // all disconnected by now; report who was connected at the end
	for _, c := range f.chargers {
		c.mu.Lock()
		if c.wasConnected {
			sum.Connected++
		}
		c.mu.Unlock()
	}
	sum.Goroutines = f.goroutinesAtEnd
	sum.HeapBytes, sum.StackBytes = f.memAtEnd.HeapInuse, f.memAtEnd.StackInuse
	if sum.Connected > 0 {
		grown := int64(f.memAtEnd.HeapInuse+f.memAtEnd.StackInuse) - int64(f.memAtStart.HeapInuse+f.memAtStart.StackInuse)
		sum.BytesPerCharger = max(grown, 0) / sum.Connected
	}
	return sum, nil
}

// fdReserve is the open files the process needs besides its connections:
// standard streams, the poller, the API client during provisioning.
const fdReserve = 64

// httpClients returns the clients that dial chargers' connections, one per
// source address (or one with the system's choice).
func httpClients(ips []netip.Addr) []*http.Client {
	mk := func(local net.Addr) *http.Client {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1, LocalAddr: local}
		// Each connection is upgraded and owned by its charger: the
		// transport never keeps one idle.
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true,
			TLSHandshakeTimeout: 10 * time.Second, ForceAttemptHTTP2: false}}
	}
	if len(ips) == 0 {
		return []*http.Client{mk(nil)}
	}
	cs := make([]*http.Client, len(ips))
	for i, ip := range ips {
		cs[i] = mk(&net.TCPAddr{IP: ip.AsSlice()})
	}
	return cs
}

// dialLoop starts the queued connection attempts at no more than
// ConnectRate per second and MaxDialing at a time.
func (f *fleet) dialLoop(ctx context.Context) {
	var interval time.Duration
	if f.cfg.ConnectRate > 0 {
		interval = time.Duration(float64(time.Second) / f.cfg.ConnectRate)
	}
	sem := make(chan struct{}, f.cfg.MaxDialing)
	next := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		var c *charger
		select {
		case <-ctx.Done():
			return
		case c = <-f.dialq:
		}
		if d := time.Until(next); d > 0 {
			t.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		// No burst after an idle spell: the rate holds from now on.
		if earliest := time.Now().Add(-interval); next.Before(earliest) {
			next = earliest
		}
		next = next.Add(interval)
		select {
		case <-ctx.Done():
			return
		case sem <- struct{}{}:
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			c.dial(ctx, sem)
		}()
	}
}

func (f *fleet) progressLoop(ctx context.Context) {
	t := time.NewTicker(f.cfg.ProgressEvery)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			last = f.st.progress(f.cfg.Progress, f.cfg.Chargers, now, last, f.cfg.ProgressEvery)
		}
	}
}

// shutdown stops every charger's timer and closes its connection, and
// waits for their goroutines.
func (f *fleet) shutdown() {
	f.stopping.Store(true)
	f.goroutinesAtEnd = runtime.NumGoroutine()
	runtime.GC()
	runtime.ReadMemStats(&f.memAtEnd)
	conns := make(chan closer, 64)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for c := range conns {
				c.close()
			}
		})
	}
	for _, c := range f.chargers {
		c.mu.Lock()
		c.wasConnected = c.conn != nil
		if cl, ok := c.stop(); ok {
			conns <- cl
		}
		c.mu.Unlock()
	}
	close(conns)
	wg.Wait()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
	}
}

func (f *fleet) getBuf() *[]byte  { return f.bufs.Get().(*[]byte) }
func (f *fleet) putBuf(b *[]byte) { *b = (*b)[:0]; f.bufs.Put(b) }

// rng returns a charger's random source: deterministic per seed and index.
func chargerRand(seed uint64, index int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x5851f42d4c957f2d, uint64(index)))
}
