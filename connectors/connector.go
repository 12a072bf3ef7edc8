package connectors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// Sentinel errors.
var (
	// ErrUnknownConnector is returned for a connector name nobody registered.
	ErrUnknownConnector = errors.New("unknown connector")
	// ErrUnknownOption is returned for a WITH key the connector does not take.
	ErrUnknownOption = errors.New("unknown option")
	// ErrMissingOption is returned when a required WITH key is absent.
	ErrMissingOption = errors.New("missing required option")
	// ErrBadOption is returned when a WITH value is not valid.
	ErrBadOption = errors.New("invalid option value")
)

// OptionSpec documents one WITH option of a connector.
type OptionSpec struct {
	Name     string
	Required bool
	Default  string
	Doc      string
	// Valid, when set, checks a value; the error names what is allowed.
	Valid func(v string) error
}

// Connector is one kind of external system. A connector may be a source, a
// sink, or both; the Open methods of the role it lacks return an error.
type Connector interface {
	// Name is the value of `connector = '...'`.
	Name() string
	// SourceOptions and SinkOptions list the WITH keys the connector takes
	// in each role (nil: the role is not supported). "connector" itself is
	// implied.
	SourceOptions() []OptionSpec
	SinkOptions() []OptionSpec
	// OpenSource starts reading for one consuming job.
	OpenSource(ctx context.Context, spec SourceSpec) (Reader, error)
	// OpenSink starts writing for one sink.
	OpenSink(ctx context.Context, spec SinkSpec) (Sink, error)
}

// DeadLetter is an input the source could not decode. The engine records it
// in the sluice_dead_letters system table; connectors with a dead-letter
// destination of their own (a Pulsar topic) also write it there.
type DeadLetter struct {
	Source    string
	Raw       []byte
	Reason    string
	Partition int
	// Offset is the connector's position of the input, human-readable
	// (a Pulsar message ID, a file byte offset).
	Offset string
	// Replayable: Partition and Offset identify the input, and reading it
	// again (another job reading the source, or a restart replaying after
	// a checkpoint) reports the same ones: the table keeps it once.
	Replayable bool
	Time       time.Time
}

// SourceSpec is what a reader is opened with.
type SourceSpec struct {
	// Source is the catalog name of the source; Job is the name of the
	// consuming view or sink (Pulsar's default subscription derives from it).
	Source, Job string
	// Schema is the physical columns to decode (generated columns are
	// computed by the engine afterwards).
	Schema  types.Schema
	Options map[string]string
	// Position, when not nil, is a position returned by Reader.Position in
	// an earlier run: reading resumes just after it.
	Position []byte
	// DeadLetter receives undecodable inputs. It must not block for long.
	DeadLetter func(DeadLetter)
	// Now is the clock; connectors never call time.Now for event logic.
	Now func() time.Time
}

// Reader reads one source for one job. A Reader is used by one goroutine.
type Reader interface {
	// Read returns the next chunk of decoded rows; all rows of a chunk come
	// from one partition (chunk.Partition). It waits at most about 100 ms
	// for data and returns (nil, nil) when none came, so that the caller can
	// advance idle and processing-time logic. It returns io.EOF when a
	// bounded source has no more data. Rows have Op Insert and NoTime; the
	// engine assigns event time. The chunk is the caller's until the next
	// call to Read.
	Read(ctx context.Context) (*chunk.Chunk, error)
	// Partitions is the number of partitions seen so far (indexes
	// 0..Partitions()-1); it may grow.
	Partitions() int
	// Position returns an opaque position covering every row Read has
	// returned so far, to be stored in a checkpoint.
	Position() ([]byte, error)
	// Commit tells the source that a checkpoint storing pos is durable, so
	// that it may acknowledge input up to pos.
	Commit(ctx context.Context, pos []byte) error
	Close() error
}

// Discarder is implemented by readers that keep state for their job
// outside Sluice (a Pulsar subscription holds a cursor, and a backlog the
// broker retains for it). When the job is dropped the engine calls Discard
// instead of Close: the reader removes that state and closes. It is not
// called when a job merely stops (shutdown, failure), whose state a restart
// uses again.
type Discarder interface {
	Discard(ctx context.Context) error
}

// SchemaChecker is implemented by connectors that constrain the columns of
// a source they fill by name (datagen): CREATE SOURCE calls CheckSchema with
// the physical columns and the validated options, so that an unknown column
// or an unsuitable type is an error at CREATE rather than at the first view.
type SchemaChecker interface {
	CheckSchema(schema types.Schema, opts map[string]string) error
}

