package ocpp

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// recorder is the test Handler: a plain struct that records what it was
// called with and answers fixed confirmations. Its fields choose special
// behaviour for a test.
type recorder struct {
	noRecord bool // benchmarks: keep nothing

	mu    sync.Mutex
	calls []string // "Action idTag-or-detail"
	conns []*Conn

	// hold, when set, makes StartTransaction wait until it is closed, to
	// test ordering and shutdown.
	hold chan struct{}
	// started is signalled when a StartTransaction begins.
	started chan struct{}
	// inFlight counts handlers running at once, to check they never
	// overlap on one connection.
	inFlight, maxInFlight int
}

func (r *recorder) record(c *Conn, call string) func() {
	if r.noRecord {
		return func() {}
	}
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.conns = append(r.conns, c)
	r.inFlight++
	r.maxInFlight = max(r.maxInFlight, r.inFlight)
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		r.inFlight--
		r.mu.Unlock()
	}
}

func (r *recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

var testTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func (r *recorder) BootNotification(ctx context.Context, c *Conn, req *BootNotificationReq) (*BootNotificationConf, error) {
	defer r.record(c, "BootNotification "+req.ChargePointVendor)()
	return &BootNotificationConf{Status: RegistrationAccepted, CurrentTime: testTime, Interval: 300}, nil
}

func (r *recorder) Heartbeat(ctx context.Context, c *Conn, req *HeartbeatReq) (*HeartbeatConf, error) {
	defer r.record(c, "Heartbeat")()
	return &HeartbeatConf{CurrentTime: testTime}, nil
}

func (r *recorder) StatusNotification(ctx context.Context, c *Conn, req *StatusNotificationReq) (*StatusNotificationConf, error) {
	defer r.record(c, "StatusNotification "+string(req.Status))()
	return &StatusNotificationConf{}, nil
}

// Authorize answers by idTag: "PANIC" panics, "FAIL" returns a plain
// error, "SECURITY" a SecurityError, "BADCONF" an invalid confirmation,
// "NIL" nothing at all; others are accepted.
func (r *recorder) Authorize(ctx context.Context, c *Conn, req *AuthorizeReq) (*AuthorizeConf, error) {
	defer r.record(c, "Authorize "+req.IdTag)()
	switch req.IdTag {
	case "PANIC":
		panic("test panic")
	case "FAIL":
		return nil, errors.New("database on fire")
	case "SECURITY":
		return nil, Errorf(SecurityError, "tag %s refused", req.IdTag)
	case "BADCONF":
		return &AuthorizeConf{IdTagInfo: IdTagInfo{Status: "Maybe"}}, nil
	case "NIL":
		return nil, nil
	}
	return &AuthorizeConf{IdTagInfo: IdTagInfo{Status: AuthorizationAccepted}}, nil
}

func (r *recorder) StartTransaction(ctx context.Context, c *Conn, req *StartTransactionReq) (*StartTransactionConf, error) {
	defer r.record(c, "StartTransaction "+req.IdTag)()
	if r.started != nil {
		r.started <- struct{}{}
	}
	if r.hold != nil {
		select {
		case <-r.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &StartTransactionConf{IdTagInfo: IdTagInfo{Status: AuthorizationAccepted}, TransactionId: req.MeterStart}, nil
}

func (r *recorder) StopTransaction(ctx context.Context, c *Conn, req *StopTransactionReq) (*StopTransactionConf, error) {
	defer r.record(c, "StopTransaction")()
	return &StopTransactionConf{}, nil
}

func (r *recorder) MeterValues(ctx context.Context, c *Conn, req *MeterValuesReq) (*MeterValuesConf, error) {
	defer r.record(c, "MeterValues")()
	return &MeterValuesConf{}, nil
}

func (r *recorder) DataTransfer(ctx context.Context, c *Conn, req *DataTransferReq) (*DataTransferConf, error) {
	defer r.record(c, "DataTransfer "+req.VendorId)()
	return &DataTransferConf{Status: DataTransferAccepted, Data: req.Data}, nil
}

// discardLogger keeps expected handler failures out of test output.
var discardLogger = slog.New(slog.DiscardHandler)
