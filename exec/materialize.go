package exec

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// materializeOp is the terminal operator of a view: it applies changes to
// the view's contents and publishes them (and control messages) to the
// jobs and subscribers reading the view.
type materializeOp struct {
	rel *relation
	job *job
	// ackFn and finishFn, when set (checkpoints), replace job.ack and
	// job.finish: they pass on a barrier's ack or the end of the stream
	// only after every checkpoint taken before it is durable.
	ackFn    func(epoch uint64)
	finishFn func()
}

func (m *materializeOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	r := m.rel
	m.job.rowsOut.Add(int64(c.Len()))
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	r.mu.Lock()
	r.applyLocked(c)
	r.mu.Unlock()
	return r.publish(out.ctx, chunk.Message{Kind: chunk.Data, Chunk: c})
}

func (m *materializeOp) OnWatermark(wm int64, _ *emitter) (int64, error) { return wm, nil }
func (m *materializeOp) OnBarrier(uint64, *emitter) error                { return nil }

func (m *materializeOp) OnControl(msg chunk.Message) error {
	r := m.rel
	switch msg.Kind {
	case chunk.Data:
		return m.OnData(0, msg.Chunk, &emitter{ctx: m.job.ctx})
	case chunk.Watermark:
		m.job.watermark.Store(msg.Watermark)
		r.mu.Lock()
		r.lastWM = msg.Watermark
		r.mu.Unlock()
	}
	err := func() error {
		r.pubMu.Lock()
		defer r.pubMu.Unlock() // also on a panic: the job's failure takes pubMu (job.fail)
		if msg.Kind == chunk.EndOfStream {
			r.ended = true // a job reading the view from now on ends after its contents
		}
		return r.publish(m.job.ctx, msg)
	}()
	switch msg.Kind {
	case chunk.Barrier:
		if m.ackFn != nil {
			m.ackFn(msg.Epoch)
		} else {
			m.job.ack(msg.Epoch)
		}
	case chunk.EndOfStream:
		if m.finishFn != nil {
			m.finishFn()
		} else {
			m.job.finish()
		}
	}
	return err
}

// sinkOp is the terminal operator of a sink job: it writes changes to the
// connector sink and commits one epoch per barrier.
type sinkOp struct {
	sink  connectors.Sink
	job   *job
	epoch uint64
	dirty bool
}

func (s *sinkOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	s.job.rowsOut.Add(int64(c.Len()))
	s.dirty = true
	if err := s.sink.Write(out.ctx, c); err != nil {
		return fmt.Errorf("write to sink: %w", err)
	}
	return nil
}

func (s *sinkOp) OnWatermark(wm int64, _ *emitter) (int64, error) { return wm, nil }
func (s *sinkOp) OnBarrier(uint64, *emitter) error                { return nil }

func (s *sinkOp) OnControl(msg chunk.Message) error {
	switch msg.Kind {
	case chunk.Data:
		err := s.OnData(0, msg.Chunk, &emitter{ctx: s.job.ctx})
		putChunk(msg.Chunk)
		return err
	case chunk.Watermark:
		s.job.watermark.Store(msg.Watermark)
	case chunk.Barrier:
		if s.dirty {
			s.epoch++
			if err := s.sink.Commit(s.job.ctx, s.epoch); err != nil {
				return fmt.Errorf("commit sink epoch %d: %w", s.epoch, err)
			}
			s.dirty = false
		}
		s.job.ack(msg.Epoch)
	case chunk.EndOfStream:
		if s.dirty {
			s.epoch++
			if err := s.sink.Commit(s.job.ctx, s.epoch); err != nil {
				return fmt.Errorf("commit sink epoch %d: %w", s.epoch, err)
			}
			s.dirty = false
		}
		s.job.finish()
	}
	return nil
}

// Update is one item of a subscription: a change (Op and Row) or, when
// IsProgress, a progress tick saying the view is complete up to Progress
// (its watermark).
type Update struct {
	Op         chunk.Op
	Row        types.Row
	Progress   time.Time
	IsProgress bool
}

// Sentinel errors of subscriptions.
var (
	// ErrSubscriptionClosed is returned by Next after Close.
	ErrSubscriptionClosed = errors.New("subscription closed")
	// ErrSubscriberTooSlow is the cause of the error Next returns after a
	// subscriber fell more than Config.SubscriberQueue updates behind.
	ErrSubscriberTooSlow = errors.New("subscriber too slow")
)

