package pulsar

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/connectors/format"
	"github.com/sluice-db/sluice/exec/chunk"
)

// Sequence-ID layout of the sink: epoch<<seqShift | index within the epoch;
// the last message of an epoch uses index lastIndex.
const (
	seqShift  = 24
	lastIndex = 1<<seqShift - 1
	// MaxEpochRows is the most rows one epoch can carry.
	MaxEpochRows = lastIndex
)

// SinkOptions implements connectors.Connector.
func (Connector) SinkOptions() []connectors.OptionSpec {
	return append(append([]connectors.OptionSpec(nil), commonOptions...),
		connectors.OptionSpec{Name: "topic", Required: true, Doc: "topic to write"},
		connectors.OptionSpec{Name: "format", Default: "json", Doc: "json: one object per row", Valid: connectors.OneOf("json")},
		connectors.OptionSpec{Name: "key", Doc: "column whose value is the message key"},
		connectors.OptionSpec{Name: "producer_name", Doc: "producer name for broker deduplication (default sluice-<sink>)"},
	)
}

type outMsg struct {
	start, end int // payload bytes in Sink.arena
	key        string
	del        bool
}

// Sink writes rows to a Pulsar topic, once per epoch through broker
// deduplication (see the package comment).
type Sink struct {
	client pulsar.Client
	prod   pulsar.Producer
	topic  string
	enc    *format.JSONEncoder
	keyCol int
	arena  []byte
	msgs   []outMsg
	last   uint64
	name   string
	// partial is an epoch an earlier run left without its end marker.
	partial *partialEpoch
}

// OpenSink implements connectors.Connector.
func (c Connector) OpenSink(ctx context.Context, spec connectors.SinkSpec) (connectors.Sink, error) {
	opts, err := connectors.Validate("sink", "pulsar", c.SinkOptions(), spec.Options)
	if err != nil {
		return nil, err
	}
	s := &Sink{topic: fullTopic(opts["topic"]), enc: format.NewJSONEncoder(spec.Schema), keyCol: -1}
	if k := opts["key"]; k != "" {
		if s.keyCol = spec.Schema.Index(k); s.keyCol < 0 {
			return nil, fmt.Errorf("%w: key = %q is not a column of %s (columns: %s)", connectors.ErrBadOption, k, spec.Name, strings.Join(spec.Schema.Names(), ", "))
		}
	}
	name := opts["producer_name"]
	if name == "" {
		name = "sluice-" + spec.Name
	}
	if s.client, err = newClient(opts); err != nil {
		return nil, err
	}
	if s.last, err = s.readLastCommitted(ctx); err != nil {
		s.client.Close()
		return nil, err
	}
	s.name = name
	if err := s.createProducer(ctx); err != nil {
		s.client.Close()
		return nil, err
	}
	return s, nil
}

