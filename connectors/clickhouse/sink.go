package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// Bookkeeping column names.
const (
	EpochColumn   = "_sluice_epoch"
	VersionColumn = "_sluice_version"
	DeletedColumn = "_sluice_deleted"
	SignColumn    = "_sluice_sign"
	// CommitLogSuffix is appended to the table name for the commit log.
	CommitLogSuffix = "__sluice_commits"
)

func init() { connectors.Register(Connector{}) }

// Connector is the ClickHouse connector (sink only).
type Connector struct{}

// Name implements connectors.Connector.
func (Connector) Name() string { return "clickhouse" }

// SourceOptions implements connectors.Connector: ClickHouse is not a source.
func (Connector) SourceOptions() []connectors.OptionSpec { return nil }

// OpenSource implements connectors.Connector.
func (Connector) OpenSource(context.Context, connectors.SourceSpec) (connectors.Reader, error) {
	return nil, fmt.Errorf("%w: connector \"clickhouse\" cannot be used as a source", connectors.ErrBadOption)
}

func validPositive(v string) error {
	if n, err := strconv.Atoi(v); err != nil || n <= 0 {
		return errors.New("must be a positive integer")
	}
	return nil
}

func validDuration(v string) error {
	if d, err := time.ParseDuration(v); err != nil || d <= 0 {
		return errors.New("must be a positive duration such as 1s")
	}
	return nil
}

// SinkOptions implements connectors.Connector.
func (Connector) SinkOptions() []connectors.OptionSpec {
	return []connectors.OptionSpec{
		{Name: "addr", Required: true, Doc: "host:port of the ClickHouse native protocol"},
		{Name: "database", Default: "default", Doc: "database of the table"},
		{Name: "table", Required: true, Doc: "table to write"},
		{Name: "create_table", Default: "false", Doc: "create the table from the view's columns", Valid: connectors.OneOf("true", "false")},
		{Name: "user", Default: "default", Doc: "user name"},
		{Name: "password", Doc: "password"},
		{Name: "batch_size", Default: "100000", Doc: "most rows per INSERT block; a larger epoch is split into equal blocks", Valid: validPositive},
		{Name: "flush_interval", Default: "1s", Doc: "accepted for compatibility: rows are sent when their epoch commits", Valid: validDuration},
		{Name: "retry_timeout", Default: "60s", Doc: "how long a failed insert is retried (a server restarting) before the sink fails", Valid: validDuration},
	}
}

// mode is how the table represents changes.
type mode int

const (
	appendOnly mode = iota // MergeTree, inserts only
	replacing              // ReplacingMergeTree(version) by key, deleted flag
	signed                 // MergeTree with a +1/-1 sign column
)

// Sink writes a view's changes to a ClickHouse table, once per epoch.
type Sink struct {
	// rebuilding is set by Rebuild: the next commit removes older epochs.
	rebuilding bool
	conn       driver.Conn
	db, table  string
	qtable     string // quoted db.table
	qlog       string // quoted commit log
	name       string
	schema     types.Schema
	mode       mode
	batchSize  int
	dt64       bool
	last       uint64
	// notNull marks columns stored without Nullable: the key columns of a
	// ReplacingMergeTree (ClickHouse sorting keys cannot be Nullable); a
	// NULL there is stored as the type's zero value.
	notNull []bool
	// Buffered rows of the open epoch, already in the typed column slices
	// clickhouse-go sends (built at the first Write), plus their ops.
	cols []*column
	ops  []chunk.Op
	// extra holds the bookkeeping columns of one block, reused.
	extra extraCols
	// retry backoff, replaceable in tests, and how long a failed insert
	// is retried (retry_timeout).
	backoff  func(attempt int) time.Duration
	retryFor time.Duration
}

