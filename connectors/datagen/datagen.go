package datagen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// Name is the connector name.
const Name = "datagen"

// Streams lists the values of the stream option.
var Streams = []string{"clickstream", "person", "auction", "bid"}

type connector struct{}

func init() { connectors.Register(connector{}) }

func (connector) Name() string { return Name }

func validInt(lo int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < lo {
			return fmt.Errorf("must be an integer >= %d", lo)
		}
		return nil
	}
}

func validFloat(lo, hi float64) func(string) error {
	return func(v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < lo || f > hi {
			return fmt.Errorf("must be a number between %g and %g", lo, hi)
		}
		return nil
	}
}

// parseInterval accepts SQL interval text ('5 seconds', '00:00:05') and Go
// durations ('5s', '1m30s').
func parseInterval(v string) (int64, error) {
	us, err := types.ParseInterval(v)
	if err == nil {
		return us, nil
	}
	if d, derr := time.ParseDuration(strings.TrimSpace(v)); derr == nil {
		return d.Microseconds(), nil
	}
	return 0, err
}

func validInterval(v string) error {
	us, err := parseInterval(v)
	if err != nil {
		return err
	}
	if us < 0 {
		return errors.New("must not be negative")
	}
	return nil
}

func validTimestamp(v string) error {
	_, err := types.ParseTimestamp(v)
	return err
}

// SourceOptions lists the WITH options of a datagen source.
func (connector) SourceOptions() []connectors.OptionSpec {
	return []connectors.OptionSpec{
		{Name: "stream", Default: "clickstream", Doc: "what to generate: clickstream, or the Nexmark streams person, auction, bid", Valid: connectors.OneOf(Streams...)},
		{Name: "rate", Default: "100", Doc: "events per second of event time and wall clock (Nexmark: all three kinds together); 0 = as fast as possible on a logical clock", Valid: validFloat(0, 1e9)},
		{Name: "seed", Default: "1", Doc: "random seed: the same seed gives the same events", Valid: validInt(0)},
		{Name: "max_events", Default: "0", Doc: "stop (end of stream) after this many rows; 0 = unbounded", Valid: validInt(0)},
		{Name: "start_time", Doc: "event time of the first event (default: the wall clock when the source first starts, minus backfill)", Valid: validTimestamp},
		{Name: "backfill", Default: "0 seconds", Doc: "start this far in the past and catch up at full speed before following the wall clock", Valid: validInterval},
		{Name: "logical_step", Default: "1 millisecond", Doc: "with rate = 0: event-time distance between consecutive events", Valid: validInterval},
		{Name: "out_of_order", Default: "0 seconds", Doc: "events are up to this much older than their position in the stream (disorder within the watermark delay)", Valid: validInterval},
		{Name: "late_fraction", Default: "0", Doc: "fraction of events (0..1) that arrive late_by behind the others: beyond a short watermark delay, they are late", Valid: validFloat(0, 1)},
		{Name: "late_by", Default: "5 minutes", Doc: "how far late events lag", Valid: validInterval},
		{Name: "users", Default: "10000", Doc: "clickstream: number of distinct users", Valid: validInt(1)},
		{Name: "sessions", Default: "200", Doc: "clickstream: concurrent sessions on the site", Valid: validInt(1)},
		{Name: "batch_size", Default: "1024", Doc: "rows per chunk", Valid: validInt(1)},
		{Name: "idle_timeout", Doc: "engine option: a silent source stops holding back the watermark after this long", Valid: validInterval},
		{Name: "quiet_advance", Doc: "engine option: when every input is silent this long, event time advances with the wall clock", Valid: validInterval},
	}
}

// SinkOptions is nil: datagen is a source only.
func (connector) SinkOptions() []connectors.OptionSpec { return nil }

func (connector) OpenSink(context.Context, connectors.SinkSpec) (connectors.Sink, error) {
	return nil, fmt.Errorf("connector %q cannot be used as a sink", Name)
}

func fieldsOf(stream string) fieldSet {
	switch stream {
	case "person":
		return personFields
	case "auction":
		return auctionFields
	case "bid":
		return bidFields
	}
	return clickFields
}

