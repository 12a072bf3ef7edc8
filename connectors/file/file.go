package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/connectors/format"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// ChunkRows is the most rows one Read returns. Large reads mean few
// watermarks per event, so an updating view downstream applies few
// intermediate changes (each watermark flushes the groups changed since
// the last one); chunkValues bounds the size of a chunk of wide rows.
const ChunkRows = 65536

// chunkValues is the most values (rows times columns) one Read returns,
// unless that is under minChunkRows rows.
const (
	chunkValues  = 1 << 18
	minChunkRows = 1024
)

// chunkRowsFor is the most rows one Read returns for rows of width values.
func chunkRowsFor(width int) int {
	return min(ChunkRows, max(minChunkRows, chunkValues/max(width, 1)))
}

const blockSize = 1 << 20

func init() { connectors.Register(Connector{}) }

// Connector is the file connector.
type Connector struct{}

// Name implements connectors.Connector.
func (Connector) Name() string { return "file" }

// SourceOptions implements connectors.Connector.
func (Connector) SourceOptions() []connectors.OptionSpec {
	return []connectors.OptionSpec{
		{Name: "path", Required: true, Doc: "path of the file to read"},
		{Name: "format", Default: "json", Doc: "json (one object per line) or csv", Valid: connectors.OneOf("json", "csv")},
		{Name: "on_eof", Default: "close", Doc: "close ends the stream at the end of the file; follow waits for appended lines", Valid: connectors.OneOf("close", "follow")},
		{Name: "poll_interval", Default: "100ms", Doc: "how often follow mode looks for new data (at most 100ms is honoured per Read)", Valid: validDuration},
		{Name: "csv_header", Default: "false", Doc: "the first line names the CSV columns", Valid: connectors.OneOf("true", "false")},
		{Name: "csv_delimiter", Default: ",", Doc: "CSV field delimiter (one character, or 'tab')"},
		{Name: "csv_null", Doc: "CSV text that means NULL (default: empty field)"},
		{Name: "json_missing", Default: "error", Doc: "missing fields of NOT NULL columns: error (dead letter) or null", Valid: connectors.OneOf("error", "null")},
		{Name: "idle_timeout", Doc: "engine option: a silent source stops holding back the watermark after this long"},
		{Name: "quiet_advance", Doc: "engine option: when every input is silent this long, event time advances with the wall clock"},
	}
}

// SinkOptions implements connectors.Connector: the file connector is not a sink.
func (Connector) SinkOptions() []connectors.OptionSpec { return nil }

// OpenSink implements connectors.Connector.
func (Connector) OpenSink(context.Context, connectors.SinkSpec) (connectors.Sink, error) {
	return nil, fmt.Errorf("%w: connector \"file\" cannot be used as a sink", connectors.ErrBadOption)
}

func validDuration(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return errors.New("must be a positive duration such as 100ms")
	}
	return nil
}

