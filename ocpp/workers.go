package ocpp

import "time"

// workerIdle is how long a worker goroutine waits for another
// connection's CALLs before it exits.
const workerIdle = 10 * time.Second

// workers runs connections' workers on goroutines that outlive one
// connection's burst of CALLs. A connection has a worker only while it has
// CALLs to answer, so that an idle charger costs no goroutine; but a new
// goroutine starts with a small stack and grows it, copying, through the
// handler and the database driver, on every burst. Handing the burst to a
// goroutine that already has its stack saves that (about 5 % of the CPU at
// 18,000 messages a second) and costs only the goroutines that are idle
// within workerIdle of a burst.
var workers = workerPool{tasks: make(chan func())}

type workerPool struct {
	tasks chan func() // unbuffered: a send succeeds only to an idle worker
}

// run runs f on an idle worker, or on a new one.
func (p *workerPool) run(f func()) {
	select {
	case p.tasks <- f:
	default:
		go p.loop(f)
	}
}

func (p *workerPool) loop(f func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(workerIdle)
		select {
		case f = <-p.tasks:
		case <-idle.C:
			return
		}
	}
}
