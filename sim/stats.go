package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"sync/atomic"
	"time"
)

// histogram records latencies in microseconds in log-linear buckets (eight
// per power of two, so a percentile is off by at most 12.5 %) with atomic
// counters: every charger records into it from its own goroutine, and
// a lock here would serialise the whole fleet.
type histogram struct {
	counts [64 * 8]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Uint64
}

func bucketOf(us uint64) int {
	if us < 8 {
		return int(us)
	}
	e := bits.Len64(us) - 1 // ≥ 3
	return (e-2)*8 + int((us>>(e-3))&7)
}

// bucketValue returns the middle of bucket i, in microseconds.
func bucketValue(i int) uint64 {
	if i < 8 {
		return uint64(i)
	}
	e := i/8 + 2
	lo := uint64(8+i%8) << (e - 3)
	return lo + (uint64(1)<<(e-3))/2
}

func (h *histogram) record(d time.Duration) {
	us := uint64(max(d.Microseconds(), 0))
	h.counts[bucketOf(us)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// quantile returns the q-quantile (0 < q ≤ 1), capped at the maximum seen.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(bucketValue(i), h.max.Load())) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load()) * time.Microsecond
}

// kinds of the CALLs a charger sends, indexing the per-action statistics.
type kind uint8

const (
	kBoot kind = iota
	kHeartbeat
	kStatus
	kAuthorize
	kStart
	kMeter
	kStop
	numKinds
)

var kindAction = [numKinds]string{"BootNotification", "Heartbeat", "StatusNotification", "Authorize",
	"StartTransaction", "MeterValues", "StopTransaction"}

// transactional reports whether messages of the kind must reach the central
// system even across a disconnection (OCPP 1.6 §4.7): they are kept and
// replayed in order. Status notifications carry their timestamp and are kept
// too, as they mark the start of idle parking.
func (k kind) transactional() bool { return k == kStart || k == kMeter || k == kStop || k == kStatus }

// stats are the fleet's counters, shared by all chargers.
type stats struct {
	start time.Time

	connected     atomic.Int64
	maxConnected  atomic.Int64
	connects      atomic.Int64
	connFailures  atomic.Int64
	disconnects   atomic.Int64
	sent          atomic.Int64
	txSent        atomic.Int64
	callErrors    atomic.Int64
	timeouts      atomic.Int64
	started       atomic.Int64
	ended         atomic.Int64
	abandoned     atomic.Int64
	rejected      atomic.Int64
	duplicates    atomic.Int64
	dupMismatch   atomic.Int64
	offline       atomic.Int64
	reboots       atomic.Int64
	serverCalls   atomic.Int64
	costMessages  atomic.Int64
	lastConnError atomic.Pointer[string]

	all      histogram
	byKind   [numKinds]histogram
	errsKind [numKinds]atomic.Int64
}

func (s *stats) connUp() {
	n := s.connected.Add(1)
	for {
		m := s.maxConnected.Load()
		if n <= m || s.maxConnected.CompareAndSwap(m, n) {
			return
		}
	}
}

// Latency sums up the time from sending a CALL to receiving its answer.
type Latency struct {
	Count      uint64  `json:"count"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	CallErrors int64   `json:"call_errors"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (h *histogram) latency() Latency {
	return Latency{Count: h.n.Load(), P50Ms: ms(h.quantile(0.50)), P99Ms: ms(h.quantile(0.99)),
		MaxMs: ms(time.Duration(h.max.Load()) * time.Microsecond)}
}

// Summary is the outcome of a run: what benchmark scripts read (as JSON with
// --json) and what a person reads at the end of a demo.
type Summary struct {
	Chargers          int                `json:"chargers"`
	Connected         int64              `json:"connected"`     // at the end
	MaxConnected      int64              `json:"max_connected"` // at any moment
	ElapsedSeconds    float64            `json:"elapsed_s"`
	SessionsStarted   int64              `json:"sessions_started"`
	SessionsEnded     int64              `json:"sessions_ended"`     // StopTransaction answered
	SessionsAbandoned int64              `json:"sessions_abandoned"` // forgotten by a reboot; the server ends them
	SessionsRejected  int64              `json:"sessions_rejected"`  // idTag not accepted
	SessionsPerSecond float64            `json:"sessions_per_s"`
	MessagesSent      int64              `json:"messages_sent"`
	MessagesPerSecond float64            `json:"messages_per_s"`
	TxMessages        int64              `json:"tx_messages"` // Start, MeterValues, Stop
	TxPerSecond       float64            `json:"tx_messages_per_s"`
	Latency           Latency            `json:"latency"`
	ByAction          map[string]Latency `json:"by_action"`
	CallErrors        int64              `json:"call_errors"`
	Timeouts          int64              `json:"timeouts"`
	Connects          int64              `json:"connects"`
	ConnectFailures   int64              `json:"connect_failures"`
	LastConnectError  string             `json:"last_connect_error,omitempty"`
	Disconnects       int64              `json:"disconnects"` // unexpected, not chaos
	Duplicates        int64              `json:"duplicates_sent"`
	DuplicateMismatch int64              `json:"duplicate_mismatches"` // a retransmitted Start got another transactionId
	OfflineStretches  int64              `json:"offline_stretches"`
	Reboots           int64              `json:"reboots"`
	ServerCalls       int64              `json:"server_calls_answered"`
	CostMessages      int64              `json:"cost_messages"`
	Goroutines        int                `json:"goroutines"`        // at the end, before disconnecting
	HeapBytes         uint64             `json:"heap_bytes"`        // in use at the end, before disconnecting
	StackBytes        uint64             `json:"stack_bytes"`       // goroutine stacks, idem
	BytesPerCharger   int64              `json:"bytes_per_charger"` // heap and stacks grown since the start, per connected charger
}

func (s *stats) summary(chargers int, now time.Time) *Summary {
	el := now.Sub(s.start).Seconds()
	rate := func(n int64) float64 {
		if el <= 0 {
			return 0
		}
		return float64(n) / el
	}
	sum := &Summary{
		Chargers: chargers, Connected: s.connected.Load(), MaxConnected: s.maxConnected.Load(), ElapsedSeconds: el,
		SessionsStarted: s.started.Load(), SessionsEnded: s.ended.Load(), SessionsAbandoned: s.abandoned.Load(),
		SessionsRejected: s.rejected.Load(), SessionsPerSecond: rate(s.ended.Load()),
		MessagesSent: s.sent.Load(), MessagesPerSecond: rate(s.sent.Load()),
		TxMessages: s.txSent.Load(), TxPerSecond: rate(s.txSent.Load()),
		Latency: s.all.latency(), ByAction: map[string]Latency{},
		CallErrors: s.callErrors.Load(), Timeouts: s.timeouts.Load(), Connects: s.connects.Load(),
		ConnectFailures: s.connFailures.Load(), Disconnects: s.disconnects.Load(),
		Duplicates: s.duplicates.Load(), DuplicateMismatch: s.dupMismatch.Load(),
		OfflineStretches: s.offline.Load(), Reboots: s.reboots.Load(), ServerCalls: s.serverCalls.Load(),
		CostMessages: s.costMessages.Load(),
	}
	sum.Latency.CallErrors = sum.CallErrors
	if p := s.lastConnError.Load(); p != nil {
		sum.LastConnectError = *p
	}
	for k := range numKinds {
		l := s.byKind[k].latency()
		l.CallErrors = s.errsKind[k].Load()
		if l.Count > 0 || l.CallErrors > 0 {
			sum.ByAction[kindAction[k]] = l
		}
	}
	return sum
}

// progress is the one-line status printed every few seconds.
func (s *stats) progress(w io.Writer, chargers int, now time.Time, lastSent int64, every time.Duration) int64 {
	sent := s.sent.Load()
	// The charger display's count shows only once there is one: a load
	// test without it keeps its line as it was.
	display := ""
	if n := s.costMessages.Load(); n > 0 {
		display = fmt.Sprintf("  display %d", n)
	}
	fmt.Fprintf(w, "sim %6.0fs  connected %d/%d  sessions %d started %d ended  msgs %d (%.0f/s)  p50 %.1fms p99 %.1fms  errors %d timeouts %d connfail %d%s\n",
		now.Sub(s.start).Seconds(), s.connected.Load(), chargers, s.started.Load(), s.ended.Load(),
		sent, float64(sent-lastSent)/every.Seconds(), ms(s.all.quantile(0.5)), ms(s.all.quantile(0.99)),
		s.callErrors.Load(), s.timeouts.Load(), s.connFailures.Load(), display)
	return sent
}

// WriteText prints the summary for a person.
func (s *Summary) WriteText(w io.Writer) error {
	var b []byte
	f := func(format string, args ...any) { b = fmt.Appendf(b, format, args...) }
	f("chargers           %d (connected at end %d, at most %d)\n", s.Chargers, s.Connected, s.MaxConnected)
	f("elapsed            %.1f s\n", s.ElapsedSeconds)
	f("sessions           %d started, %d ended (%.2f/s), %d abandoned by reboot, %d refused\n",
		s.SessionsStarted, s.SessionsEnded, s.SessionsPerSecond, s.SessionsAbandoned, s.SessionsRejected)
	f("messages sent      %d (%.1f/s); transaction messages %d (%.1f/s)\n", s.MessagesSent, s.MessagesPerSecond, s.TxMessages, s.TxPerSecond)
	f("latency            p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%d answers)\n", s.Latency.P50Ms, s.Latency.P99Ms, s.Latency.MaxMs, s.Latency.Count)
	actions := make([]string, 0, len(s.ByAction))
	for a := range s.ByAction {
		actions = append(actions, a)
	}
	sort.Strings(actions)
	for _, a := range actions {
		l := s.ByAction[a]
		f("  %-18s %8d  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  errors %d\n", a, l.Count, l.P50Ms, l.P99Ms, l.MaxMs, l.CallErrors)
	}
	f("CALLERRORs         %d\n", s.CallErrors)
	f("timeouts           %d\n", s.Timeouts)
	f("connections        %d made, %d failed, %d lost unexpectedly\n", s.Connects, s.ConnectFailures, s.Disconnects)
	if s.LastConnectError != "" {
		f("last connect error %s\n", s.LastConnectError)
	}
	f("chaos              %d offline stretches, %d reboots, %d duplicates sent (%d answered with another transaction id)\n",
		s.OfflineStretches, s.Reboots, s.Duplicates, s.DuplicateMismatch)
	f("server CALLs       %d answered\n", s.ServerCalls)
	f("charger display    %d cost messages (price at Authorize, running and final cost)\n", s.CostMessages)
	f("simulator          %d goroutines, %.1f MiB heap, %.1f MiB stacks", s.Goroutines, float64(s.HeapBytes)/(1<<20), float64(s.StackBytes)/(1<<20))
	if s.BytesPerCharger > 0 {
		f(" (%.1f KiB per connected charger)", float64(s.BytesPerCharger)/1024)
	}
	f("\n")
	_, err := w.Write(b)
	return err
}

// WriteJSON prints the summary as one JSON object.
func (s *Summary) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
