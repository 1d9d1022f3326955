package cdr

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"

	"github.com/evbill/evbill/tariff"
)

// Stats counts what PriceStream wrote, so a caller can report progress and
// decide whether a run with failed lines needs attention.
type Stats struct {
	Lines  int // non-blank input lines handled: Priced + Failed
	Priced int // lines written as priced CDRs
	Failed int // lines written as {"line":N,"error":"..."}
}

// PriceFunc prices one parsed CDR into r. It receives the worker's CDR and
// Result, both reused from line to line, so it should fill r in place (for
// example with (*tariff.Tariff).PriceInto) rather than allocate; it may set
// c.Session.Location first. It is called concurrently from several
// goroutines, each with its own c and r.
type PriceFunc func(c *CDR, r *tariff.Result) error

// MaxLineSize is the longest input line PriceStream accepts. A longer line
// is reported as a failed line and skipped, so one runaway record cannot
// exhaust memory.
const MaxLineSize = 64 << 20

// maxLineSize is MaxLineSize, lowered by tests.
var maxLineSize = MaxLineSize

const (
	batchLines = 256     // lines per batch handed to a worker
	batchBytes = 1 << 20 // a batch is also cut after this many input bytes
	keepBytes  = 4 << 20 // larger batch buffers are dropped after use
)

// batch is a run of consecutive input lines and, once a worker is done, the
// output for them.
type batch struct {
	in    []byte
	lines []line
	out   []byte
	stats Stats
	done  chan struct{} // receives once when out is complete
}

type line struct {
	no         int // 1-based input line number
	start, end int // in batch.in
	tooLong    bool
}

// PriceStream reads NDJSON CDRs from in, prices each with price and writes
// the priced CDRs to out as NDJSON, in input order. workers goroutines
// (GOMAXPROCS when workers < 1) parse and price batches of lines; a single
// writer emits the batches in order, so the output is deterministic.
//
// Blank lines are skipped. A line that fails to parse or price is replaced
// in the output by {"line":N,"error":"..."} with N its 1-based line number,
// and the stream goes on. The returned error is non-nil only for a read or
// write failure or when ctx is done; the Stats then count the lines written
// before it. Cancellation is noticed between reads: a Read that blocks
// forever delays the return, as with io.Copy.
func PriceStream(ctx context.Context, in io.Reader, out io.Writer, workers int, price PriceFunc) (Stats, error) {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// A fixed set of batches circulates reader → workers → writer → reader;
	// the free list bounds memory, and the other channels can hold every
	// batch, so sends on them never block.
	nb := 2*workers + 2
	free := make(chan *batch, nb)
	work := make(chan *batch, nb)
	order := make(chan *batch, nb)
	for range nb {
		free <- &batch{done: make(chan struct{}, 1)}
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var c CDR
			var r tariff.Result
			for b := range work {
				if ctx.Err() == nil {
					b.process(&c, &r, price)
				}
				b.done <- struct{}{}
			}
		})
	}

	var stats Stats
	var writeErr error
	skipped := false // the writer dropped a batch because ctx was done
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for b := range order {
			<-b.done
			if writeErr == nil && ctx.Err() != nil {
				skipped = true
			} else if writeErr == nil {
				if _, err := out.Write(b.out); err != nil {
					writeErr = err
					cancel(err)
				} else {
					stats.Lines += b.stats.Lines
					stats.Priced += b.stats.Priced
					stats.Failed += b.stats.Failed
				}
			}
			if cap(b.in) > keepBytes {
				b.in = nil
			}
			if cap(b.out) > keepBytes {
				b.out = nil
			}
			free <- b
		}
	}()

	stopped, readErr := read(ctx, in, free, work, order)
	close(work)
	close(order)
	wg.Wait()
	<-writerDone

	switch {
	case writeErr != nil:
		return stats, writeErr
	case readErr != nil:
		return stats, readErr
	case stopped || skipped:
		return stats, context.Cause(ctx)
	}
	return stats, nil
}

// read splits the input into batches. It returns a read error, or nil at
// the end of the input; stopped reports that it gave up because ctx is done.
func read(ctx context.Context, in io.Reader, free <-chan *batch, work, order chan<- *batch) (stopped bool, err error) {
	br := bufio.NewReaderSize(in, 64<<10)
	no := 0
	for {
		var b *batch
		select {
		case b = <-free:
		case <-ctx.Done():
			return true, nil
		}
		b.in, b.lines, b.out, b.stats = b.in[:0], b.lines[:0], b.out[:0], Stats{}
		err = nil
		for len(b.lines) < batchLines && len(b.in) < batchBytes {
			start := len(b.in)
			var tooLong bool
			b.in, tooLong, err = readLine(br, b.in)
			if err != nil && (err != io.EOF || len(b.in) == start && !tooLong) {
				break
			}
			no++
			if tooLong || !blank(b.in[start:]) {
				b.lines = append(b.lines, line{no: no, start: start, end: len(b.in), tooLong: tooLong})
			} else {
				b.in = b.in[:start]
			}
			if err != nil {
				break
			}
		}
		if len(b.lines) > 0 {
			order <- b
			work <- b
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// readLine appends one line without its '\n' to buf. A line longer than
// MaxLineSize is consumed but not kept (tooLong). At the end of the input
// it returns io.EOF, together with the last line when that line is not
// terminated by '\n'.
func readLine(br *bufio.Reader, buf []byte) (_ []byte, tooLong bool, err error) {
	start := len(buf)
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			n := len(chunk)
			if err == nil {
				n-- // the '\n'
			}
			if len(buf)-start+n > maxLineSize {
				tooLong = true
				buf = buf[:start]
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			return buf, tooLong, err
		}
		if !tooLong {
			buf = buf[:len(buf)-1] // the '\n'
		}
		return buf, tooLong, nil
	}
}

func blank(b []byte) bool {
	for _, c := range b {
		if !space[c] {
			return false
		}
	}
	return true
}

// process parses and prices every line of the batch into b.out.
func (b *batch) process(c *CDR, r *tariff.Result, price PriceFunc) {
	for _, ln := range b.lines {
		b.stats.Lines++
		mark := len(b.out)
		var err error
		if ln.tooLong {
			err = fmt.Errorf("line longer than %d bytes", maxLineSize)
		} else if err = c.Parse(b.in[ln.start:ln.end]); err == nil {
			if err = price(c, r); err == nil {
				b.out, err = AppendPriced(b.out, c, r)
			}
		}
		if err != nil {
			b.out = appendErrorLine(b.out[:mark], ln.no, err)
			b.stats.Failed++
		} else {
			b.stats.Priced++
		}
		b.out = append(b.out, '\n')
	}
}

func appendErrorLine(dst []byte, no int, err error) []byte {
	dst = append(dst, `{"line":`...)
	dst = strconv.AppendInt(dst, int64(no), 10)
	dst = append(dst, `,"error":`...)
	dst = appendString(dst, err.Error())
	return append(dst, '}')
}