// QuoteIdent quotes a ClickHouse identifier with backticks.
func QuoteIdent(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

// OpenSink implements connectors.Connector.
func (c Connector) OpenSink(ctx context.Context, spec connectors.SinkSpec) (connectors.Sink, error) {
	opts, err := connectors.Validate("sink", "clickhouse", c.SinkOptions(), spec.Options)
	if err != nil {
		return nil, err
	}
	conn, err := ch.Open(&ch.Options{
		Addr:        []string{opts["addr"]},
		Protocol:    ch.Native,
		Auth:        ch.Auth{Database: opts["database"], Username: opts["user"], Password: opts["password"]},
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", opts["addr"], err)
	}
	s := &Sink{
		conn: conn, db: opts["database"], table: opts["table"], name: spec.Name, schema: spec.Schema,
		backoff: func(a int) time.Duration {
			return min(time.Duration(1<<min(a, 10))*200*time.Millisecond, 5*time.Second)
		},
	}
	s.retryFor, _ = time.ParseDuration(opts["retry_timeout"])
	s.batchSize, _ = strconv.Atoi(opts["batch_size"])
	s.qtable = QuoteIdent(s.db) + "." + QuoteIdent(s.table)
	s.qlog = QuoteIdent(s.db) + "." + QuoteIdent(s.table+CommitLogSuffix)
	s.notNull = make([]bool, len(spec.Schema))
	switch {
	case spec.AppendOnly:
		s.mode = appendOnly
	case len(spec.Key) > 0:
		s.mode = replacing
		for _, k := range spec.Key {
			if k >= 0 && k < len(s.notNull) {
				s.notNull[k] = true
			}
		}
	default:
		s.mode = signed
	}
	if err := s.open(ctx, opts["create_table"] == "true", spec.Key); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sink) open(ctx context.Context, create bool, key []int) error {
	v, err := s.conn.ServerVersion()
	if err != nil {
		return fmt.Errorf("clickhouse server version: %w", err)
	}
	s.dt64 = v.Version.Major >= 20
	if create {
		if err := s.conn.Exec(ctx, s.createTableSQL(key)); err != nil {
			return fmt.Errorf("create clickhouse table %s: %w", s.qtable, err)
		}
	}
	if err := s.checkColumns(ctx); err != nil {
		return err
	}
	if err := s.conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+s.qlog+
		" (sink String, epoch UInt64, rows UInt64, committed_at DateTime) ENGINE = MergeTree() ORDER BY (sink, epoch)"); err != nil {
		return fmt.Errorf("create clickhouse commit log %s: %w", s.qlog, err)
	}
	var last uint64
	if err := s.conn.QueryRow(ctx, "SELECT max(epoch) FROM "+s.qlog+" WHERE sink = ?", s.name).Scan(&last); err != nil {
		return fmt.Errorf("read clickhouse commit log %s: %w", s.qlog, err)
	}
	s.last = last
	return s.removeAbove(ctx, last)
}

// removeAbove deletes rows of epochs above epoch (left by an insert that
// did not commit) and waits until the deletion is done.
func (s *Sink) removeAbove(ctx context.Context, epoch uint64) error {
	return s.removeEpochs(ctx, ">", epoch, "uncommitted")
}

// removeEpochs deletes the rows whose epoch compares with epoch by op (">"
// or "<") and waits for the mutation to finish.
func (s *Sink) removeEpochs(ctx context.Context, op string, epoch uint64, what string) error {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.qtable+" WHERE "+EpochColumn+" "+op+" ?", epoch).Scan(&n); err != nil {
		return fmt.Errorf("count %s rows in %s: %w", what, s.qtable, err)
	}
	if n == 0 {
		return nil
	}
	if err := s.conn.Exec(ctx, "ALTER TABLE "+s.qtable+" DELETE WHERE "+EpochColumn+" "+op+" ?", epoch); err != nil {
		return fmt.Errorf("delete %s rows from %s: %w", what, s.qtable, err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var pending uint64
		if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0", s.db, s.table).Scan(&pending); err != nil {
			return fmt.Errorf("wait for the deletion in %s: %w", s.qtable, err)
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("deletion of %s rows in %s still running after 5 minutes", what, s.qtable)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// chType returns the ClickHouse type of column i.
func (s *Sink) chType(i int) string {
	c := s.schema[i]
	var t string
	switch c.Type.Kind {
	case types.Bool:
		t = "UInt8"
	case types.Int16:
		t = "Int16"
	case types.Int32:
		t = "Int32"
	case types.Int64, types.Interval:
		t = "Int64"
	case types.Float32:
		t = "Float32"
	case types.Float64:
		t = "Float64"
	case types.Date:
		t = "Date"
	case types.Timestamp, types.TimestampTZ:
		if s.dt64 {
			t = "DateTime64(6, 'UTC')"
		} else {
			t = "DateTime"
		}
	default: // Text, Numeric, Bytea, JSONB
		t = "String"
	}
	if c.Nullable && !s.notNull[i] {
		return "Nullable(" + t + ")"
	}
	return t
}

func (s *Sink) createTableSQL(key []int) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS ")
	b.WriteString(s.qtable)
	b.WriteString(" (")
	for i, c := range s.schema {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(c.Name) + " " + s.chType(i))
	}
	b.WriteString(", " + EpochColumn + " UInt64")
	switch s.mode {
	case appendOnly:
		b.WriteString(") ENGINE = MergeTree() ORDER BY tuple()")
	case replacing:
		b.WriteString(", " + VersionColumn + " UInt64, " + DeletedColumn + " UInt8) ENGINE = ReplacingMergeTree(" + VersionColumn + ") ORDER BY (")
		for i, k := range key {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(QuoteIdent(s.schema[k].Name))
		}
		b.WriteString(")")
	case signed:
		b.WriteString(", " + SignColumn + " Int8) ENGINE = MergeTree() ORDER BY tuple()")
	}
	return b.String()
}

func (s *Sink) checkColumns(ctx context.Context) error {
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", s.db, s.table)
	if err != nil {
		return fmt.Errorf("read the columns of %s: %w", s.qtable, err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return fmt.Errorf("read the columns of %s: %w", s.qtable, err)
		}
		have[n] = true
	}
	if len(have) == 0 {
		return fmt.Errorf("%w: table %s does not exist (set create_table = 'true' to create it)", connectors.ErrBadOption, s.qtable)
	}
	need := append(s.schema.Names(), s.extraColumns()...)
	var missing []string
	for _, n := range need {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: table %s lacks columns %s (the sink needs %s UInt64 for exactly-once delivery)", connectors.ErrBadOption, s.qtable, strings.Join(missing, ", "), EpochColumn)
	}
	return nil
}

func (s *Sink) extraColumns() []string {
	switch s.mode {
	case replacing:
		return []string{EpochColumn, VersionColumn, DeletedColumn}
	case signed:
		return []string{EpochColumn, SignColumn}
	}
	return []string{EpochColumn}
}

// Write implements connectors.Sink: rows are kept until Commit.
func (s *Sink) Write(_ context.Context, c *chunk.Chunk) error {
	if s.mode == appendOnly {
		for _, op := range c.Ops {
			if op == chunk.Delete {
				return fmt.Errorf("clickhouse sink %s: a retraction reached an append-only sink", s.name)
			}
		}
	}
	if s.cols == nil {
		cols := make([]*column, len(s.schema))
		for i, col := range s.schema {
			var err error
			if cols[i], err = newColumn(col, col.Nullable && !s.notNull[i], s.dt64); err != nil {
				return fmt.Errorf("clickhouse sink %s: %w", s.name, err)
			}
		}
		s.cols = cols
	}
	n, w := c.Len(), c.Width
	if n == 0 {
		return nil
	}
	at := len(s.ops) // every column holds as many rows as ops
	for _, col := range s.cols {
		col.grow(n)
	}
	fillRows(s.cols, at, c.Vals, w, n)
	s.ops = append(s.ops, c.Ops[:n]...)
	return nil
}

// Commit implements connectors.Sink.
func (s *Sink) Commit(ctx context.Context, epoch uint64) error {
	defer s.dropBuffered()
	if epoch <= s.last {
		return nil // a replayed epoch the table already holds
	}
	if uint64(len(s.ops)) >= 1<<24 {
		return fmt.Errorf("clickhouse sink %s: %d rows in one epoch (at most %d)", s.name, len(s.ops), 1<<24-1)
	}
	var err error
	start := time.Now()
	attempt := 0
	for ; ; attempt++ {
		if attempt > 0 {
			if time.Since(start) >= s.retryFor {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(s.backoff(attempt)):
			}
			// The failed attempt may have inserted some blocks, or all
			// of them without its commit log entry: remove them.
			if cerr := s.removeAbove(ctx, s.last); cerr != nil {
				err = fmt.Errorf("remove the rows of the failed attempt: %w", cerr)
				continue
			}
		}
		if err = s.insertEpoch(ctx, epoch); err != nil {
			err = fmt.Errorf("insert: %w", err)
			continue
		}
		if err = s.logCommit(ctx, epoch, uint64(len(s.ops))); err != nil {
			err = fmt.Errorf("log the epoch: %w", err)
			continue
		}
		break
	}
	if err != nil {
		return fmt.Errorf("clickhouse sink %s: commit epoch %d: %d attempts over %s (retry_timeout %s), the last: %w",
			s.name, epoch, attempt, time.Since(start).Round(time.Millisecond), s.retryFor, err)
	}
	s.last = epoch
	if s.rebuilding {
		// The first epoch after a rebuild carries the input's whole contents
		// (or follows an empty one): every older row is superseded. A crash
		// before this finishes rebuilds again, so it is safe to repeat.
		if err := s.removeEpochs(ctx, "<", epoch, "superseded"); err != nil {
			return fmt.Errorf("clickhouse sink %s: replace output before epoch %d: %w", s.name, epoch, err)
		}
		s.rebuilding = false
	}
	return nil
}

// dropBuffered empties the open epoch's buffers, keeping their capacity.
func (s *Sink) dropBuffered() {
	for _, c := range s.cols {
		c.reset()
	}
	s.ops = s.ops[:0]
}

// Rebuild implements connectors.Rebuilder: the next committed epoch
// replaces everything the sink wrote before it.
func (s *Sink) Rebuild(context.Context) error {
	s.rebuilding = true
	return nil
}

func (s *Sink) logCommit(ctx context.Context, epoch, rows uint64) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.qlog+" (sink, epoch, rows, committed_at)")
	if err != nil {
		return err
	}
	if err := b.Append(s.name, epoch, rows, time.Now().UTC().Truncate(time.Second)); err != nil {
		b.Abort()
		return err
	}
	return b.Send()
}

