package pulsar

import (
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
			DisableBatching: true, MaxPendingMessages: 10000,
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

// readLastCommitted reads the last message of every partition of the topic.
// A partition's last message carries its epoch (property sluice_epoch) and,
// when it ended the epoch, sluice_epoch_end; the result is the minimum over
// partitions of the last complete epoch, which is safe: epochs replayed
// beyond it are dropped by the broker's deduplication.
func (s *Sink) readLastCommitted(ctx context.Context) (uint64, error) {
	parts, err := s.client.TopicPartitions(s.topic)
	if err != nil {
		return 0, fmt.Errorf("look up partitions of %s: %w", s.topic, err)
	}
	var result uint64
	found := false
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
		if _, end := m.Properties()["sluice_epoch_end"]; !end {
			e--
		}
		if !found || e < result {
			result, found = e, true
		}
	}
	return result, nil
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
	if err := s.send(ctx, epoch, len(s.msgs)); err != nil {
		return err
	}
	s.last = epoch
	return nil
}

// send sends the first n buffered messages of epoch and flushes.
func (s *Sink) send(ctx context.Context, epoch uint64, n int) error {
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
		idx := int64(i)
		props := map[string]string{"sluice_epoch": epStr}
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
