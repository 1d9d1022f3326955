package ocpp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Subprotocol names.
const (
	// Subprotocol16 is OCPP 1.6J, the one this server speaks.
	Subprotocol16 = "ocpp1.6"
	// Subprotocol201 is OCPP 2.0.1. It is recognised so that a charger
	// offering only it is told why it is refused; supporting it means a
	// 2.0.1 schema set, message types and Handler, selected here.
	Subprotocol201 = "ocpp2.0.1"
)

// Defaults of the Server's settings.
const (
	DefaultPathPrefix   = "/ocpp/"
	DefaultPingInterval = 60 * time.Second
	DefaultPongTimeout  = 30 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultReadLimit    = 64 << 10
)

// maxQueued bounds the CALLs of one connection waiting for its handler.
// OCPP allows one outstanding CALL per side, so a well-behaved charger
// never has more than one; the bound stops a misbehaving one from growing
// memory: when it is reached, the connection stops reading (TCP pushes
// back) until the handler catches up.
const maxQueued = 16

// Per-connection buffer sizes. net/http hands a hijacked connection a 4 KiB
// reader and a 4 KiB writer; OCPP messages are a few hundred bytes, so
// smaller buffers hold a whole message in one system call while keeping
// tens of thousands of idle connections cheap. Larger messages pass
// through bufio unbuffered.
const (
	connReadBuffer  = 1 << 10
	connWriteBuffer = 1 << 10
)

// Errors of Call and Authenticate.
var (
	// ErrNotConnected means the charge point has no open connection.
	ErrNotConnected = errors.New("ocpp: charge point not connected")
	// ErrTimeout means the context's deadline passed before the charge
	// point answered (an API answers 504). The error returned also matches
	// context.DeadlineExceeded.
	ErrTimeout = errors.New("ocpp: charge point did not answer in time")
	// ErrConnectionLost means the connection closed after the CALL was
	// sent and before an answer came; the charger may or may not have
	// acted on it.
	ErrConnectionLost = errors.New("ocpp: connection closed before the charge point answered")
	// ErrInvalidConfirmation means the charge point answered with a
	// CALLRESULT that breaks the action's .conf schema (or is not a valid
	// frame).
	ErrInvalidConfirmation = errors.New("ocpp: charge point sent an invalid confirmation")
	// ErrInvalidRequest means Call was given a request that breaks the
	// action's .req schema, or an unknown action; nothing was sent.
	ErrInvalidRequest = errors.New("ocpp: invalid request")
	// ErrServerClosed means the server is shutting down.
	ErrServerClosed = errors.New("ocpp: server shut down")
	// ErrAuthUnavailable may be returned (wrapped) by Authenticate when it
	// cannot decide, for example because the database is down: the
	// charger gets 503 and retries, instead of 401. Any other error is a
	// refusal (401).
	ErrAuthUnavailable = errors.New("ocpp: authentication unavailable")
)

// Identity is who a connection belongs to, as Authenticate established
// it. Value is not read by this package: it carries whatever the caller
// wants handlers to have at hand (the station record, its site's time
// zone, …).
type Identity struct {
	TenantID      string
	StationID     string
	ChargePointID string
	Value         any
}

// StationKey identifies a charge point's connection: one per key.
type StationKey struct {
	TenantID  string
	StationID string
}

// Key returns the identity's StationKey.
func (id Identity) Key() StationKey {
	return StationKey{TenantID: id.TenantID, StationID: id.StationID}
}