func (s *Sink) insertSQL() string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(s.qtable)
	b.WriteString(" (")
	for i, c := range s.schema {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(c.Name))
	}
	for _, e := range s.extraColumns() {
		b.WriteString(", " + e)
	}
	b.WriteString(")")
	return b.String()
}

// insertEpoch sends the buffered rows in blocks of at most batchSize.
func (s *Sink) insertEpoch(ctx context.Context, epoch uint64) error {
	n := len(s.ops)
	w := len(s.schema)
	q := s.insertSQL()
	// Equal blocks of at most batchSize rows: an epoch of 100 352 rows is
	// two inserts of 50 176, not one of 100 000 and a tiny part of 352.
	size := n
	if n > s.batchSize {
		blocks := (n + s.batchSize - 1) / s.batchSize
		size = (n + blocks - 1) / blocks
	}
	for from := 0; from < n; from += size {
		to := min(n, from+size)
		b, err := s.conn.PrepareBatch(ctx, q)
		if err != nil {
			return err
		}
		for ci, c := range s.schema {
			if err := b.Column(ci).Append(s.cols[ci].block(from, to)); err != nil {
				b.Abort()
				return fmt.Errorf("column %s: %w", c.Name, err)
			}
		}
		extra := s.extra.fill(s.mode, epoch, from, s.ops[from:to])
		for i, e := range extra {
			if err := b.Column(w + i).Append(e); err != nil {
				b.Abort()
				return fmt.Errorf("column %s: %w", s.extraColumns()[i], err)
			}
		}
		if err := b.Send(); err != nil {
			return err
		}
	}
	return nil
}

