package pgwire

import (
	"context"
	"time"

	"github.com/sluice-db/sluice/sql/types"
)

// Backend is the database behind the wire: it opens one Session per
// connection. The database package implements it; tests may fake it.
type Backend interface {
	NewSession(ctx context.Context, info SessionInfo) (Session, error)
}

// SessionInfo is what the client said at startup.
type SessionInfo struct {
	User, Database, ApplicationName string
	// Params are the other startup parameters (options, DateStyle, ...).
	Params map[string]string
	// RemoteAddr is the client's address.
	RemoteAddr string
}

// Session executes SQL for one connection. Its methods are called from the
// connection's goroutine only, except that Execute's ctx is cancelled on
// CancelRequest and statement_timeout.
type Session interface {
	// Prepare parses one statement (sql holds exactly one; the simple
	// protocol splits a multi-statement string with sql.Split first) and
	// describes it. paramTypes are the types the client declared (Kind Null
	// where it left one unspecified); the Prepared reports the inferred ones.
	Prepare(ctx context.Context, sql string, paramTypes []types.Type) (Prepared, error)
	// Settings returns the current session parameters that are reported to
	// clients in ParameterStatus (server_version, TimeZone, ...).
	ReportedSettings() map[string]string
	Close() error
}

// StatementKind tells pgwire what a statement means for the protocol.
type StatementKind uint8

// Statement kinds.
const (
	KindOther StatementKind = iota
	KindBegin
	KindCommit
	KindRollback
	KindEmpty // an empty query: EmptyQueryResponse
	// KindCopyOut is COPY (query) TO STDOUT, including COPY (SUBSCRIBE
	// ...) TO STDOUT: pgwire sends the rows of Execute's Result in the COPY
	// text format (CopyOutResponse, one CopyData per row, CopyDone) instead
	// of DataRows, as psql needs to print a subscription as it streams.
	// Columns describes the copied columns. An empty Tag becomes "COPY n".
	KindCopyOut
)

// Prepared is a parsed, described statement.
type Prepared interface {
	Kind() StatementKind
	// Params are the parameter types ($1..$n).
	Params() []types.Type
	// Columns are the result columns; nil for a statement without rows.
	Columns() types.Schema
	// Execute runs the statement with bound parameters.
	Execute(ctx context.Context, params []types.Value) (Result, error)
}

// Result is a running statement's output, pulled row by row so that
// Execute with a row limit can suspend a portal and SUBSCRIBE can stream.
type Result interface {
	// Next returns the next row; (nil, nil) at the end. The row is valid
	// until the next call.
	Next(ctx context.Context) (types.Row, error)
	// Tag is the command tag ("SELECT 3", "CREATE MATERIALIZED VIEW"),
	// valid once Next has returned the end.
	Tag() string
	// Notices are messages to send as NoticeResponse (may be nil).
	Notices() []string
	// SettingsChanged lists session parameters whose reported value the
	// statement changed (SET application_name ...), for ParameterStatus.
	SettingsChanged() map[string]string
	Close() error
}

// StreamResult is an optional interface of a Result whose Next may block
// waiting for new rows (SUBSCRIBE). HasReady reports whether Next would
// return without blocking; pgwire flushes the rows it has sent to the
// client before a call that would block, so streamed rows arrive as they
// are produced. A Result without it is flushed only when it ends or the
// output buffer fills.
type StreamResult interface {
	Result
	HasReady() bool
}

// TimeoutSession is an optional interface of a Session that knows its
// statement_timeout (SET statement_timeout). pgwire cancels a statement's
// ctx when it runs longer. Without it pgwire tracks statement_timeout from
// the startup options and from Result.SettingsChanged.
type TimeoutSession interface {
	Session
	StatementTimeout() time.Duration
}
