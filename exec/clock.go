package exec

import (
	"sort"
	"sync"
	"time"
)

// Clock is the engine's source of processing time. Nothing under exec calls
// time.Now directly: production uses RealClock, tests a FakeClock.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers ticks on C like time.Ticker: a tick that the receiver is
// not ready for is dropped, never queued.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns the current wall-clock time.
func (RealClock) Now() time.Time { return time.Now() }

// NewTicker returns a time.Ticker behind the Ticker interface.
func (RealClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// FakeClock is a manually advanced clock for deterministic tests. Its
// tickers fire (without blocking) when Advance crosses their next tick.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers map[*fakeTicker]struct{}
}

// NewFakeClock returns a fake clock set to start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start, tickers: map[*fakeTicker]struct{}{}}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t (which may not be earlier than Now) and fires
// due tickers.
func (c *FakeClock) Set(t time.Time) { c.Advance(t.Sub(c.Now())) }

// Advance moves the clock forward by d and fires the tickers whose next
// tick falls within the step (at most once each, like a slow receiver of a
// time.Ticker).
func (c *FakeClock) Advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	due := make([]*fakeTicker, 0, len(c.tickers))
	for t := range c.tickers {
		if !t.next.After(now) {
			due = append(due, t)
			for !t.next.After(now) {
				t.next = t.next.Add(t.d)
			}
		}
	}
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].id < due[j].id })
	for _, t := range due {
		select {
		case t.ch <- now:
		default:
		}
	}
}

// NewTicker returns a ticker driven by Advance.
func (c *FakeClock) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		d = time.Second
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: c, d: d, next: c.now.Add(d), ch: make(chan time.Time, 1), id: len(c.tickers)}
	c.tickers[t] = struct{}{}
	return t
}

type fakeTicker struct {
	c    *FakeClock
	d    time.Duration
	next time.Time
	ch   chan time.Time
	id   int
}

func (t *fakeTicker) C() <-chan time.Time { return t.ch }

func (t *fakeTicker) Stop() {
	t.c.mu.Lock()
	delete(t.c.tickers, t)
	t.c.mu.Unlock()
}