// LastCommitted implements connectors.Sink.
func (s *Sink) LastCommitted(context.Context) (uint64, error) { return s.last, nil }

// Close implements connectors.Sink.
func (s *Sink) Close() error { return s.conn.Close() }

// extraCols are the bookkeeping columns of a block, reused from block to
// block.
type extraCols struct {
	epoch, ver []uint64
	del        []uint8
	sign       []int8
}

// fill sets the columns for a block of ops starting at row from of the
// epoch and returns them in the order of extraColumns.
func (x *extraCols) fill(m mode, epoch uint64, from int, ops []chunk.Op) []any {
	k := len(ops)
	x.epoch = x.epoch[:0]
	for range k {
		x.epoch = append(x.epoch, epoch)
	}
	switch m {
	case replacing:
		x.ver, x.del = x.ver[:0], x.del[:0]
		for i, op := range ops {
			x.ver = append(x.ver, epoch<<24|uint64(from+i))
			var d uint8
			if op == chunk.Delete {
				d = 1
			}
			x.del = append(x.del, d)
		}
		return []any{x.epoch, x.ver, x.del}
	case signed:
		x.sign = x.sign[:0]
		for _, op := range ops {
			x.sign = append(x.sign, int8(op))
		}
		return []any{x.epoch, x.sign}
	}
	return []any{x.epoch}
}