// Server is the OCPP-J central system's connection layer: an http.Handler
// for GET {PathPrefix}{chargePointId} that authenticates the charger
// (security profile 1, HTTP Basic, before upgrading), upgrades to a
// WebSocket with subprotocol ocpp1.6, validates every message against the
// OCPP 1.6 schemas, hands CALLs to Handler and writes back their answers,
// and sends the central system's own CALLs (Call). Mount it on your own
// mux and http.Server, e.g. mux.Handle("/ocpp/", srv).
//
// Set the exported fields before the first request and do not change them
// after; Authenticate and Handler are required. A Server must not be
// copied after first use.
//
// Each connection costs one goroutine (reading) and a few KiB; a second,
// short-lived goroutine runs the handler while a CALL is being processed,
// so the connection keeps reading answers to Call meanwhile. Keepalive
// pings are sent by one goroutine for all connections, only to those that
// have been silent for PingInterval.
type Server struct {
	// Authenticate decides whether a charger may connect, before the
	// upgrade. chargePointID is the last path segment; password is the
	// Basic auth password, and hasPassword is false when the request had
	// no Authorization header (a Basic username that differs from
	// chargePointID is refused before Authenticate is called). An error
	// refuses the connection with 401, or 503 if it wraps
	// ErrAuthUnavailable. The returned Identity's ChargePointID is set to
	// chargePointID if left empty.
	Authenticate func(ctx context.Context, chargePointID, password string, hasPassword bool) (Identity, error)

	// Handler receives the charge points' CALLs.
	Handler Handler

	// OnConnect, if set, is called when a connection is established,
	// before its first message is read. OnDisconnect, if set, is called
	// when it has ended and its handlers have returned, with the reason.
	// When a connection is replaced by a newer one for the same
	// StationKey, the old one's OnDisconnect may come after the new one's
	// OnConnect: Conn.Replaced tells, so a station is not marked offline
	// by mistake.
	OnConnect    func(c *Conn)
	OnDisconnect func(c *Conn, err error)

	// PathPrefix is the path before the charge point id; default
	// "/ocpp/". Use "/" when mounting behind http.StripPrefix.
	PathPrefix string
	// PingInterval is how long a connection may be silent before the
	// server pings it; default 60 s, negative to disable pings.
	PingInterval time.Duration
	// PongTimeout is how long to wait for the pong before closing the
	// connection; default 30 s.
	PongTimeout time.Duration
	// WriteTimeout bounds writing one message; a charger that does not
	// read is disconnected. Default 10 s.
	WriteTimeout time.Duration
	// ReadLimit is the largest message accepted, in bytes; a larger one
	// closes the connection with status 1009 (message too big). Default
	// 64 KiB.
	ReadLimit int64

	// Logger receives what cannot be answered to anyone: handler failures,
	// invalid confirmations, dropped frames. Default slog.Default().
	Logger *slog.Logger

	mu      sync.RWMutex
	conns   map[StationKey]*Conn
	closing atomic.Bool    // set under mu, read without it
	wg      sync.WaitGroup // read loops and workers

	nextID    atomic.Uint64
	sweepOnce sync.Once
	stopSweep chan struct{}
	stopOnce  sync.Once
}

// Conn is one charge point's WebSocket connection.
type Conn struct {
	srv      *Server
	ws       *websocket.Conn
	id       Identity
	proto    string
	remote   string
	ctx      context.Context
	cancel   context.CancelFunc
	lastSeen atomic.Int64 // unix nanoseconds of the last message or pong
	pinging  atomic.Bool
	replaced atomic.Bool

	mu       sync.Mutex
	queue    []queued      // CALLs waiting for the worker
	working  bool          // a worker goroutine is running
	space    chan struct{} // closed when the queue has room again
	idle     chan struct{} // closed when the worker goes idle
	callSlot chan struct{} // one outstanding server CALL
	pending  *pendingCall

	afterAnswer func() // set by a Handler through AfterAnswer; the worker's alone
}

type queued struct {
	f    Frame
	perr *CallError
	buf  *[]byte // the message f is a view of, back to readBufs once answered
}

// readBufs holds the buffers messages are read into. A frame's payload is
// a view of its message, so a buffer is reused only once the CALL has been
// answered; without the pool every message cost a new, grown slice.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// readMessage reads the next message into a pooled buffer.
func (c *Conn) readMessage() (websocket.MessageType, *[]byte, error) {
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	bp := readBufs.Get().(*[]byte)
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = b
			readBufs.Put(bp)
			return 0, nil, err
		}
	}
	*bp = b
	return typ, bp, nil
}

// release returns a message's buffer to the pool; very large ones are
// left to the collector, so the pool does not keep them.
func release(bp *[]byte) {
	if bp != nil && cap(*bp) <= 64<<10 {
		readBufs.Put(bp)
	}
}

type pendingCall struct {
	id     string
	action string
	done   chan callReply // buffered: delivering never blocks the reader
}