// OpenSource implements connectors.Connector.
func (c Connector) OpenSource(ctx context.Context, spec connectors.SourceSpec) (connectors.Reader, error) {
	opts, err := connectors.Validate("source", "file", c.SourceOptions(), spec.Options)
	if err != nil {
		return nil, err
	}
	dec, err := format.NewDecoder(opts["format"], spec.Schema, opts)
	if err != nil {
		return nil, fmt.Errorf("open file source: %w", err)
	}
	poll, _ := time.ParseDuration(opts["poll_interval"])
	if poll > 100*time.Millisecond {
		poll = 100 * time.Millisecond
	}
	f, err := os.Open(opts["path"])
	if err != nil {
		return nil, fmt.Errorf("open file source: %w", err)
	}
	r := &Reader{
		f: f, path: opts["path"], dec: dec, follow: opts["on_eof"] == "follow", poll: poll,
		spec: spec, mem: make([]byte, blockSize), chunk: chunk.New(len(spec.Schema), 0), maxRows: chunkRowsFor(len(spec.Schema)),
		now: spec.Now, csvHeader: opts["format"] == "csv" && opts["csv_header"] == "true",
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.buf = r.mem[:0]
	if spec.Position != nil {
		off, err := strconv.ParseInt(string(spec.Position), 10, 64)
		if err != nil || off < 0 {
			f.Close()
			return nil, fmt.Errorf("open file source: bad position %q", spec.Position)
		}
		if r.csvHeader && off > 0 {
			// The header must still be read to learn the column order.
			if err := r.readHeader(); err != nil {
				f.Close()
				return nil, err
			}
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("open file source: seek to %d: %w", off, err)
		}
		r.pos = off
	}
	return r, nil
}

// Reader reads one file. It is used by one goroutine.
type Reader struct {
	f         *os.File
	path      string
	dec       format.Decoder
	follow    bool
	poll      time.Duration
	spec      connectors.SourceSpec
	now       func() time.Time
	csvHeader bool

	mem     []byte // backing array of buf
	buf     []byte // unread bytes
	pos     int64  // offset after the last line consumed
	eof     bool   // the last read hit the end of the file
	done    bool   // close mode: everything returned
	chunk   *chunk.Chunk
	maxRows int // the most rows one Read returns
	lines   int64
	dead    int64
}

func (r *Reader) readHeader() error {
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("open file source: %w", err)
	}
	br := make([]byte, 0, 4096)
	one := make([]byte, 4096)
	for {
		n, err := r.f.Read(one)
		br = append(br, one[:n]...)
		if i := bytes.IndexByte(br, '\n'); i >= 0 {
			br = br[:i]
			break
		}
		if err != nil {
			break
		}
	}
	if err := r.dec.Decode(br, make(types.Row, len(r.spec.Schema))); err != nil && !errors.Is(err, format.ErrSkipRow) {
		return fmt.Errorf("open file source: read csv header: %w", err)
	}
	return nil
}

// fill reads one block after the buffered bytes. It reports whether any
// byte came.
func (r *Reader) fill() (bool, error) {
	if cap(r.buf)-len(r.buf) < blockSize/4 {
		// r.buf is a window at the end of r.mem: move it to the front,
		// growing r.mem when the unread bytes fill half of it (long lines).
		if len(r.buf) > len(r.mem)/2 {
			r.mem = make([]byte, 2*len(r.mem))
		}
		n := copy(r.mem, r.buf)
		r.buf = r.mem[:n]
	}
	n, err := r.f.Read(r.buf[len(r.buf):cap(r.buf)])
	r.buf = r.buf[:len(r.buf)+n]
	if err == io.EOF || (err == nil && n == 0) {
		r.eof = true
		return n > 0, nil
	}
	if err != nil {
		return n > 0, fmt.Errorf("read %s: %w", r.path, err)
	}
	r.eof = false
	return true, nil
}

// Read implements connectors.Reader.
func (r *Reader) Read(ctx context.Context) (*chunk.Chunk, error) {
	return r.read(ctx, r.maxRows)
}

// read reads up to max rows into r.chunk.
func (r *Reader) read(ctx context.Context, max int) (*chunk.Chunk, error) {
	if r.done {
		return nil, io.EOF
	}
	c := r.chunk
	c.Reset()
	c.Partition = 0
	for c.Len() < max {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			if !r.eof || len(r.buf) == 0 {
				got, err := r.fill()
				if err != nil {
					return nil, err
				}
				if got {
					continue
				}
			}
			// At the end of the file.
			if r.follow {
				if len(r.buf) == 0 {
					if err := r.checkTruncated(); err != nil {
						return nil, err
					}
				}
				break
			}
			if len(r.buf) > 0 {
				r.line(r.buf, int64(len(r.buf)))
				r.buf = r.buf[:0]
				continue
			}
			if c.Len() == 0 {
				r.done = true
				return nil, io.EOF
			}
			break
		}
		r.line(r.buf[:i], int64(i+1))
		r.buf = r.buf[i+1:]
	}
	if c.Len() == 0 && r.follow && r.eof {
		r.eof = false // look again next time
		t := time.NewTimer(r.poll)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		return nil, nil
	}
	if r.follow {
		r.eof = false
	}
	if c.Len() >= max {
		c.More = r.ready()
	}
	return c, nil
}

// ready reports whether a line can be read without waiting: one is
// buffered, or the file has more bytes (it reads the next block when the
// buffer holds no complete line, as the next Read would).
func (r *Reader) ready() bool {
	if bytes.IndexByte(r.buf, '\n') >= 0 {
		return true
	}
	if !r.eof {
		if _, err := r.fill(); err != nil {
			return false // the next Read reports the error
		}
		if bytes.IndexByte(r.buf, '\n') >= 0 {
			return true
		}
	}
	// A last line without a newline is a row in close mode.
	return !r.follow && r.eof && len(r.buf) > 0
}

