// Package pgwire is Sluice's Postgres wire protocol (v3.0) endpoint, built
// on github.com/jackc/pgx/v5/pgproto3. psql, pgx, lib/pq, JDBC and BI
// tools connect to it unmodified.
//
// It owns the protocol, not the SQL: a Backend (backend.go, implemented
// by the database) opens a Session per connection, and the session
// prepares statements and runs them. pgwire owns startup (SSLRequest with
// TLS when configured, GSSENC refused, protocol negotiation), trust,
// cleartext and SCRAM-SHA-256 authentication, ParameterStatus,
// BackendKeyData and CancelRequest, the simple and extended query
// protocols (statements, portals, row limits and PortalSuspended), text
// and binary encodings of every supported type (timestamptz text is
// written and read in the session's TimeZone, tracked from the settings a
// statement changes; its binary form is UTC microseconds, as in Postgres), ErrorResponse with the
// SQLSTATE of a *sqlerr.Error, the transaction status of ReadyForQuery
// (BEGIN/COMMIT/ROLLBACK as reported by Prepared.Kind; an error inside a
// block fails it with 25P02 until ROLLBACK), statement_timeout, COPY
// (query) TO STDOUT (KindCopyOut) and streaming results (SUBSCRIBE: rows
// are flushed as they arrive, see StreamResult; a Result without HasReady
// is flushed by a timer goroutine while it blocks in Next).
//
// pgwire owns the transaction status it reports: it sends Postgres'
// warnings for BEGIN inside a block and COMMIT/ROLLBACK outside one, and
// answers COMMIT of a failed block with ROLLBACK; a Session only does the
// work of those statements.
//
// Goroutines and lifecycle: Serve runs an accept loop; each connection
// gets one goroutine that performs startup and then runs the session
// state machine (one message at a time, in order). While idle it
// receives messages itself (no goroutine hand-off per message, which
// matters for point lookups); once a statement has run for 10 ms a
// watcher goroutine (started by a timer) receives and copies the client's
// messages for the state machine, so that a client that disconnects
// cancels the ctx of the statement running at that moment; the watcher is
// stopped with a read deadline when the statement ends. A statement's ctx is also
// cancelled by CancelRequest (57014), by statement_timeout (57014) and by
// Shutdown (57P01). Panics in a statement are recovered and reported as
// XX000; a bad statement never closes the connection. Shutdown closes the
// listeners, cancels every connection and waits for their goroutines.
package pgwire
