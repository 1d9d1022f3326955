// Package sse writes Server-Sent Events (the text/event-stream format of
// the HTML standard) for the API's and the live page's session streams:
// named events with JSON data, comments as heartbeats, a flush after
// each, and a write deadline per write, so that a stream outlives the
// server's WriteTimeout while a client that stopped reading is still
// dropped.
package sse

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"
)

// Heartbeat is how often an idle stream sends a comment: proxies and
// mobile networks close connections that stay silent for a minute or
// so, and a write is how a server finds out that its client has gone.
const Heartbeat = 15 * time.Second

// Retry is the reconnection delay a stream asks browsers' EventSource
// for, after the server ended a stream (a shutdown, an error) or the
// connection broke.
const Retry = 3 * time.Second

// writeTimeout bounds one write: a client that reads nothing for this
// long is dropped rather than holding a goroutine and a buffer.
const writeTimeout = 10 * time.Second

// Stream is an open event stream.
type Stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// Start answers the request with an event stream: status 200, the
// stream's headers, and the reconnection delay, sent at once so that the
// client knows the stream is open.
func Start(w http.ResponseWriter) (*Stream, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// nginx buffers responses unless told otherwise, which would hold
	// every event back.
	h.Set("X-Accel-Buffering", "no")
	s := &Stream{w: w, rc: http.NewResponseController(w)}
	s.deadline()
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: " + strconv.FormatInt(Retry.Milliseconds(), 10) + "\n\n")); err != nil {
		return nil, err
	}
	return s, s.rc.Flush()
}

func (s *Stream) deadline() {
	// A writer without deadlines (a test's recorder) is written without.
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
}

// Event sends one event named name with data, which may hold newlines
// (each line is sent as a data field, as the format requires).
func (s *Stream) Event(name string, data []byte) error {
	var b bytes.Buffer
	b.Grow(len(name) + len(data) + 16)
	b.WriteString("event: ")
	b.WriteString(name)
	b.WriteByte('\n')
	for {
		line, rest, more := bytes.Cut(data, []byte{'\n'})
		b.WriteString("data: ")
		b.Write(bytes.TrimSuffix(line, []byte{'\r'}))
		b.WriteByte('\n')
		if !more {
			break
		}
		data = rest
	}
	b.WriteByte('\n')
	return s.write(b.Bytes())
}

// Comment sends a comment, which clients ignore: a heartbeat.
func (s *Stream) Comment(text string) error {
	return s.write([]byte(": " + text + "\n\n"))
}

func (s *Stream) write(b []byte) error {
	s.deadline()
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

// Relay sends what arrives on updates with send until send says the
// stream is done, updates is closed (nil is returned then) or ctx ends
// (the client went away), with a heartbeat comment whenever the stream
// has been silent for heartbeat.
func Relay[T any](ctx context.Context, s *Stream, updates <-chan T, heartbeat time.Duration, send func(T) (done bool, err error)) error {
	t := time.NewTimer(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := s.Comment("heartbeat"); err != nil {
				return err
			}
		case u, ok := <-updates:
			if !ok {
				return nil
			}
			done, err := send(u)
			if err != nil || done {
				return err
			}
		}
		t.Reset(heartbeat)
	}
}
