// Package clickhouse is the `connector = 'clickhouse'` sink, on
// github.com/ClickHouse/clickhouse-go/v2 over the native protocol (the only
// transport that works with ClickHouse 18.16; inserts always go through
// PrepareBatch with a column list).
//
// Options: addr (host:port of the native protocol), database (default
// "default"), table, create_table 'true'|'false' (default false), user
// (default "default"), password, batch_size (most rows per INSERT block,
// default 100000; a larger epoch goes out as equal blocks, so no tiny
// tail part is made), flush_interval (accepted for compatibility; rows are sent when
// their epoch commits, so the checkpoint interval is what bounds latency),
// retry_timeout (a Go duration, default 60s: how long a failed commit is
// retried before the sink, and so its job, fails).
//
// # Tables
//
// With create_table the table is created from the view's columns plus the
// bookkeeping column _sluice_epoch UInt64: MergeTree ORDER BY tuple() for
// append-only input; for updating input with a key, ReplacingMergeTree
// (_sluice_version) ORDER BY the key columns, with _sluice_version UInt64
// (epoch<<24 | row index: later changes win) and _sluice_deleted UInt8 (1
// for a retraction), the key columns stored without Nullable (sorting keys
// cannot be Nullable; a NULL key is stored as the zero value), read as `SELECT ... FROM t FINAL WHERE _sluice_deleted
// = 0`; for updating input without a key, MergeTree with _sluice_sign Int8
// (+1/-1), read with sum(_sluice_sign). Timestamps are DateTime (seconds,
// floored) on
// servers before 20.1 and DateTime64(6, 'UTC') from 20.1 on; NUMERIC is
// String (exact text), INTERVAL is Int64 microseconds, BOOLEAN UInt8,
// JSONB and BYTEA String. A table created by the user must have the
// _sluice_epoch column (and the version/deleted or sign columns for
// updating input).
//
// # Exactly once
//
// ClickHouse 18.16 has no insert deduplication tokens and no deduplication
// on non-replicated tables, so the sink keeps its own commit log, the table
// <table>__sluice_commits (sink, epoch, rows, committed_at). Write buffers
// the rows of the open epoch in memory; Commit(epoch) inserts them tagged
// with _sluice_epoch = epoch, in blocks of at most batch_size, and then appends
// (sink, epoch) to the commit log. On open, LastCommitted is the highest
// epoch in the log, and rows with a higher _sluice_epoch (an epoch that was
// being inserted when the process died) are removed with ALTER TABLE ...
// DELETE, waiting for the mutation to finish. A replayed epoch at or below
// LastCommitted is dropped. A failed insert or commit-log append is
// cleaned up the same way and retried, 0.4 s apart doubling up to 5 s,
// until retry_timeout: a ClickHouse restart meanwhile holds the epoch (and,
// by back-pressure, the job) instead of failing the sink
// (TestSinkRetriesWhileTheTableIsAway). The sink is a connectors.Rebuilder: when its job
// starts without a checkpoint of its own (a new sink, or a sink reading a
// view, rebuilt from the view's restored contents after a restart), the
// first epoch it commits replaces every older row (ALTER TABLE ... DELETE
// WHERE _sluice_epoch < that epoch, waited for), so rows the replay no
// longer produces (a session whose bounds changed) do not linger. So after
// a crash and restart each result row is in the table once; while an epoch is being inserted a reader can see its
// rows early, which `WHERE _sluice_epoch <= (SELECT max(epoch) FROM
// <table>__sluice_commits)` hides. The same scheme is used on every server
// version (it is correct on all of them); one sink per table.
//
// A Sink is used by one goroutine and holds one connection pool; Close
// releases it. No goroutines of its own.
package clickhouse
