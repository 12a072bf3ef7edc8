package exec

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
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
	r.pubMu.Lock()
	err := r.publish(m.job.ctx, msg)
	r.pubMu.Unlock()
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

// ErrSubscriptionClosed is returned by Next after Close.
var ErrSubscriptionClosed = errors.New("subscription closed")

// Subscription delivers a view's (or table's) snapshot and then its
// changes. Updates queue without bound while the reader is slow.
type Subscription struct {
	mu     sync.Mutex
	q      []Update
	head   int
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
	r.subs[s] = struct{}{}
	r.pubMu.Unlock()
	s.mu.Lock()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	s.cancel = func() { stop() }
	s.mu.Unlock()
	return s, nil
}

// push queues a published message (the relation's pubMu is held).
func (s *Subscription) push(m chunk.Message, _ *relation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
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
		return
	}
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