type callReply struct {
	payload json.RawMessage
	remote  *CallError // the charger's CALLERROR
	bad     *CallError // the answer was not a valid frame
}

// Identity returns who the connection belongs to.
func (c *Conn) Identity() Identity { return c.id }

// AfterAnswer, called by a Handler method, has f run once the answer to
// the CALL being handled has been written to the charger, and not at all
// if writing it fails. It is how a handler acts after its answer: OCPP
// lets a charger ignore the central system until its BootNotification is
// accepted, so configuring it must wait for that answer to go out.
// f runs on the connection's worker, before the next CALL is handled:
// anything that waits, such as a Call to the charger, belongs in a
// goroutine started by f. Calling AfterAnswer again adds f: a handler's
// parts (the hold guard, the charger display) each schedule their own,
// and they run in the order they were added.
func (c *Conn) AfterAnswer(f func()) {
	if prev := c.afterAnswer; prev != nil {
		c.afterAnswer = func() { prev(); f() }
		return
	}
	c.afterAnswer = f
}

// Subprotocol returns the negotiated subprotocol, "ocpp1.6".
func (c *Conn) Subprotocol() string { return c.proto }

// RemoteAddr returns the network address of the charger (or of the proxy
// in front of it).
func (c *Conn) RemoteAddr() string { return c.remote }

// Replaced reports whether a newer connection for the same StationKey has
// taken this one's place.
func (c *Conn) Replaced() bool { return c.replaced.Load() }

// Context returns a context cancelled when the connection ends.
func (c *Conn) Context() context.Context { return c.ctx }

func (c *Conn) chargePointID() string {
	if c == nil {
		return ""
	}
	return c.id.ChargePointID
}

func (s *Server) pathPrefix() string {
	if s.PathPrefix == "" {
		return DefaultPathPrefix
	}
	return s.PathPrefix
}

func (s *Server) pingInterval() time.Duration {
	if s.PingInterval == 0 {
		return DefaultPingInterval
	}
	return s.PingInterval
}

func (s *Server) pongTimeout() time.Duration {
	if s.PongTimeout <= 0 {
		return DefaultPongTimeout
	}
	return s.PongTimeout
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout <= 0 {
		return DefaultWriteTimeout
	}
	return s.WriteTimeout
}

func (s *Server) readLimit() int64 {
	if s.ReadLimit <= 0 {
		return DefaultReadLimit
	}
	return s.ReadLimit
}

// refuse answers a request that will not be upgraded.
func refuse(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, reason+"\n")
}

// ServeHTTP authenticates and upgrades a charge point's connection, then
// serves it until it closes. Every refusal happens before the upgrade,
// with a plain-text reason: 404 for a path without a valid charge point
// id, 405 for a method other than GET, 426 for a request that is not a
// WebSocket upgrade, 400 when no offered subprotocol is supported, 401
// (with WWW-Authenticate) when authentication fails, 503 while shutting
// down or when Authenticate is unavailable.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.Authenticate == nil || s.Handler == nil {
		s.logger().Error("ocpp: Server.Authenticate and Server.Handler must be set")
		refuse(w, http.StatusInternalServerError, "central system misconfigured")
		return
	}
	if s.closing.Load() {
		w.Header().Set("Retry-After", "5")
		refuse(w, http.StatusServiceUnavailable, "central system shutting down")
		return
	}
	cpID, ok := s.chargePointIDOf(r)
	if !ok {
		refuse(w, http.StatusNotFound, "expected path "+s.pathPrefix()+"{chargePointId}")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		refuse(w, http.StatusMethodNotAllowed, "OCPP-J connects with a WebSocket upgrade (GET)")
		return
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		refuse(w, http.StatusUpgradeRequired, "OCPP-J needs a WebSocket upgrade")
		return
	}
	proto, reason := selectSubprotocol(r.Header)
	if proto == "" {
		refuse(w, http.StatusBadRequest, reason)
		return
	}

	user, password, hasPassword := r.BasicAuth()
	if !hasPassword && r.Header.Get("Authorization") != "" {
		unauthorized(w, "only HTTP Basic authentication is supported")
		return
	}
	if hasPassword && user != cpID {
		unauthorized(w, "the Basic auth username must be the charge point id")
		return
	}
	id, err := s.Authenticate(r.Context(), cpID, password, hasPassword)
	if err != nil {
		if errors.Is(err, ErrAuthUnavailable) {
			s.logger().Warn("ocpp: authentication unavailable", "chargePointId", cpID, "err", err)
			w.Header().Set("Retry-After", "30")
			refuse(w, http.StatusServiceUnavailable, "authentication unavailable, retry later")
			return
		}
		unauthorized(w, "unknown charge point or wrong password")
		return
	}
	if id.ChargePointID == "" {
		id.ChargePointID = cpID
	}

	ws, err := websocket.Accept(hijackResponse{w}, r, &websocket.AcceptOptions{
		Subprotocols: []string{proto},
		// Chargers are not browsers: the Origin check protects cookies,
		// and the credentials here are Basic auth the client sent itself.
		InsecureSkipVerify: true,
		// Compression keeps a 32 KiB window per connection and per
		// direction; OCPP messages are small and connections many.
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept answered the request
	}
	ws.SetReadLimit(s.readLimit())
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{srv: s, ws: ws, id: id, proto: proto, remote: r.RemoteAddr, ctx: ctx, cancel: cancel}
	c.lastSeen.Store(time.Now().UnixNano())

	if !s.register(c) {
		cancel()
		ws.Close(websocket.StatusGoingAway, "central system shutting down")
		return
	}
	s.startSweeper()
	if s.OnConnect != nil {
		s.OnConnect(c)
	}
	// The read loop gets a goroutine of its own and this one returns: the
	// goroutine net/http started for the request holds the request, its
	// headers and net/http's own 4 KiB buffers, about 10 KiB that a
	// connection would otherwise keep for its whole life.
	go c.run()
}

