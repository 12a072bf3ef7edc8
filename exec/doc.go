// Package exec is Sluice's event-time streaming engine: it runs the
// physical plans of planner/plan as continuous dataflows and keeps their
// results fresh under disorder and late data.
//
// # What it owns
//
// An Engine holds relations and jobs. A relation is a table or push source
// (rows arrive by Engine.Insert and are kept) or a materialized view (its
// contents are maintained by a job). A job is the dataflow of one view or
// sink: one goroutine per operator (node), connected by bounded channels
// (Config.QueueSize) carrying chunk.Message, so a slow operator or sink
// back-pressures up to the sources and Insert.
//
// Each node calls one hook per message kind on its operator: OnData for
// chunks, OnWatermark when the node's watermark (the minimum over its
// non-idle inputs) advances — the hook returns the watermark to forward —
// and OnBarrier when a barrier has arrived on every input (alignment holds
// the inputs that are ahead). Idle inputs are skipped in the minimum; a
// node whose inputs are all idle forwards Idle.
//
// Source nodes compute generated columns and event times, keep per
// partition watermarks (max event time - delay), combine them as the
// minimum over non-idle partitions, mark a partition idle after
// idle_timeout, and when every source of the job (all of its partitions)
// has been silent for quiet_advance move the watermark on with processing
// time from the job's last row: a join or union whose other input is busy
// keeps waiting for that input's events (or its idle timeout). Rows of one chunk are judged
// in arrival order: a row behind the watermark that earlier rows of its
// chunk established is sent after that watermark, so it is late exactly as
// if it had arrived alone. A reader that decodes into the source's chunks
// (the file connector) hands a large read over as several small chunks
// with chunk.More set on all but the last; the source emits the watermark
// and takes barriers once per such batch (at most 65536 rows), and judges
// the batch's rows as if it were one chunk.
//
// Operators: filter, project, union, window assign, window aggregates
// (tumble, hop with shared panes, cumulate, session with gap, maximum
// duration and merging), updating group aggregates with TTL, Top-N, dedup,
// lookup joins against tables and views, interval joins, and the terminal
// materialize and sink operators. Aggregating operators keep accumulators
// per (window, key), never the rows of a window; hop windows keep one
// accumulator per (pane, key) and merge panes when a window fires. Rows too
// late for a window they belong to (window end + allowed lateness at or
// before the watermark) are counted (ViewStats.Late) and kept in the
// late-events table (Engine.LateEvents), never dropped silently. For
// sessions a row is late when its event time is behind the watermark minus
// the allowed lateness, since a session it would extend may already have
// been emitted; this keeps every emitted session equal to sessionizing the
// on-time rows (tests/oracle checks it).
//
// Updating operators (on-update window aggregates, sessions, GROUP BY)
// gather changed groups and emit one retraction plus one new row per group
// when their input runs dry, before a watermark or barrier, or after
// 32768 changed groups: busy operators emit fewer, larger batches. A chunk
// with chunk.More does not count as the input running dry: the rest of
// its batch is on the way (a node ends every run of such chunks it sends
// with a chunk without More or a control message).
//
// # Time
//
// Processing time comes from Config.Clock; nothing here calls time.Now.
// Tests use FakeClock: idle timeouts, quiet advance and TTLs are evaluated
// on ticker ticks and on every barrier, so Advance followed by Flush is
// deterministic.
//
// # Lifecycle
//
// NewEngine starts a background goroutine that injects a barrier every
// Config.BarrierInterval (sinks commit one epoch per barrier). StartView and
// StartSink start a job's goroutines after its sources attached (snapshot
// plus feed registration, atomically, so a new view backfills every row
// exactly once). Flush injects a barrier at every root and waits until every
// job has acknowledged it. With Config.CheckpointDir each job also runs a
// checkpoint writer goroutine: its view captures changed rows at a barrier
// (every stateful operator encodes its changes there: incSnapshotter;
// an aggregate copies its state for a new base instead, baseLater) and
// the writer encodes, writes and fsyncs them in epoch order; the
// view's acknowledgement, source commits and sink commits wait for it. The
// writer ends with its job. Drop stops one job; Close stops all of them and
// waits for every goroutine. A panic or error inside an operator fails only
// its job (ViewStats.Error) and is logged; so do the jobs that read its
// view, and a query of a failed view answers SQLSTATE 55000 (ViewFailure).
//
// # Profiling
//
// Every node's goroutine (sources included) carries the pprof labels job
// and node (the checkpoint writer's node is "checkpoint writer"), so a CPU
// profile splits by operator: `go tool pprof -tags`
// lists each node's share, `-tagfocus node=materialize` keeps one. The
// samples without labels are the runtime's (mostly garbage collection). A
// node that runs inline on its upstream's goroutine (the shuffle in front
// of parallel copies, node.inline) counts as its upstream.
package exec