// ReadInto is Read decoding into c (emptied first), a chunk the caller
// owns and may forward without a copy: the source of the engine uses it.
// c must be as wide as the source schema. It returns c, or nil with the
// same errors and end of stream as Read.
func (r *Reader) ReadInto(ctx context.Context, c *chunk.Chunk) (*chunk.Chunk, error) {
	return r.ReadIntoN(ctx, c, r.maxRows)
}

// ReadIntoN is ReadInto returning at most rows rows (at most the reader's
// own limit when rows <= 0). When it stops at that limit with another line
// ready to be read without waiting, it sets c.More: the engine's source
// reads a large batch as several small chunks (which stay in the CPU
// caches and in the chunk pools) and keeps its watermark until the batch
// ends.
func (r *Reader) ReadIntoN(ctx context.Context, c *chunk.Chunk, rows int) (*chunk.Chunk, error) {
	if c.Width != len(r.spec.Schema) {
		return nil, fmt.Errorf("read %s: chunk of %d columns for %d", r.path, c.Width, len(r.spec.Schema))
	}
	if rows <= 0 || rows > r.maxRows {
		rows = r.maxRows
	}
	own := r.chunk
	r.chunk = c
	defer func() { r.chunk = own }()
	return r.read(ctx, rows)
}

// line decodes one line whose consumption advances the offset by n bytes.
func (r *Reader) line(b []byte, n int64) {
	off := r.pos
	r.pos += n
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	if len(b) == 0 || ((b[0] <= ' ' || b[0] >= 0x80) && len(bytes.TrimSpace(b)) == 0) {
		return // a blank line (one starting with neither an ASCII space nor a non-ASCII byte is not)
	}
	r.lines++
	c := r.chunk
	row := c.AppendRow(chunk.Insert, chunk.NoTime) // Decode sets every value
	err := r.dec.Decode(b, row)
	if err == nil {
		return
	}
	c.Truncate(c.Len() - 1)
	if errors.Is(err, format.ErrSkipRow) {
		return
	}
	r.dead++
	if r.spec.DeadLetter != nil {
		r.spec.DeadLetter(connectors.DeadLetter{
			Source: r.spec.Source, Raw: bytes.Clone(b), Reason: err.Error(),
			Partition: 0, Offset: strconv.FormatInt(off, 10), Replayable: true, Time: r.now(),
		})
	}
}

func (r *Reader) checkTruncated() error {
	st, err := r.f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", r.path, err)
	}
	if st.Size() < r.pos {
		return fmt.Errorf("file %s shrank to %d bytes below the read position %d (truncation is not supported)", r.path, st.Size(), r.pos)
	}
	return nil
}

// Partitions implements connectors.Reader: a file is one partition.
func (r *Reader) Partitions() int { return 1 }

// Position implements connectors.Reader: the byte offset after the last
// line returned, as decimal text.
func (r *Reader) Position() ([]byte, error) {
	return strconv.AppendInt(nil, r.pos, 10), nil
}

// Commit implements connectors.Reader; a file needs no acknowledgement.
func (r *Reader) Commit(context.Context, []byte) error { return nil }

// Close implements connectors.Reader.
func (r *Reader) Close() error { return r.f.Close() }

// Progress implements connectors.Progress.
func (r *Reader) Progress() map[string]string {
	size := "unknown"
	if st, err := r.f.Stat(); err == nil {
		size = strconv.FormatInt(st.Size(), 10)
	}
	return map[string]string{
		"bytes_read":   strconv.FormatInt(r.pos, 10),
		"size":         size,
		"end_reached":  strconv.FormatBool(r.done || (r.eof && len(r.buf) == 0)),
		"lines":        strconv.FormatInt(r.lines, 10),
		"dead_letters": strconv.FormatInt(r.dead, 10),
	}
}

// Lag implements connectors.LagReporter: bytes not yet read.
func (r *Reader) Lag(context.Context) ([]connectors.PartitionLag, error) {
	st, err := r.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", r.path, err)
	}
	return []connectors.PartitionLag{{Partition: 0, Name: r.path, Backlog: max(0, st.Size()-r.pos), Unit: "bytes"}}, nil
}