// Fields returns the column names a stream can fill (canonical names; some
// have aliases, see the package documentation).
func Fields(stream string) []string {
	fs := fieldsOf(stream)
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

// CheckSchema implements connectors.SchemaChecker: every column must be a
// field of the stream, of a type the field converts to.
func (connector) CheckSchema(schema types.Schema, opts map[string]string) error {
	stream := opts["stream"]
	if stream == "" {
		stream = "clickstream"
	}
	_, err := bindColumns(stream, fieldsOf(stream), schema)
	return err
}

// options is the parsed WITH clause.
type options struct {
	stream                      string
	rate                        float64
	seed                        uint64
	maxEvents                   int64
	startTime                   int64 // micros; valid when hasStart
	hasStart                    bool
	backfill, step, ooo, lateBy int64 // micros
	lateFraction                float64
	users                       int64
	sessions                    int
	batch                       int
}

func parseOptions(o map[string]string) (options, error) {
	get := func(k, def string) string {
		if v, ok := o[k]; ok && v != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	var p options
	var err error
	var errs []error
	p.stream = get("stream", "clickstream")
	if p.rate, err = strconv.ParseFloat(get("rate", "100"), 64); err != nil || p.rate < 0 {
		errs = append(errs, fmt.Errorf("rate: %q is not a number >= 0", get("rate", "")))
	}
	seed, err := strconv.ParseUint(get("seed", "1"), 10, 64)
	errs = append(errs, err)
	p.seed = seed
	p.maxEvents, err = strconv.ParseInt(get("max_events", "0"), 10, 64)
	errs = append(errs, err)
	if v := get("start_time", ""); v != "" {
		p.startTime, err = types.ParseTimestamp(v)
		p.hasStart = true
		errs = append(errs, err)
	}
	iv := func(k, def string) int64 {
		us, err := parseInterval(get(k, def))
		errs = append(errs, err)
		return us
	}
	p.backfill = iv("backfill", "0 seconds")
	p.step = iv("logical_step", "1 millisecond")
	p.ooo = iv("out_of_order", "0 seconds")
	p.lateBy = iv("late_by", "5 minutes")
	p.lateFraction, err = strconv.ParseFloat(get("late_fraction", "0"), 64)
	errs = append(errs, err)
	p.users, err = strconv.ParseInt(get("users", "10000"), 10, 64)
	errs = append(errs, err)
	p.sessions, err = strconv.Atoi(get("sessions", "200"))
	errs = append(errs, err)
	p.batch, err = strconv.Atoi(get("batch_size", "1024"))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return p, fmt.Errorf("datagen options: %w", err)
	}
	if p.users < 1 || p.sessions < 1 || p.batch < 1 || p.step < 0 {
		return p, errors.New("datagen options: users, sessions, batch_size must be >= 1")
	}
	return p, nil
}

// position is what Position stores: the next global event number, the
// rows emitted so far and the event time of event 0.
type position struct {
	N       int64 `json:"n"`
	Emitted int64 `json:"emitted"`
	Start   int64 `json:"start_us"`
}

// OpenSource starts a generator. With a Position it resumes exactly after
// the last row of that position: the same rows follow as in a run that
// never stopped.
func (connector) OpenSource(ctx context.Context, spec connectors.SourceSpec) (connectors.Reader, error) {
	opts, err := parseOptions(spec.Options)
	if err != nil {
		return nil, err
	}
	fs := fieldsOf(opts.stream)
	idx, err := bindColumns(opts.stream, fs, spec.Schema)
	if err != nil {
		return nil, err
	}
	now := spec.Now
	if now == nil {
		now = time.Now
	}
	rd := &Reader{
		opts:   opts,
		schema: spec.Schema,
		idx:    idx,
		now:    now,
		buf:    make(types.Row, len(fs)),
		out:    chunk.New(len(spec.Schema), opts.batch),
	}
	rd.jpcg = rand.NewPCG(opts.seed, 0)
	rd.jitter = rand.New(rd.jpcg)
	switch opts.stream {
	case "person":
		rd.nex = newNexmark(kindPerson, opts.seed)
	case "auction":
		rd.nex = newNexmark(kindAuction, opts.seed)
	case "bid":
		rd.nex = newNexmark(kindBid, opts.seed)
	default:
		rd.click = newClickSim(opts.seed, opts.users, opts.sessions)
	}
	if spec.Position != nil {
		var p position
		if err := json.Unmarshal(spec.Position, &p); err != nil {
			return nil, fmt.Errorf("datagen: decode position: %w", err)
		}
		rd.pos = p
		if rd.click != nil {
			// The simulation carries sessions across events: replay it.
			for n := range p.N {
				rd.click.next(n, 0, rd.buf)
			}
		}
	} else {
		switch {
		case opts.hasStart:
			rd.pos.Start = opts.startTime
		default:
			rd.pos.Start = now().UnixMicro() - opts.backfill
		}
	}
	rd.seen.Store(rd.pos.N)
	rd.emitted.Store(rd.pos.Emitted)
	return rd, nil
}

// Reader generates rows; it implements connectors.Reader.
type Reader struct {
	opts   options
	schema types.Schema
	idx    []int
	now    func() time.Time
	buf    types.Row
	out    *chunk.Chunk
	pos    position
	click  *clickSim
	nex    *nexmarkGen
	jpcg   *rand.PCG
	jitter *rand.Rand
	// seen and emitted mirror pos for Progress, which the engine calls
	// from another goroutine.
	seen, emitted atomic.Int64
}

// scheduled returns the undisturbed event time of global event n.
func (rd *Reader) scheduled(n int64) int64 {
	if rd.opts.rate == 0 {
		return rd.pos.Start + n*rd.opts.step
	}
	return rd.pos.Start + int64(float64(n)*1e6/rd.opts.rate)
}

// due returns how many events (global count) are due at the wall clock.
func (rd *Reader) due() int64 {
	if rd.opts.rate == 0 {
		return rd.pos.N + int64(rd.opts.batch)*proportionDenom
	}
	el := rd.now().UnixMicro() - rd.pos.Start
	if el < 0 {
		return 0
	}
	return int64(float64(el)*rd.opts.rate/1e6) + 1
}

// eventTime disturbs the scheduled time of event n: out-of-order jitter and
// late events. The disturbance of event n depends on (seed, n) only.
func (rd *Reader) eventTime(n int64) int64 {
	t := rd.scheduled(n)
	if rd.opts.ooo == 0 && rd.opts.lateFraction == 0 {
		return t
	}
	rd.jpcg.Seed(rd.opts.seed^0x5eed, uint64(n))
	if rd.opts.ooo > 0 {
		t -= rd.jitter.Int64N(rd.opts.ooo + 1)
	}
	if rd.opts.lateFraction > 0 && rd.jitter.Float64() < rd.opts.lateFraction {
		t -= rd.opts.lateBy
	}
	return t
}

// Read implements connectors.Reader. With rate > 0 it returns the rows
// whose scheduled time has come (waiting up to 100 ms for the next one);
// with rate = 0 it returns a full chunk at once.
func (rd *Reader) Read(ctx context.Context) (*chunk.Chunk, error) {
	return rd.readInto(ctx, rd.out, rd.opts.batch)
}

// ReadIntoN is Read generating into c (emptied first), a chunk as wide as
// the schema that the caller owns and may forward without a copy (the
// engine's source uses it), at most rows rows (the batch option when
// rows <= 0 or larger). It returns c, or nil when no event is due yet.
func (rd *Reader) ReadIntoN(ctx context.Context, c *chunk.Chunk, rows int) (*chunk.Chunk, error) {
	if c.Width != len(rd.schema) {
		return nil, fmt.Errorf("datagen: chunk of %d columns for %d", c.Width, len(rd.schema))
	}
	if rows <= 0 || rows > rd.opts.batch {
		rows = rd.opts.batch
	}
	return rd.readInto(ctx, c, rows)
}

func (rd *Reader) readInto(ctx context.Context, c *chunk.Chunk, rows int) (*chunk.Chunk, error) {
	if rd.opts.maxEvents > 0 && rd.pos.Emitted >= rd.opts.maxEvents {
		return nil, io.EOF
	}
	due := rd.due()
	if due <= rd.pos.N {
		wait := time.Duration(rd.scheduled(rd.pos.N)-rd.now().UnixMicro()) * time.Microsecond
		wait = min(max(wait, time.Millisecond), 100*time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		if due = rd.due(); due <= rd.pos.N {
			return nil, nil
		}
	}
	c.Reset()
	c.Partition = 0
	for rd.pos.N < due && c.Len() < rows {
		if rd.opts.maxEvents > 0 && rd.pos.Emitted >= rd.opts.maxEvents {
			break
		}
		n := rd.pos.N
		rd.pos.N++
		if rd.nex != nil {
			if nexmarkKind(n) != rd.nex.kind {
				continue
			}
			rd.nex.fill(n, rd.eventTime(n), rd.buf)
		} else {
			rd.click.next(n, rd.eventTime(n), rd.buf)
		}
		row := c.AppendEmpty(chunk.Insert, chunk.NoTime)
		for i, j := range rd.idx {
			row[i] = convert(rd.buf[j], rd.schema[i].Type)
		}
		rd.pos.Emitted++
	}
	rd.seen.Store(rd.pos.N)
	rd.emitted.Store(rd.pos.Emitted)
	if c.Len() == 0 {
		return nil, nil
	}
	return c, nil
}

// Partitions implements connectors.Reader: a generator is one partition.
func (rd *Reader) Partitions() int { return 1 }

// Position implements connectors.Reader.
func (rd *Reader) Position() ([]byte, error) { return json.Marshal(rd.pos) }

// Commit implements connectors.Reader; a generator has nothing to
// acknowledge.
func (rd *Reader) Commit(context.Context, []byte) error { return nil }

// Close implements connectors.Reader.
func (rd *Reader) Close() error { return nil }

// Progress implements connectors.Progress. It is safe to call while
// another goroutine reads.
func (rd *Reader) Progress() map[string]string {
	n := rd.seen.Load()
	return map[string]string{
		"events":    strconv.FormatInt(n, 10),
		"emitted":   strconv.FormatInt(rd.emitted.Load(), 10),
		"stream":    rd.opts.stream,
		"next_time": time.UnixMicro(rd.scheduled(n)).UTC().Format(time.RFC3339),
	}
}