// createProducer creates the producer, without batching: the Go client
// does not send a batch's highest sequence ID, so the broker deduplicates a
// batch by its first sequence ID alone, which would drop or repeat parts of
// a batch that straddles the end of a partially persisted epoch. Single
// messages are deduplicated one by one (pipelined with SendAsync).
func (s *Sink) createProducer(ctx context.Context) error {
	// After a crash the broker may still hold the old producer of this name
	// for a while: retry until it lets go.
	deadline := time.Now().Add(60 * time.Second)
	for {
		prod, err := s.client.CreateProducer(pulsar.ProducerOptions{
			Topic: s.topic, Name: s.name, SendTimeout: 60 * time.Second,
			DisableBatching: true, MaxPendingMessages: 10000, BackOffPolicyFunc: newReconnectBackoff,
		})
		if err == nil {
			s.prod = prod
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("create pulsar producer %q on %s: %w", s.name, s.topic, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// partialEpoch is an epoch of an earlier run whose end marker never reached
// an unpartitioned topic: its messages 0..lastIndex are there.
type partialEpoch struct {
	epoch     uint64
	lastIndex int64
	lastID    pulsar.MessageID
	topic     string
}

// readLastCommitted reads the last message of every partition of the topic.
// Every message carries its epoch (sluice_epoch) and index (sluice_index);
// the last one of an epoch also sluice_epoch_end.
//
// Unpartitioned topic: the last epoch with its end marker is the result; an
// epoch cut short is remembered in s.partial (see Commit). Partitioned
// topic: the highest epoch seen on any partition, so that no epoch number
// that reached the broker is reused for different rows (the broker would
// drop them as duplicates); an epoch cut short by a crash is then not
// completed (documented limitation).
func (s *Sink) readLastCommitted(ctx context.Context) (uint64, error) {
	parts, err := s.client.TopicPartitions(s.topic)
	if err != nil {
		return 0, fmt.Errorf("look up partitions of %s: %w", s.topic, err)
	}
	var result uint64
	for _, pt := range parts {
		rd, err := s.client.CreateReader(pulsar.ReaderOptions{Topic: pt, StartMessageID: pulsar.LatestMessageID(), StartMessageIDInclusive: true})
		if err != nil {
			return 0, fmt.Errorf("read the last message of %s: %w", pt, err)
		}
		if !rd.HasNext() {
			rd.Close()
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := rd.Next(cctx)
		cancel()
		rd.Close()
		if err != nil {
			return 0, fmt.Errorf("read the last message of %s: %w", pt, err)
		}
		e, err := strconv.ParseUint(m.Properties()["sluice_epoch"], 10, 64)
		if err != nil {
			continue // not written by a Sluice sink
		}
		_, end := m.Properties()["sluice_epoch_end"]
		if len(parts) == 1 && !end {
			idx, err := strconv.ParseInt(m.Properties()["sluice_index"], 10, 64)
			if err == nil {
				s.partial = &partialEpoch{epoch: e, lastIndex: idx, lastID: m.ID(), topic: pt}
			}
			e--
		}
		result = max(result, e)
	}
	return result, nil
}

// resumeOffset decides how to number the rows of the epoch cut short by a
// crash. When the buffered rows begin with exactly the messages that
// reached the broker (the engine rewrites the epoch from its checkpoint),
// the offset is 0 and the broker drops the repeated prefix. Otherwise (new
// rows under the same epoch number, as after a rebuild from a view) the
// rows are numbered after the prefix, so none of them is taken for a
// duplicate; the prefix of the old run stays in the topic.
func (s *Sink) resumeOffset(ctx context.Context) int64 {
	p := s.partial
	n := p.lastIndex + 1
	first := p.lastID.EntryID() - p.lastIndex
	if int64(len(s.msgs)) < n || first < 0 {
		return n
	}
	rd, err := s.client.CreateReader(pulsar.ReaderOptions{Topic: p.topic,
		StartMessageID: pulsar.NewMessageID(p.lastID.LedgerID(), first, -1, 0), StartMessageIDInclusive: true})
	if err != nil {
		return n
	}
	defer rd.Close()
	for i := int64(0); i < n; i++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := rd.Next(cctx)
		cancel()
		if err != nil {
			return n
		}
		om := s.msgs[i]
		_, del := m.Properties()["sluice_op"]
		if m.Properties()["sluice_index"] != strconv.FormatInt(i, 10) || m.Properties()["sluice_epoch"] != strconv.FormatUint(p.epoch, 10) ||
			!bytes.Equal(m.Payload(), s.arena[om.start:om.end]) || m.Key() != om.key || del != om.del {
			return n
		}
	}
	return 0
}

// Write implements connectors.Sink: it encodes the rows and keeps them until
// Commit.
func (s *Sink) Write(_ context.Context, c *chunk.Chunk) error {
	for i := 0; i < c.Len(); i++ {
		row := c.Row(i)
		start := len(s.arena)
		s.arena = s.enc.Append(s.arena, row)
		m := outMsg{start: start, end: len(s.arena), del: c.Ops[i] == chunk.Delete}
		if s.keyCol >= 0 && s.keyCol < len(row) && !row[s.keyCol].IsNull() {
			m.key = row[s.keyCol].String()
		}
		s.msgs = append(s.msgs, m)
	}
	if len(s.msgs) > MaxEpochRows {
		return fmt.Errorf("pulsar sink: more than %d rows in one epoch", MaxEpochRows)
	}
	return nil
}

// Commit implements connectors.Sink: it sends the epoch's rows with
// sequence IDs derived from epoch and waits until the broker has them. An
// epoch at or below the last committed one is dropped.
func (s *Sink) Commit(ctx context.Context, epoch uint64) error {
	defer func() {
		s.msgs = s.msgs[:0]
		s.arena = s.arena[:0]
	}()
	if epoch <= s.last && s.last != 0 {
		return nil
	}
	if epoch >= 1<<(63-seqShift) {
		return fmt.Errorf("pulsar sink: epoch %d too large for sequence IDs", epoch)
	}
	var offset int64
	if p := s.partial; p != nil {
		if epoch == p.epoch {
			offset = s.resumeOffset(ctx)
		}
		s.partial = nil
	}
	if int64(len(s.msgs))+offset > MaxEpochRows {
		return fmt.Errorf("pulsar sink: more than %d rows in epoch %d", MaxEpochRows, epoch)
	}
	if err := s.send(ctx, epoch, len(s.msgs), offset); err != nil {
		return err
	}
	s.last = epoch
	return nil
}

// send sends the first n buffered messages of epoch, numbered from offset,
// and flushes.
func (s *Sink) send(ctx context.Context, epoch uint64, n int, offset int64) error {
	var (
		mu    sync.Mutex
		errs  []error
		epStr = strconv.FormatUint(epoch, 10)
	)
	cb := func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	for i, m := range s.msgs[:n] {
		idx := int64(i) + offset
		props := map[string]string{"sluice_epoch": epStr, "sluice_index": strconv.FormatInt(idx, 10)}
		if i == len(s.msgs)-1 {
			idx = lastIndex
			props["sluice_epoch_end"] = "1"
		}
		if m.del {
			props["sluice_op"] = "-"
		}
		seq := int64(epoch)<<seqShift | idx
		s.prod.SendAsync(ctx, &pulsar.ProducerMessage{
			Payload: s.arena[m.start:m.end:m.end], Key: m.key, SequenceID: &seq, Properties: props,
		}, cb)
	}
	if err := s.prod.FlushWithCtx(ctx); err != nil {
		return fmt.Errorf("pulsar sink: flush epoch %d: %w", epoch, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("pulsar sink: send epoch %d: %w", epoch, errors.Join(errs...))
	}
	return nil
}

// LastCommitted implements connectors.Sink.
func (s *Sink) LastCommitted(context.Context) (uint64, error) { return s.last, nil }

// Close implements connectors.Sink.
func (s *Sink) Close() error {
	if s.prod != nil {
		s.prod.Close()
	}
	if s.client != nil {
		s.client.Close()
	}
	return nil
}