func unauthorized(w http.ResponseWriter, reason string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="ocpp", charset="UTF-8"`)
	refuse(w, http.StatusUnauthorized, reason)
}

// chargePointIDOf returns the charge point id of the request's path: the
// rest of the path after PathPrefix, percent-decoded; one segment, not
// empty, with no colon (it is the Basic auth username).
func (s *Server) chargePointIDOf(r *http.Request) (string, bool) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), s.pathPrefix())
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	id, err := url.PathUnescape(rest)
	if err != nil || id == "" || len(id) > 255 || strings.ContainsAny(id, ":/") {
		return "", false
	}
	for _, ch := range id {
		if ch < 0x21 || ch == 0x7f {
			return "", false
		}
	}
	return id, true
}

// selectSubprotocol picks the subprotocol to speak from the client's
// offer, or says why none fits.
func selectSubprotocol(h http.Header) (proto, reason string) {
	offered := headerTokens(h, "Sec-WebSocket-Protocol")
	for _, p := range offered {
		if p == Subprotocol16 {
			return p, ""
		}
	}
	for _, p := range offered {
		if p == Subprotocol201 {
			return "", "subprotocol ocpp2.0.1 is not supported yet; offer ocpp1.6"
		}
	}
	if len(offered) == 0 {
		return "", "no WebSocket subprotocol offered; offer ocpp1.6 (Sec-WebSocket-Protocol)"
	}
	return "", "none of the offered subprotocols (" + strings.Join(offered, ", ") + ") is supported; offer ocpp1.6"
}

func headerTokens(h http.Header, key string) []string {
	var out []string
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, t := range headerTokens(h, key) {
		if strings.EqualFold(t, token) {
			return true
		}
	}
	return false
}

// hijackResponse hands coder/websocket smaller buffers than net/http's and
// clears the deadlines an http.Server's ReadTimeout or WriteTimeout left
// on the connection, which would otherwise cut a long-lived WebSocket.
type hijackResponse struct{ http.ResponseWriter }

// Hijack hijacks the underlying connection.
func (h hijackResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	conn.SetDeadline(time.Time{})
	size := connReadBuffer
	n := brw.Reader.Buffered()
	if n > size {
		size = n
	}
	var src io.Reader = conn
	if n > 0 {
		// Bytes the client sent right after the handshake.
		b, _ := brw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn)
	}
	br := bufio.NewReaderSize(src, size)
	if n > 0 {
		// Pull them into br's buffer now: coder/websocket resets br onto
		// the bare connection, keeping only what br has buffered.
		br.Peek(n)
	}
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, connWriteBuffer)), nil
}

// register adds c, replacing (and closing) an older connection with the
// same key. It returns false when the server is shutting down.
func (s *Server) register(c *Conn) bool {
	key := c.id.Key()
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return false
	}
	if s.conns == nil {
		s.conns = make(map[StationKey]*Conn)
	}
	old := s.conns[key]
	s.conns[key] = c
	s.wg.Add(1)
	s.mu.Unlock()
	if old != nil {
		old.replaced.Store(true)
		go old.ws.Close(websocket.StatusPolicyViolation, "replaced by a new connection for this charge point")
	}
	return true
}

func (s *Server) unregister(c *Conn) {
	key := c.id.Key()
	s.mu.Lock()
	if s.conns[key] == c {
		delete(s.conns, key)
	}
	s.mu.Unlock()
}

// Conn returns the open connection of key, or nil.
func (s *Server) Conn(key StationKey) *Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.conns[key]
}

// Connected reports whether the charge point of key has a connection open
// here: a page can say a charger is offline before anybody pays for it.
func (s *Server) Connected(key StationKey) bool { return s.Conn(key) != nil }

// Len returns the number of open connections.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.conns)
}

// Disconnect closes the connection of key, if any, with reason (at most
// 123 bytes), for example when the station was deleted or its password
// changed. It reports whether there was one.
func (s *Server) Disconnect(key StationKey, reason string) bool {
	c := s.Conn(key)
	if c == nil {
		return false
	}
	go c.ws.Close(websocket.StatusPolicyViolation, reason)
	return true
}

// run reads the connection until it ends.
func (c *Conn) run() {
	s := c.srv
	defer s.wg.Done()
	err := c.readLoop()
	c.cancel()
	s.unregister(c)
	c.waitIdle(nil)
	c.ws.CloseNow()
	if s.OnDisconnect != nil {
		s.OnDisconnect(c, err)
	}
}

func (c *Conn) readLoop() error {
	for {
		// context.Background: no timer or AfterFunc per read. A dead
		// peer is found by the keepalive pings, which close the
		// connection and so end this read.
		typ, bp, err := c.readMessage()
		if err != nil {
			return err
		}
		c.lastSeen.Store(time.Now().UnixNano())
		if typ != websocket.MessageText {
			release(bp)
			c.enqueue(queued{f: Frame{UniqueID: UnknownUniqueID}, perr: &CallError{Code: FormationViolation, Description: "binary message: OCPP-J messages are text"}})
			continue
		}
		f, perr := ParseFrame(*bp)
		switch f.Type {
		case TypeCallResult, TypeCallError:
			// The answer goes to a Call that may keep its payload: the
			// buffer is not reused.
			c.deliver(&f, perr)
			continue
		}
		if !c.enqueue(queued{f: f, perr: perr, buf: bp}) {
			return c.ctx.Err()
		}
	}
}

// deliver hands an answer to the Call waiting for it. An answer nobody
// waits for (late, after a timeout, or unsolicited) is dropped: OCPP-J
// never answers an answer.
func (c *Conn) deliver(f *Frame, perr *CallError) {
	c.mu.Lock()
	p := c.pending
	if p != nil && p.id == f.UniqueID {
		c.pending = nil
	} else {
		p = nil
	}
	c.mu.Unlock()
	if p == nil {
		c.srv.logger().Debug("ocpp: dropped an answer no call waits for", "chargePointId", c.id.ChargePointID,
			"type", f.Type.String(), "uniqueId", f.UniqueID)
		return
	}
	switch {
	case perr != nil:
		p.done <- callReply{bad: perr}
	case f.Type == TypeCallError:
		p.done <- callReply{remote: &CallError{Code: f.ErrorCode, Description: f.ErrorDescription, Details: f.ErrorDetails}}
	default:
		p.done <- callReply{payload: f.Payload}
	}
}

// enqueue hands a CALL to the connection's worker, starting one if none
// runs. It waits while maxQueued CALLs are already waiting. While the
// server shuts down, CALLs are dropped unanswered: the charger resends
// its transaction messages to whichever server it reconnects to, while an
// error would make it discard them.
func (c *Conn) enqueue(q queued) bool {
	s := c.srv
	if s.closing.Load() {
		return true
	}
	c.mu.Lock()
	for len(c.queue) >= maxQueued {
		if c.space == nil {
			c.space = make(chan struct{})
		}
		ch := c.space
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.ctx.Done():
			return false
		}
		c.mu.Lock()
	}
	c.queue = append(c.queue, q)
	if !c.working {
		c.working = true
		s.wg.Add(1)
		workers.run(c.work)
	}
	c.mu.Unlock()
	return true
}

// bufPool holds the buffers answers are built in, so that a connection
// keeps none between messages.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// work answers the queued CALLs one at a time, in order, then exits.
func (c *Conn) work() {
	defer c.srv.wg.Done()
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			bufPool.Put(bp)
		}
	}()
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.ctx.Err() != nil {
			c.working = false
			c.queue = nil
			c.signal(&c.space)
			c.signal(&c.idle)
			c.mu.Unlock()
			return
		}
		q := c.queue[0]
		c.queue[0] = queued{}
		c.queue = c.queue[1:]
		c.signal(&c.space)
		c.mu.Unlock()

		out := c.srv.answer(c.ctx, c, (*bp)[:0], &q.f, q.perr)
		release(q.buf) // the handler is done with the frame
		*bp = out
		after := c.afterAnswer
		c.afterAnswer = nil
		if err := c.write(c.ctx, out); err != nil {
			c.ws.CloseNow()
		} else if after != nil {
			after()
		}
	}
}

// signal closes and forgets the channel *ch, if any. c.mu is held.
func (c *Conn) signal(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// waitIdle waits until no worker runs (or done is closed).
func (c *Conn) waitIdle(done <-chan struct{}) {
	c.mu.Lock()
	if !c.working {
		c.mu.Unlock()
		return
	}
	if c.idle == nil {
		c.idle = make(chan struct{})
	}
	ch := c.idle
	c.mu.Unlock()
	select {
	case <-ch:
	case <-done:
	}
}

// write sends one text message, within WriteTimeout.
func (c *Conn) write(ctx context.Context, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.srv.writeTimeout())
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, msg)
}

// Call sends the CALL action with payload req to the charge point of key
// and waits for its answer; see Conn.Call.
func (s *Server) Call(ctx context.Context, key StationKey, action string, req, conf any) error {
	c := s.Conn(key)
	if c == nil {
		return ErrNotConnected
	}
	return c.Call(ctx, action, req, conf)
}

// Call sends the CALL action with payload req (a request struct of this
// package, a json.RawMessage, or anything encoding/json marshals to the
// action's .req schema) and waits for the charger's answer, which it
// decodes into conf (a pointer, *json.RawMessage for the raw bytes, or
// nil) after checking it against the action's .conf schema.
//
// It returns nil on a CALLRESULT; the charger's *CallError on a CALLERROR;
// an error matching ErrTimeout (and context.DeadlineExceeded) when ctx's
// deadline passes first, ctx.Err() when ctx is cancelled;
// ErrConnectionLost when the connection ends first; ErrNotConnected when
// it had already ended; ErrServerClosed during Shutdown;
// ErrInvalidConfirmation for an answer that breaks
// the schema; ErrInvalidRequest, without sending anything, for a request
// that does.
//
// OCPP allows one outstanding CALL per side: concurrent Calls on one
// connection wait their turn (within ctx).
func (c *Conn) Call(ctx context.Context, action string, req, conf any) error {
	if !KnownAction(action) {
		return fmt.Errorf("%w: unknown action %q", ErrInvalidRequest, action)
	}
	var payload []byte
	if req == nil {
		payload = []byte("{}")
	} else {
		var err error
		if payload, err = appendJSON(nil, req); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalidRequest, action, err)
		}
	}
	if verr := ValidateRequest(action, payload); verr != nil {
		return fmt.Errorf("%w: %s: %s", ErrInvalidRequest, action, verr.Description)
	}
	if c.srv.closing.Load() {
		return ErrServerClosed
	}
	if c.ctx.Err() != nil {
		return ErrNotConnected
	}

	c.mu.Lock()
	if c.callSlot == nil {
		c.callSlot = make(chan struct{}, 1)
	}
	slot := c.callSlot
	c.mu.Unlock()
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return ctxError(ctx)
	case <-c.ctx.Done():
		return ErrNotConnected
	}
	defer func() { <-slot }()

	p := &pendingCall{
		id:     strconv.FormatUint(c.srv.nextID.Add(1), 36),
		action: action,
		done:   make(chan callReply, 1),
	}
	c.mu.Lock()
	c.pending = p
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.pending == p {
			c.pending = nil
		}
		c.mu.Unlock()
	}()

	bp := bufPool.Get().(*[]byte)
	msg := AppendCall((*bp)[:0], p.id, action, payload)
	err := c.write(ctx, msg)
	*bp = msg
	bufPool.Put(bp)
	if err != nil {
		if ctx.Err() != nil {
			return ctxError(ctx)
		}
		return fmt.Errorf("%w: %v", ErrConnectionLost, err)
	}

	var r callReply
	select {
	case r = <-p.done:
	case <-ctx.Done():
		return ctxError(ctx)
	case <-c.ctx.Done():
		return ErrConnectionLost
	}
	switch {
	case r.remote != nil:
		return r.remote
	case r.bad != nil:
		return fmt.Errorf("%w: %s", ErrInvalidConfirmation, r.bad.Description)
	}
	if verr := ValidateConfirmation(action, r.payload); verr != nil {
		return fmt.Errorf("%w: %s", ErrInvalidConfirmation, verr.Description)
	}
	switch v := conf.(type) {
	case nil:
		return nil
	case *json.RawMessage:
		*v = append((*v)[:0], r.payload...)
		return nil
	}
	if err := json.Unmarshal(r.payload, conf); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfirmation, err)
	}
	return nil
}

func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
	}
	return ctx.Err()
}

// startSweeper starts the keepalive goroutine on the first connection.
func (s *Server) startSweeper() {
	interval := s.pingInterval()
	if interval < 0 {
		return
	}
	s.sweepOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closing.Load() {
			return // Shutdown came first and will not stop a sweeper
		}
		s.stopSweep = make(chan struct{})
		go s.sweep(interval, s.stopSweep)
	})
}

// sweep pings the connections that have been silent for interval. One
// goroutine and one ticker serve all connections; a ping's goroutine
// lives only until its pong, and only silent connections get one.
func (s *Server) sweep(interval time.Duration, stop chan struct{}) {
	tick := interval / 4
	if tick > 5*time.Second {
		tick = 5 * time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	var conns []*Conn
	for {
		select {
		case <-t.C:
		case <-stop:
			return
		}
		now := time.Now().UnixNano()
		s.mu.RLock()
		for _, c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.RUnlock()
		for _, c := range conns {
			if now-c.lastSeen.Load() >= int64(interval) && c.pinging.CompareAndSwap(false, true) {
				go c.ping()
			}
		}
		clear(conns)
		conns = conns[:0]
	}
}

func (c *Conn) ping() {
	defer c.pinging.Store(false)
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.pongTimeout())
	err := c.ws.Ping(ctx)
	cancel()
	if err != nil {
		if c.ctx.Err() == nil {
			c.srv.logger().Warn("ocpp: no pong, closing", "chargePointId", c.id.ChargePointID, "err", err)
			c.ws.CloseNow()
		}
		return
	}
	c.lastSeen.Store(time.Now().UnixNano())
}

// Shutdown stops accepting connections (503), lets every connection
// finish the CALL it is handling and write its answer, closes it with
// status 1001 (going away), and waits until all handlers have returned and
// all connections have ended. CALLs arriving meanwhile are not answered
// (see enqueue). When ctx ends first, it closes the remaining connections
// at once, cancels their handlers' contexts and returns ctx.Err().
//
// The http.Server that serves s does not know hijacked connections:
// call this besides its Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	stop := s.stopSweep
	s.mu.Unlock()
	s.stopOnce.Do(func() {
		if stop != nil {
			close(stop)
		}
	})
	for _, c := range conns {
		go func() {
			c.waitIdle(ctx.Done())
			c.ws.Close(websocket.StatusGoingAway, "central system shutting down")
		}()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.cancel()
			c.ws.CloseNow()
		}
		return ctx.Err()
	}
}