// defaultSubscriberQueue is Config.SubscriberQueue's default.
const defaultSubscriberQueue = 1 << 18

// Subscription delivers a view's (or table's) snapshot and then its
// changes. Changes queue while the reader is slow, up to a bound
// (Config.SubscriberQueue updates beyond the snapshot): a reader that
// falls further behind is dropped, its queue freed, and Next returns an
// error (SQLSTATE 54000, wrapping ErrSubscriberTooSlow), so a stuck client
// cannot grow the server's memory without bound nor stall the view.
type Subscription struct {
	mu     sync.Mutex
	q      []Update
	head   int
	limit  int // most updates queued at once
	wake   chan struct{}
	err    error
	rel    *relation
	cancel func()
}

// Subscribe returns a subscription to a view or table: its current rows
// (as inserts) first, then changes and progress ticks. It ends when ctx is
// done or Close is called.
func (e *Engine) Subscribe(ctx context.Context, name string) (*Subscription, error) {
	r, err := e.rel(name)
	if err != nil {
		return nil, err
	}
	if err := e.ViewFailure(name); err != nil {
		return nil, err
	}
	s := &Subscription{wake: make(chan struct{}, 1), rel: r}
	r.pubMu.Lock()
	r.mu.RLock()
	for _, row := range r.contentsLocked() {
		s.q = append(s.q, Update{Op: chunk.Insert, Row: row})
	}
	wm := r.lastWM
	r.mu.RUnlock()
	if wm != chunk.NoTime {
		s.q = append(s.q, Update{IsProgress: true, Progress: time.UnixMicro(wm).UTC()})
	}
	limit := e.cfg.SubscriberQueue
	if limit <= 0 {
		limit = defaultSubscriberQueue
	}
	s.limit = len(s.q) + limit
	r.subs[s] = struct{}{}
	r.pubMu.Unlock()
	if r.job != nil {
		// A view that failed between the check above and the
		// registration ended the subscriptions it had then (job.fail):
		// this one ends here, after its rows.
		if err := r.job.failure(); err != nil {
			s.closeWith(viewFailed(name, err))
		}
	}
	s.mu.Lock()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	s.cancel = func() { stop() }
	s.mu.Unlock()
	return s, nil
}

// push queues a published message (the relation's pubMu is held). It
// reports false when the subscriber fell too far behind and was dropped:
// the caller removes it from the relation.
func (s *Subscription) push(m chunk.Message, r *relation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false
	}
	n := 1
	if m.Kind == chunk.Data {
		n = m.Chunk.Len()
	}
	if m.Kind == chunk.Data || m.Kind == chunk.Watermark {
		if len(s.q)-s.head+n > s.limit {
			s.err = sqlerr.Wrap(sqlerr.ProgramLimitExceeded, fmt.Errorf("subscription to %s dropped: %w (more than %d updates queued)", r.name, ErrSubscriberTooSlow, s.limit))
			s.q, s.head = nil, 0
			s.wakeLocked()
			return false
		}
		if s.head > 0 && s.head >= len(s.q)/2 {
			// Reuse the space of taken updates before growing.
			k := copy(s.q, s.q[s.head:])
			clear(s.q[k:])
			s.q, s.head = s.q[:k], 0
		}
	}
	switch m.Kind {
	case chunk.Data:
		c := m.Chunk
		for i := range c.Len() {
			s.q = append(s.q, Update{Op: c.Ops[i], Row: copyRow(c.Row(i))})
		}
	case chunk.Watermark:
		s.q = append(s.q, Update{IsProgress: true, Progress: time.UnixMicro(m.Watermark).UTC()})
	default:
		return true
	}
	s.wakeLocked()
	return true
}

func (s *Subscription) wakeLocked() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next returns the next update, waiting for one.
func (s *Subscription) Next(ctx context.Context) (Update, error) {
	for {
		s.mu.Lock()
		if s.head < len(s.q) {
			u := s.q[s.head]
			s.q[s.head] = Update{}
			s.head++
			if s.head == len(s.q) {
				s.q, s.head = s.q[:0], 0
			}
			s.mu.Unlock()
			return u, nil
		}
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return Update{}, err
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return Update{}, ctx.Err()
		}
	}
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel() // release the context hook
	}
	s.rel.pubMu.Lock()
	delete(s.rel.subs, s)
	s.rel.pubMu.Unlock()
	s.closeWith(ErrSubscriptionClosed)
}

func (s *Subscription) closeWith(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