// Rebuilder is implemented by sinks that can replace what they wrote
// before. The engine calls Rebuild before a sink's job starts without a
// checkpoint of its own to restore (a new sink, or a sink reading a view,
// which restarts from the view's restored contents): such a job sends its
// input's whole current contents again. After Rebuild, the first epoch the
// sink commits must supersede every row it wrote before that epoch, so its
// output equals the rebuilt contents plus later changes, with nothing left
// over from before a crash.
type Rebuilder interface {
	Rebuild(ctx context.Context) error
}

// PartitionLag is the consumer lag of one partition.
type PartitionLag struct {
	Partition int
	Name      string // e.g. the partition topic
	// Backlog is how many messages (or bytes, for files) are not yet read.
	Backlog int64
	Unit    string // "messages" or "bytes"
}

// LagReporter is implemented by readers that can report consumer lag.
type LagReporter interface {
	Lag(ctx context.Context) ([]PartitionLag, error)
}

// Progress is implemented by readers with a notion of progress to show in
// the sources system table (bytes read, end reached).
type Progress interface {
	Progress() map[string]string
}

// SinkSpec is what a sink is opened with.
type SinkSpec struct {
	Name       string
	Schema     types.Schema
	Key        []int // primary key columns of the rows (upserts), may be empty
	AppendOnly bool  // the input never retracts
	Options    map[string]string
}

// Sink writes a view's changes to an external system, exactly once per
// checkpoint epoch. A Sink is used by one goroutine.
type Sink interface {
	// Write hands the sink a chunk of changes (Insert and Delete rows) of
	// the current epoch. The sink may buffer or write ahead; the chunk is
	// only valid during the call.
	Write(ctx context.Context, c *chunk.Chunk) error
	// Commit makes every row written since the previous Commit durable as
	// epoch. Epochs increase. After a restart the engine replays from the
	// last checkpoint, so a sink must recognise rows of an epoch it already
	// committed (LastCommitted) and not write them twice.
	Commit(ctx context.Context, epoch uint64) error
	// LastCommitted returns the highest epoch the external system holds
	// (0 if none), read when the sink is opened.
	LastCommitted(ctx context.Context) (uint64, error)
	Close() error
}

var (
	regMu    sync.RWMutex
	registry = map[string]Connector{}
)

// Register adds a connector; a second registration of a name panics (it is
// a programming error, found at init).
func Register(c Connector) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[c.Name()]; dup {
		panic("connectors: duplicate registration of " + c.Name())
	}
	registry[c.Name()] = c
}

// Lookup returns the connector named name.
func Lookup(name string) (Connector, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	c, ok := registry[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownConnector, name, strings.Join(namesLocked(), ", "))
	}
	return c, nil
}

// Names lists the registered connectors, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Validate checks opts against specs: every key known (the error names an
// unknown key and lists the known ones), required keys present, values
// valid. It returns opts with defaults filled in. The key "connector" is
// always accepted.
func Validate(role, connector string, specs []OptionSpec, opts map[string]string) (map[string]string, error) {
	if specs == nil {
		return nil, fmt.Errorf("%w: connector %q cannot be used as a %s", ErrBadOption, connector, role)
	}
	known := map[string]OptionSpec{}
	for _, s := range specs {
		known[s.Name] = s
	}
	out := make(map[string]string, len(opts)+len(specs))
	for k, v := range opts {
		if k == "connector" {
			out[k] = v
			continue
		}
		s, ok := known[k]
		if !ok {
			names := make([]string, 0, len(specs))
			for _, s := range specs {
				names = append(names, s.Name)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("%w %q for %s connector %q (accepted: %s)", ErrUnknownOption, k, role, connector, strings.Join(names, ", "))
		}
		if s.Valid != nil {
			if err := s.Valid(v); err != nil {
				return nil, fmt.Errorf("%w: %s = %q: %v", ErrBadOption, k, v, err)
			}
		}
		out[k] = v
	}
	for _, s := range specs {
		if _, ok := out[s.Name]; ok {
			continue
		}
		if s.Required {
			return nil, fmt.Errorf("%w %q for %s connector %q: %s", ErrMissingOption, s.Name, role, connector, s.Doc)
		}
		if s.Default != "" {
			out[s.Name] = s.Default
		}
	}
	return out, nil
}

// OneOf returns a validator accepting only the listed values.
func OneOf(vals ...string) func(string) error {
	return func(v string) error {
		for _, a := range vals {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(vals, ", "))
	}
}
