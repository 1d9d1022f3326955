package ocpp

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// meterValuesFrame is a typical MeterValues CALL: one sample of energy,
// power, current on three phases, voltage and state of charge (~700 bytes).
const meterValuesFrame = `[2,"7c4bfa1e-0d8c-4b8e-9d3a-2f6c1b9e5a01","MeterValues",{"connectorId":1,"transactionId":1234567,"meterValue":[{"timestamp":"2024-03-03T05:19:09.000Z","sampledValue":[` +
	`{"value":"5995441.000","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","location":"Outlet","unit":"Wh"},` +
	`{"value":"11040.0","context":"Sample.Periodic","measurand":"Power.Active.Import","location":"Outlet","unit":"W"},` +
	`{"value":"16.01","context":"Sample.Periodic","measurand":"Current.Import","location":"Outlet","unit":"A","phase":"L1"},` +
	`{"value":"15.98","context":"Sample.Periodic","measurand":"Current.Import","location":"Outlet","unit":"A","phase":"L2"},` +
	`{"value":"16.03","context":"Sample.Periodic","measurand":"Current.Import","location":"Outlet","unit":"A","phase":"L3"},` +
	`{"value":"232.670","context":"Sample.Periodic","measurand":"Voltage","location":"Outlet","unit":"V","phase":"L1-N"},` +
	`{"value":"54","context":"Sample.Periodic","measurand":"SoC","location":"EV","unit":"Percent"}]}]}]`

func BenchmarkParseFrame(b *testing.B) {
	data := []byte(meterValuesFrame)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseFrame(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateMeterValues(b *testing.B) {
	f, perr := ParseFrame([]byte(meterValuesFrame))
	if perr != nil {
		b.Fatal(perr)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(f.Payload)))
	for b.Loop() {
		if err := ValidateRequest(f.Action, f.Payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMeterValues(b *testing.B) {
	f, _ := ParseFrame([]byte(meterValuesFrame))
	b.ReportAllocs()
	for b.Loop() {
		var req MeterValuesReq
		if err := json.Unmarshal(f.Payload, &req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispatchMeterValues is the whole path of one incoming message
// short of the socket: parse the frame, validate the payload, decode it,
// call the handler, encode and validate the confirmation, write the
// CALLRESULT into a buffer.
func BenchmarkDispatchMeterValues(b *testing.B) {
	s := &Server{Handler: &recorder{}}
	c := &Conn{srv: s, ctx: context.Background()}
	data := []byte(meterValuesFrame)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, perr := ParseFrame(data)
		buf = s.answer(c.ctx, c, buf[:0], &f, perr)
	}
	if string(buf) != `[3,"7c4bfa1e-0d8c-4b8e-9d3a-2f6c1b9e5a01",{}]` {
		b.Fatal(string(buf))
	}
}

func BenchmarkDecodeMeterValuesFast(b *testing.B) {
	f, _ := ParseFrame([]byte(meterValuesFrame))
	b.ReportAllocs()
	for b.Loop() {
		var req MeterValuesReq
		if err := decodeMeterValuesReq(f.Payload, &req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTrip is one MeterValues CALL and its CALLRESULT over a
// real WebSocket on loopback, client and server in this process, one
// message at a time: the latency floor.
func BenchmarkRoundTrip(b *testing.B) {
	e := newEnv(b, func(s *Server) { s.Handler = &recorder{noRecord: true} })
	ws := e.connect(b, "CP1")
	msg := []byte(`[2,"m1","MeterValues",` + strings.SplitN(meterValuesFrame, `"MeterValues",`, 2)[1])
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTripParallel runs round trips on 64 connections at once:
// ns/op is the inverse of the throughput of client and server together on
// this machine's cores.
func BenchmarkRoundTripParallel(b *testing.B) {
	e := newEnv(b, func(s *Server) { s.Handler = &recorder{noRecord: true} })
	const conns = 64
	pool := make(chan *websocket.Conn, conns)
	for i := range conns {
		pool <- e.connectAs(b, "P"+strconv.Itoa(i))
	}
	msg := []byte(`[2,"m1","MeterValues",` + strings.SplitN(meterValuesFrame, `"MeterValues",`, 2)[1])
	b.ReportAllocs()
	b.SetParallelism(conns / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		ws := <-pool
		ctx := context.Background()
		for pb.Next() {
			if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
				b.Error(err)
				return
			}
			if _, _, err := ws.Read(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkIdleConnections opens 1,000 connections per op and reports the
// heap they hold (client and server together, both in this process; see
// TestManyConnections for the server alone, measured across processes).
func BenchmarkIdleConnections(b *testing.B) {
	const n = 1000
	e := newEnv(b)
	for b.Loop() {
		heap0, _, _ := measure()
		conns := make([]*websocket.Conn, n)
		for i := range conns {
			conns[i] = e.connectAs(b, "I"+strconv.Itoa(i))
		}
		for e.srv.Len() < n {
			time.Sleep(time.Millisecond)
		}
		heap1, _, _ := measure()
		b.ReportMetric(kib(heap1-heap0)/n, "KiB-heap/conn(both-sides)")
		for _, ws := range conns {
			ws.CloseNow()
		}
		for e.srv.Len() > 0 {
			time.Sleep(time.Millisecond)
		}
	}
}
