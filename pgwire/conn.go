package pgwire

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// SQLSTATE codes pgwire sends that sqlerr does not name.
const (
	codeInvalidBinaryRepresentation = "22P03"
	codeTooManyConnections          = "53300"
	codeAdminShutdown               = "57P01"
	codeDuplicatePreparedStatement  = "42P05"
	codeDuplicateCursor             = "42P03"
	codeActiveSQLTransaction        = "25001"
	codeNoActiveSQLTransaction      = "25P01"
	codeInvalidCatalogName          = "3D000"
)

// Causes of a cancelled statement or connection.
var (
	errAdminShutdown    = errors.New("terminating connection due to administrator command")
	errQueryCanceled    = errors.New("canceling statement due to user request")
	errStatementTimeout = errors.New("canceling statement due to statement timeout")
	errClientGone       = errors.New("client closed the connection")
	errHandled          = errors.New("connection handled")
)

// Transaction status bytes of ReadyForQuery.
const (
	txIdle   = 'I'
	txBlock  = 'T'
	txFailed = 'E'
)

// flushThreshold is how many bytes of rows are buffered before a flush.
const flushThreshold = 64 << 10

// stmt is a prepared statement of the extended protocol.
type stmt struct {
	prep      Prepared
	paramOIDs []uint32
	text      string
}

// portal is a bound statement, possibly part-way through its rows.
type portal struct {
	text    string // the statement, for pg_stat_activity
	prep    Prepared
	params  []types.Value
	cols    types.Schema
	formats []int16 // one per column
	res     Result
	ctx     context.Context
	cancel  context.CancelCauseFunc
	done    bool
	tag     string
	// describe sends RowDescription once the statement has started (the
	// simple protocol), so that an error while planning comes first, as
	// in Postgres.
	describe bool
	// resumed is set once an Execute stopped at its row limit; the
	// completing Execute's SELECT tag then counts only its own rows.
	resumed bool
}

func (p *portal) close() {
	if p.res != nil {
		_ = p.res.Close()
		p.res = nil
	}
	if p.cancel != nil {
		p.cancel(context.Canceled)
	}
}

// conn is one client connection. Its goroutine (serveConn) runs the
// session state machine and receives messages; while a statement runs
// longer than watchDelay, a watcher goroutine receives them instead so
// that a disconnect cancels the statement.
type conn struct {
	srv    *Server
	nc     net.Conn
	be     *pgproto3.Backend
	pid    uint32
	secret [4]byte
	sess   Session
	info   SessionInfo

	ctx  context.Context
	stop context.CancelCauseFunc

	runMu     sync.Mutex
	runCancel context.CancelCauseFunc
	// Activity for pg_stat_activity, guarded by runMu.
	started    time.Time
	query      string
	queryStart time.Time
	state      string

	// wmu serialises writes to be between the connection goroutine and a
	// background flush (see backgroundFlush).
	wmu sync.Mutex

	// The watcher (see watch): watchMu guards armed, watchDone and queued.
	watchMu    sync.Mutex
	watchTimer *time.Timer // runs watch; created by the first armWatch
	armed      bool        // a statement is executing
	watchDone  chan struct{}
	queued     []received

	// loc is the session's TimeZone for timestamptz text (nil: UTC).
	loc *time.Location

	tx             byte
	stmts          map[string]*stmt
	portals        map[string]*portal
	timeout        time.Duration
	pending        map[string]string
	ignoreTillSync bool
	out            int
	writeErr       error

	dataRow pgproto3.DataRow // reused: Send encodes it at once
	// The last RowDescription sent and what it describes (describeRows).
	lastRD      *pgproto3.RowDescription
	lastCols    types.Schema
	lastFormats []int16
	rowBuf      []byte
	rowEnds     []int
	rowVals     [][]byte
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	s.metrics.connsTotal.Inc()
	c := &conn{
		srv:     s,
		nc:      nc,
		tx:      txIdle,
		stmts:   map[string]*stmt{},
		portals: map[string]*portal{},
		pending: map[string]string{},
		rowBuf:  make([]byte, 0, 512),
	}
	c.ctx, c.stop = context.WithCancelCause(ctx)
	defer func() {
		c.stop(errHandled)
		_ = c.nc.Close()
	}()
	_ = nc.SetDeadline(time.Now().Add(time.Minute))
	if err := c.startup(); err != nil {
		if !errors.Is(err, errHandled) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			s.log.Debug("pgwire: startup failed", "remote", nc.RemoteAddr(), "err", err)
		}
		return
	}
	_ = c.nc.SetDeadline(time.Time{})
	s.metrics.conns.Inc()
	defer func() {
		s.metrics.conns.Dec()
		s.active.Add(-1)
		s.unregister(c)
		for _, p := range c.portals {
			p.close()
		}
		if err := c.sess.Close(); err != nil {
			s.log.Debug("pgwire: close session", "err", err)
		}
	}()
	c.run()
}

// readStartup reads one startup-phase packet straight from r, so that no
// bytes after an SSLRequest are buffered before the TLS handshake.
func readStartup(r io.Reader) (pgproto3.FrontendMessage, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read startup packet: %w", err)
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:]))) - 4
	if n < 4 || n > 10000 {
		return nil, fmt.Errorf("invalid length of startup packet: %d", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("read startup packet: %w", err)
	}
	var msg pgproto3.FrontendMessage
	switch code := binary.BigEndian.Uint32(buf); {
	case code == 80877103:
		msg = &pgproto3.SSLRequest{}
	case code == 80877104:
		msg = &pgproto3.GSSEncRequest{}
	case code == 80877102:
		msg = &pgproto3.CancelRequest{}
	case code>>16 == 3:
		// Any 3.x: decode 3.0's layout and negotiate the minor version.
		binary.BigEndian.PutUint32(buf, pgproto3.ProtocolVersion30)
		m := &pgproto3.StartupMessage{}
		if err := m.Decode(buf); err != nil {
			return nil, fmt.Errorf("decode startup message: %w", err)
		}
		m.ProtocolVersion = code
		return m, nil
	default:
		return nil, &sqlerr.Error{Code: sqlerr.FeatureNotSupported,
			Message: fmt.Sprintf("unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", code>>16, code&0xffff)}
	}
	if err := msg.Decode(buf); err != nil {
		return nil, fmt.Errorf("decode startup packet: %w", err)
	}
	return msg, nil
}

// startup runs the startup phase: TLS negotiation, authentication and the
// messages that end in the first ReadyForQuery.
func (c *conn) startup() error {
	s := c.srv
	var sm *pgproto3.StartupMessage
	for sm == nil {
		msg, err := readStartup(c.nc)
		if err != nil {
			var se *sqlerr.Error
			if errors.As(err, &se) {
				c.be = pgproto3.NewBackend(c.nc, c.nc)
				c.fatal(se)
			}
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			_, isTLS := c.nc.(*tls.Conn)
			if s.cfg.TLSConfig == nil || isTLS {
				if _, err := c.nc.Write([]byte{'N'}); err != nil {
					return fmt.Errorf("refuse ssl: %w", err)
				}
				continue
			}
			if _, err := c.nc.Write([]byte{'S'}); err != nil {
				return fmt.Errorf("accept ssl: %w", err)
			}
			tc := tls.Server(c.nc, s.cfg.TLSConfig)
			if err := tc.Handshake(); err != nil {
				return fmt.Errorf("tls handshake: %w", err)
			}
			c.nc = tc
		case *pgproto3.GSSEncRequest:
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return fmt.Errorf("refuse gssenc: %w", err)
			}
		case *pgproto3.CancelRequest:
			s.cancel(m.ProcessID, m.SecretKey)
			return errHandled
		case *pgproto3.StartupMessage:
			sm = m
		}
	}
	c.be = pgproto3.NewBackend(c.nc, c.nc)
	c.be.SetMaxBodyLen(s.cfg.MaxMessageSize)

	params := map[string]string{}
	var unrecognized []string
	for k, v := range sm.Parameters {
		if strings.HasPrefix(k, "_pq_.") {
			unrecognized = append(unrecognized, k)
			continue
		}
		params[k] = v
	}
	if sm.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unrecognized) > 0 {
		sort.Strings(unrecognized)
		c.be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unrecognized})
	}
	user := params["user"]
	if user == "" {
		c.fatal(&sqlerr.Error{Code: sqlerr.InvalidAuthorization, Message: "no PostgreSQL user name specified in startup packet"})
		return errHandled
	}
	c.info = SessionInfo{
		User:            user,
		Database:        params["database"],
		ApplicationName: params["application_name"],
		Params:          map[string]string{},
		RemoteAddr:      c.nc.RemoteAddr().String(),
	}
	if c.info.Database == "" {
		c.info.Database = user
	}
	for k, v := range params {
		switch k {
		case "user", "database", "application_name":
		default:
			c.info.Params[k] = v
		}
	}
	c.timeout = startupTimeout(params)

	if err := c.authenticate(); err != nil {
		return err
	}
	if max := s.cfg.MaxConnections; max > 0 && s.active.Load() >= int64(max) {
		c.fatal(&sqlerr.Error{Code: codeTooManyConnections, Message: "sorry, too many clients already"})
		return errHandled
	}
	s.active.Add(1)
	if err := s.register(c); err != nil {
		s.active.Add(-1)
		c.fatal(&sqlerr.Error{Code: codeAdminShutdown, Message: err.Error()})
		return errHandled
	}
	sess, err := s.backend.NewSession(c.ctx, c.info)
	if err != nil {
		s.active.Add(-1)
		s.unregister(c)
		c.fatal(toSQLError(err))
		return errHandled
	}
	c.sess = sess
	c.be.Send(&pgproto3.AuthenticationOk{})
	for _, kv := range c.startupParams() {
		c.be.Send(&pgproto3.ParameterStatus{Name: kv[0], Value: kv[1]})
	}
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret[:]})
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: txIdle})
	if err := c.be.Flush(); err != nil {
		s.active.Add(-1)
		s.unregister(c)
		_ = sess.Close()
		return fmt.Errorf("send startup response: %w", err)
	}
	return nil
}

// reportedOrder is the order in which Postgres 15 reports parameters.
var reportedOrder = []string{
	"application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
	"in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser", "server_encoding",
	"server_version", "session_authorization", "standard_conforming_strings", "TimeZone",
}

// startupParams returns the ParameterStatus pairs of the startup phase: the
// defaults overlaid with the session's reported settings.
func (c *conn) startupParams() [][2]string {
	vals := map[string]string{
		"application_name":              c.info.ApplicationName,
		"client_encoding":               "UTF8",
		"DateStyle":                     "ISO, MDY",
		"default_transaction_read_only": "off",
		"in_hot_standby":                "off",
		"integer_datetimes":             "on",
		"IntervalStyle":                 "postgres",
		"is_superuser":                  "on",
		"server_encoding":               "UTF8",
		"server_version":                c.srv.cfg.ServerVersion,
		"session_authorization":         c.info.User,
		"standard_conforming_strings":   "on",
		"TimeZone":                      "UTC",
	}
	for k, v := range c.sess.ReportedSettings() {
		if k == "statement_timeout" {
			continue
		}
		vals[canonicalParam(k)] = v
	}
	c.setTimeZone(vals["TimeZone"])
	out := make([][2]string, 0, len(vals))
	seen := map[string]bool{}
	for _, k := range reportedOrder {
		out = append(out, [2]string{k, vals[k]})
		seen[k] = true
	}
	var extra []string
	for k := range vals {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		out = append(out, [2]string{k, vals[k]})
	}
	return out
}

// setTimeZone makes timestamptz text use the session's TimeZone (an IANA
// name, as the session accepts it); UTC, or a name Go's time package
// does not know, keeps UTC.
func (c *conn) setTimeZone(name string) {
	c.loc = nil
	if name == "" || strings.EqualFold(name, "UTC") {
		return
	}
	if loc, err := time.LoadLocation(name); err == nil && loc != time.UTC {
		c.loc = loc
	}
}

// canonicalParam spells a parameter name as Postgres reports it.
func canonicalParam(k string) string {
	for _, r := range reportedOrder {
		if strings.EqualFold(r, k) {
			return r
		}
	}
	return k
}

// startupTimeout reads statement_timeout from the startup parameters
// (pgx's RuntimeParams) or from options=-c statement_timeout=....
func startupTimeout(params map[string]string) time.Duration {
	if v, ok := params["statement_timeout"]; ok {
		d, _ := parseTimeout(v)
		return d
	}
	fields := strings.Fields(params["options"])
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		switch {
		case f == "-c" && i+1 < len(fields):
			i++
			f = fields[i]
		case strings.HasPrefix(f, "-c"):
			f = f[2:]
		case strings.HasPrefix(f, "--"):
			f = f[2:]
		default:
			continue
		}
		if k, v, ok := strings.Cut(f, "="); ok && strings.ReplaceAll(k, "-", "_") == "statement_timeout" {
			d, _ := parseTimeout(v)
			return d
		}
	}
	return 0
}

// parseTimeout parses a statement_timeout value: milliseconds by default,
// or a number with a unit (ms, s, min, h, d) as Postgres accepts.
func parseTimeout(v string) (time.Duration, error) {
	v = strings.Trim(strings.TrimSpace(v), `'"`)
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(v[:i], 64)
	if err != nil {
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for parameter \"statement_timeout\": %q", v)
	}
	unit := time.Millisecond
	switch strings.ToLower(strings.TrimSpace(v[i:])) {
	case "", "ms":
	case "us":
		unit = time.Microsecond
	case "s":
		unit = time.Second
	case "min":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for parameter \"statement_timeout\": %q", v)
	}
	return time.Duration(n * float64(unit)), nil
}

// fatal sends a FATAL error; the caller then closes the connection.
func (c *conn) fatal(e *sqlerr.Error) {
	c.be.Send(&pgproto3.ErrorResponse{
		Severity: "FATAL", SeverityUnlocalized: "FATAL",
		Code: e.Code, Message: e.Message, Detail: e.Detail, Hint: e.Hint,
	})
	_ = c.be.Flush()
}

// terminate ends the connection from another goroutine (Shutdown).
func (c *conn) terminate(cause error) { c.stop(cause) }

// setActivity records what the connection does: a statement starting
// (query set, tx 0) or the connection waiting with transaction status tx.
func (c *conn) setActivity(query string, tx byte) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	switch tx {
	case 0:
		c.query, c.queryStart, c.state = query, time.Now(), "active"
	case txBlock:
		c.state = "idle in transaction"
	case txFailed:
		c.state = "idle in transaction (aborted)"
	default:
		c.state = "idle"
	}
}

// cancelRunning cancels the statement running now, if any.
func (c *conn) cancelRunning(cause error) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if c.runCancel != nil {
		c.runCancel(cause)
	}
}

func (c *conn) setRunning(cancel context.CancelCauseFunc) {
	c.runMu.Lock()
	c.runCancel = cancel
	c.runMu.Unlock()
}

// run is the session state machine: it handles messages until the client
// terminates or the connection ends. While no statement runs it receives
// messages itself (no hand-off to another goroutine per message); while a
// statement runs for longer than watchDelay a watcher receives them (see
// watch), so that a client that disconnects cancels the statement.
func (c *conn) run() {
	stopRead := context.AfterFunc(c.ctx, func() { _ = c.nc.SetReadDeadline(aLongTimeAgo) })
	defer stopRead()
	for {
		if c.ctx.Err() != nil {
			c.ended()
			return
		}
		m, err := c.next()
		if err == nil {
			err = checkMessage(m)
		}
		if err != nil {
			var tooBig *pgproto3.ExceededMaxBodyLenErr
			if c.ctx.Err() == nil && (errors.As(err, &tooBig) || !isNetErr(err)) {
				// A malformed message: Postgres answers FATAL 08P01 and
				// closes.
				c.handle(&protocolError{err: err})
				return
			}
			c.ended()
			return
		}
		if !c.handle(m) {
			return
		}
		if c.writeErr != nil {
			return
		}
	}
}

// ended tells the client why the connection ends when Shutdown ended it.
func (c *conn) ended() {
	if errors.Is(context.Cause(c.ctx), errAdminShutdown) {
		c.fatal(&sqlerr.Error{Code: codeAdminShutdown, Message: errAdminShutdown.Error()})
	}
}

// aLongTimeAgo is a read deadline that makes a blocked Receive return.
var aLongTimeAgo = time.Unix(1, 0)

// watchDelay is how long a statement runs before a watcher starts
// receiving the client's messages (to notice a disconnect).
const watchDelay = 10 * time.Millisecond

// received is a message (or receive error) the watcher read for run.
type received struct {
	m   pgproto3.FrontendMessage
	err error
}

// next returns the next message: one the watcher received first, or one
// received now. The message is valid until the next call.
func (c *conn) next() (pgproto3.FrontendMessage, error) {
	c.watchMu.Lock()
	if len(c.queued) > 0 {
		r := c.queued[0]
		c.queued[0] = received{}
		c.queued = c.queued[1:]
		c.watchMu.Unlock()
		return r.m, r.err
	}
	c.watchMu.Unlock()
	return c.be.Receive()
}

// armWatch is called when a statement starts executing: after watchDelay
// a watcher receives messages until disarmWatch.
func (c *conn) armWatch() {
	c.watchMu.Lock()
	c.armed = true
	c.watchMu.Unlock()
	if c.watchTimer == nil {
		c.watchTimer = time.AfterFunc(watchDelay, c.watch)
	} else {
		c.watchTimer.Reset(watchDelay)
	}
}

// disarmWatch is called when the statement ends: it stops the watcher, if
// one started, and waits for it, so that only run receives afterwards.
func (c *conn) disarmWatch() {
	c.watchTimer.Stop()
	c.watchMu.Lock()
	c.armed = false
	done := c.watchDone
	c.watchMu.Unlock()
	if done == nil {
		return
	}
	_ = c.nc.SetReadDeadline(aLongTimeAgo)
	<-done
	_ = c.nc.SetReadDeadline(time.Time{}) // run checks c.ctx before it receives: a Shutdown is not lost
	c.watchMu.Lock()
	c.watchDone = nil
	c.watchMu.Unlock()
}

// watch runs on the timer's goroutine while a statement runs: it receives
// messages for run (at most 8, as a client may pipeline), cancels the
// statement when the client disconnects or sends garbage, and returns when
// disarmWatch makes its Receive time out.
func (c *conn) watch() {
	c.watchMu.Lock()
	if !c.armed || c.watchDone != nil {
		c.watchMu.Unlock()
		return
	}
	done := make(chan struct{})
	c.watchDone = done
	stopping := func() bool { return !c.armed }
	c.watchMu.Unlock()
	defer close(done)
	for {
		m, err := c.be.Receive()
		if err == nil {
			m, err = copyMessage(m)
		}
		c.watchMu.Lock()
		if err != nil && (stopping() || c.ctx.Err() != nil) && isTimeout(err) {
			c.watchMu.Unlock()
			return // disarmWatch or Shutdown: the partial message stays buffered in be
		}
		c.queued = append(c.queued, received{m: m, err: err})
		full := len(c.queued) >= 8
		c.watchMu.Unlock()
		if err != nil {
			var tooBig *pgproto3.ExceededMaxBodyLenErr
			if errors.As(err, &tooBig) || !isNetErr(err) {
				c.cancelRunning(errClientGone) // the stream is unusable: end what runs
			} else {
				c.stop(errClientGone)
			}
			return
		}
		if _, ok := m.(*pgproto3.Terminate); ok || full {
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// protocolError carries a receive error from readLoop to run.
type protocolError struct{ err error }

func (*protocolError) Frontend()                       {}
func (*protocolError) Decode([]byte) error             { return nil }
func (*protocolError) Encode(b []byte) ([]byte, error) { return b, nil }
func (p *protocolError) Error() string                 { return p.err.Error() }
func (p *protocolError) Unwrap() error                 { return p.err }
func (*protocolError) MarshalJSON() ([]byte, error)    { return []byte("{}"), nil }

// checkMessage rejects message types a client may not send after startup.
func checkMessage(m pgproto3.FrontendMessage) error {
	switch m.(type) {
	case *protocolError, *pgproto3.Query, *pgproto3.Parse, *pgproto3.Bind, *pgproto3.Describe, *pgproto3.Execute,
		*pgproto3.Close, *pgproto3.Sync, *pgproto3.Flush, *pgproto3.Terminate, *pgproto3.FunctionCall,
		*pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		return nil
	}
	return fmt.Errorf("unexpected message %T", m)
}

// copyMessage returns a copy of m that does not share the receive buffer
// (pgproto3's messages are valid only until the next Receive).
func copyMessage(m pgproto3.FrontendMessage) (pgproto3.FrontendMessage, error) {
	var fresh pgproto3.FrontendMessage
	switch m.(type) {
	case *pgproto3.Query:
		fresh = &pgproto3.Query{}
	case *pgproto3.Parse:
		fresh = &pgproto3.Parse{}
	case *pgproto3.Bind:
		fresh = &pgproto3.Bind{}
	case *pgproto3.Describe:
		fresh = &pgproto3.Describe{}
	case *pgproto3.Execute:
		fresh = &pgproto3.Execute{}
	case *pgproto3.Close:
		fresh = &pgproto3.Close{}
	case *pgproto3.Sync:
		return &pgproto3.Sync{}, nil
	case *pgproto3.Flush:
		return &pgproto3.Flush{}, nil
	case *pgproto3.Terminate:
		return &pgproto3.Terminate{}, nil
	case *pgproto3.FunctionCall:
		return &pgproto3.FunctionCall{}, nil
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		return &pgproto3.CopyDone{}, nil
	default:
		return nil, fmt.Errorf("unexpected message %T", m)
	}
	b, err := m.Encode(nil)
	if err != nil {
		return nil, fmt.Errorf("copy %T: %w", m, err)
	}
	if err := fresh.Decode(b[5:]); err != nil {
		return nil, fmt.Errorf("copy %T: %w", m, err)
	}
	return fresh, nil
}

// handle processes one message; false ends the connection.
func (c *conn) handle(m pgproto3.FrontendMessage) bool {
	switch m := m.(type) {
	case *protocolError:
		c.fatal(&sqlerr.Error{Code: sqlerr.ProtocolViolation, Message: "invalid frontend message: " + m.Error()})
		return false
	case *pgproto3.Terminate:
		return false
	case *pgproto3.Query:
		if c.ignoreTillSync {
			return true // Postgres skips everything but Sync after an extended-protocol error
		}
		c.simpleQuery(m.String)
	case *pgproto3.Sync:
		c.ignoreTillSync = false
		if c.tx == txIdle {
			c.closePortals()
		}
		c.readyForQuery()
	case *pgproto3.Flush:
		c.flush()
	case *pgproto3.FunctionCall:
		c.sendError(sqlerr.New(sqlerr.FeatureNotSupported, "function call messages are not supported"), 0)
		c.readyForQuery()
	case *pgproto3.CopyDone:
		// Copy messages outside COPY are ignored, as Postgres does.
	default:
		if c.ignoreTillSync {
			return true
		}
		var err error
		switch m := m.(type) {
		case *pgproto3.Parse:
			err = c.parse(m)
		case *pgproto3.Bind:
			err = c.bind(m)
		case *pgproto3.Describe:
			err = c.describe(m)
		case *pgproto3.Execute:
			err = c.executeMsg(m)
		case *pgproto3.Close:
			err = c.closeMsg(m)
		}
		if err != nil {
			c.sendError(err, 0)
			c.ignoreTillSync = true
			if c.tx == txBlock {
				c.tx = txFailed
			}
		}
	}
	return true
}

func (c *conn) flush() {
	c.out = 0
	if c.writeErr != nil {
		return
	}
	if err := c.be.Flush(); err != nil {
		c.writeErr = err
		c.stop(errClientGone)
	}
}

func (c *conn) readyForQuery() {
	c.setActivity("", c.tx)
	if len(c.pending) > 0 {
		keys := make([]string, 0, len(c.pending))
		for k := range c.pending {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c.be.Send(&pgproto3.ParameterStatus{Name: k, Value: c.pending[k]})
		}
		clear(c.pending)
	}
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.tx})
	c.flush()
}

func (c *conn) closePortals() {
	for name, p := range c.portals {
		p.close()
		delete(c.portals, name)
	}
}

// toSQLError gives err a SQLSTATE.
func toSQLError(err error) *sqlerr.Error {
	var e *sqlerr.Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, types.ErrBadValue):
		return &sqlerr.Error{Code: sqlerr.InvalidTextRep, Message: strings.TrimPrefix(err.Error(), types.ErrBadValue.Error()+": "), Err: err}
	case errors.Is(err, context.Canceled):
		return &sqlerr.Error{Code: sqlerr.QueryCanceled, Message: errQueryCanceled.Error(), Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &sqlerr.Error{Code: sqlerr.QueryCanceled, Message: errStatementTimeout.Error(), Err: err}
	}
	return &sqlerr.Error{Code: sqlerr.Internal, Message: err.Error(), Err: err}
}

// whereError adds the context line (ErrorResponse's Where) to an error.
type whereError struct {
	e     *sqlerr.Error
	where string
}

func (w *whereError) Error() string { return w.e.Error() }
func (w *whereError) Unwrap() error { return w.e }

// sendError sends an ErrorResponse; offset shifts the error position to
// the statement's place in a multi-statement query.
func (c *conn) sendError(err error, offset int) {
	e := toSQLError(err)
	var where string
	var we *whereError
	if errors.As(err, &we) {
		where = we.where
	}
	pos := int32(0)
	if e.Position > 0 {
		pos = int32(e.Position + offset)
	}
	c.be.Send(&pgproto3.ErrorResponse{
		Severity: "ERROR", SeverityUnlocalized: "ERROR",
		Code: e.Code, Message: e.Message, Detail: e.Detail, Hint: e.Hint, Position: pos, Where: where,
	})
	class := "XX"
	if len(e.Code) >= 2 {
		class = e.Code[:2]
	}
	c.srv.metrics.errs.WithLabelValues(class).Inc()
}

func (c *conn) sendNotice(severity, code, msg string) {
	c.be.Send(&pgproto3.NoticeResponse{Severity: severity, SeverityUnlocalized: severity, Code: code, Message: msg})
}

// safely runs fn, turning a panic into an internal error: one bad
// statement never takes the connection down.
func (c *conn) safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.log.Error("pgwire: panic in statement", "panic", r, "stack", string(debug.Stack()))
			err = sqlerr.New(sqlerr.Internal, "internal error: %v", r)
		}
	}()
	return fn()
}

func (c *conn) prepare(text string, paramTypes []types.Type) (Prepared, error) {
	var p Prepared
	err := c.safely(func() error {
		var err error
		p, err = c.sess.Prepare(c.ctx, text, paramTypes)
		return err
	})
	if err == nil && p == nil {
		err = sqlerr.New(sqlerr.Internal, "internal error: no statement prepared")
	}
	return p, err
}

func endsTx(k StatementKind) bool { return k == KindCommit || k == KindRollback }

var errInFailedTx = &sqlerr.Error{Code: sqlerr.InFailedTransaction,
	Message: "current transaction is aborted, commands ignored until end of transaction block"}

// simpleQuery runs a Query message: each statement in turn, stopping at
// the first error.
func (c *conn) simpleQuery(q string) {
	c.setActivity(q, 0)
	if p, ok := c.portals[""]; ok {
		p.close()
		delete(c.portals, "")
	}
	delete(c.stmts, "")
	stmts := splitStatements(q)
	if len(stmts) == 0 {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
	}
	for _, st := range stmts {
		if err := c.runSimple(st.text); err != nil {
			c.sendError(err, st.offset)
			if c.tx == txBlock {
				c.tx = txFailed
			}
			break
		}
		if c.writeErr != nil {
			return
		}
	}
	c.readyForQuery()
}

func (c *conn) runSimple(text string) error {
	prep, err := c.prepare(text, nil)
	if c.tx == txFailed && (err != nil || !endsTx(prep.Kind())) {
		return errInFailedTx
	}
	if err != nil {
		return err
	}
	if prep.Kind() == KindEmpty {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	cols := prep.Columns()
	p := &portal{prep: prep, cols: cols, formats: textFormats(len(cols)), describe: cols != nil && prep.Kind() != KindCopyOut}
	defer p.close()
	_, err = c.execute(p, 0, "simple")
	return err
}

// describeRows sends the RowDescription of cols in formats. The last one
// sent is kept: a statement run again (a prepared statement, or a cached
// plan on the simple protocol, whose Columns are the same slice) describes
// its rows without building the message again.
func (c *conn) describeRows(cols types.Schema, formats []int16) {
	if len(cols) > 0 && len(cols) == len(c.lastCols) && &cols[0] == &c.lastCols[0] && slices.Equal(formats, c.lastFormats) {
		c.be.Send(c.lastRD)
		return
	}
	c.lastRD = rowDescription(cols, formats)
	c.lastCols = cols
	c.lastFormats = append(c.lastFormats[:0], formats...)
	if formats == nil {
		c.lastFormats = nil
	}
	c.be.Send(c.lastRD)
}

func rowDescription(cols types.Schema, formats []int16) *pgproto3.RowDescription {
	fields := make([]pgproto3.FieldDescription, len(cols))
	for i, col := range cols {
		f := int16(0)
		if formats != nil {
			f = formats[i]
		}
		fields[i] = pgproto3.FieldDescription{
			Name:         []byte(col.Name),
			DataTypeOID:  col.Type.OID(),
			DataTypeSize: col.Type.Size(),
			TypeModifier: col.Type.Typmod(),
			Format:       f,
		}
	}
	return &pgproto3.RowDescription{Fields: fields}
}

// statementTimeout returns the statement_timeout in force.
func (c *conn) statementTimeout() time.Duration {
	if ts, ok := c.sess.(TimeoutSession); ok {
		return ts.StatementTimeout()
	}
	return c.timeout
}

// execute runs (or resumes) portal p, sending at most maxRows rows (0 for
// all). It reports whether the portal was suspended at the limit.
func (c *conn) execute(p *portal, maxRows int, protocol string) (suspended bool, err error) {
	start := time.Now()
	defer func() {
		c.srv.metrics.observe(protocol, time.Since(start))
	}()
	if p.done {
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(p.tag)})
		return false, nil
	}
	if p.ctx == nil {
		if c.tx == txFailed && !endsTx(p.prep.Kind()) {
			return false, errInFailedTx
		}
		p.ctx, p.cancel = context.WithCancelCause(c.ctx)
	}
	c.setRunning(p.cancel)
	defer c.setRunning(nil)
	c.armWatch()
	defer c.disarmWatch()
	if d := c.statementTimeout(); d > 0 {
		t := time.AfterFunc(d, func() { p.cancel(errStatementTimeout) })
		defer t.Stop()
	}
	err = c.safely(func() error {
		if p.res == nil {
			res, err := p.prep.Execute(p.ctx, p.params)
			if err != nil {
				return err
			}
			if res == nil {
				return sqlerr.New(sqlerr.Internal, "internal error: statement returned no result")
			}
			p.res = res
			if p.describe {
				c.describeRows(p.cols, p.formats)
			}
			if p.prep.Kind() == KindCopyOut {
				c.be.Send(&pgproto3.CopyOutResponse{OverallFormat: 0, ColumnFormatCodes: make([]uint16, len(p.cols))})
			}
		}
		sr, streaming := p.res.(StreamResult)
		next := p.res.Next
		if !streaming {
			// A Result that cannot say whether Next will block gets a
			// background flush while it is inside Next, so that rows it
			// produced before waiting reach the client (SUBSCRIBE, FETCH).
			bg := c.startBackgroundFlush()
			defer bg.stop()
			next = func(ctx context.Context) (types.Row, error) {
				c.wmu.Unlock()
				defer c.wmu.Lock()
				return p.res.Next(ctx)
			}
		}
		n := 0
		for ; ; n++ {
			if maxRows > 0 && n >= maxRows {
				suspended = true
				p.resumed = true
				return nil
			}
			if streaming && !sr.HasReady() {
				c.flush()
			}
			if c.writeErr != nil {
				return c.writeErr
			}
			row, err := next(p.ctx)
			if err != nil {
				return err
			}
			if row == nil {
				break
			}
			if p.prep.Kind() == KindCopyOut {
				err = c.sendCopyRow(p, row)
			} else {
				err = c.sendRow(p, row)
			}
			if err != nil {
				return err
			}
		}
		return c.complete(p, n)
	})
	if err != nil && p.ctx.Err() != nil {
		switch cause := context.Cause(p.ctx); cause {
		case errQueryCanceled, errStatementTimeout, errAdminShutdown:
			err = &sqlerr.Error{Code: sqlerr.QueryCanceled, Message: cause.Error(), Err: err}
			if cause == errAdminShutdown {
				err.(*sqlerr.Error).Code = codeAdminShutdown
			}
		}
	}
	if err != nil {
		p.close()
		p.done = true
		p.tag = ""
	}
	return suspended, err
}

// backgroundFlushInterval is how long rows may wait in the output buffer
// while a Result without HasReady blocks in Next.
const backgroundFlushInterval = 20 * time.Millisecond

// backgroundFlush flushes the output buffer from a timer goroutine while
// the connection goroutine waits in Result.Next. The connection goroutine
// holds c.wmu except inside Next, so the two never write at once.
type backgroundFlush struct {
	c      *conn
	timer  *time.Timer
	active bool // guarded by c.wmu
}

func (c *conn) startBackgroundFlush() *backgroundFlush {
	bg := &backgroundFlush{c: c, active: true}
	c.wmu.Lock()
	bg.timer = time.AfterFunc(backgroundFlushInterval, bg.tick)
	return bg
}

func (bg *backgroundFlush) tick() {
	bg.c.wmu.Lock()
	defer bg.c.wmu.Unlock()
	if !bg.active {
		return
	}
	if bg.c.out > 0 {
		bg.c.flush()
	}
	bg.timer.Reset(backgroundFlushInterval)
}

// stop ends background flushing; the caller's goroutine owns the output
// again when it returns.
func (bg *backgroundFlush) stop() {
	bg.active = false
	bg.timer.Stop()
	bg.c.wmu.Unlock()
}

// complete ends a portal whose rows are all sent: notices, transaction
// status, settings and CommandComplete.
func (c *conn) complete(p *portal, rows int) error {
	tag := p.res.Tag()
	if p.prep.Kind() == KindCopyOut {
		c.be.Send(&pgproto3.CopyDone{})
		if tag == "" {
			tag = "COPY " + strconv.Itoa(rows)
		}
	}
	if p.resumed && strings.HasPrefix(tag, "SELECT ") {
		tag = "SELECT " + strconv.Itoa(rows)
	}
	for _, n := range p.res.Notices() {
		c.sendNotice("NOTICE", "00000", n)
	}
	switch p.prep.Kind() {
	case KindBegin:
		if c.tx != txIdle {
			c.sendNotice("WARNING", codeActiveSQLTransaction, "there is already a transaction in progress")
		} else {
			c.tx = txBlock
		}
	case KindCommit, KindRollback:
		switch c.tx {
		case txIdle:
			c.sendNotice("WARNING", codeNoActiveSQLTransaction, "there is no transaction in progress")
		case txFailed:
			tag = "ROLLBACK"
		}
		c.tx = txIdle
	}
	for k, v := range p.res.SettingsChanged() {
		if strings.EqualFold(k, "statement_timeout") {
			d, err := parseTimeout(v)
			if err != nil {
				return err
			}
			c.timeout = d
			continue
		}
		c.pending[canonicalParam(k)] = v
		if canonicalParam(k) == "TimeZone" {
			c.setTimeZone(v)
		}
		if canonicalParam(k) == "application_name" {
			c.runMu.Lock()
			c.info.ApplicationName = v
			c.runMu.Unlock()
		}
	}
	_ = p.res.Close()
	p.res = nil
	p.done = true
	p.tag = tag
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

// sendRow encodes and sends one DataRow in the portal's formats.
func (c *conn) sendRow(p *portal, row types.Row) error {
	if len(row) != len(p.cols) {
		return sqlerr.New(sqlerr.Internal, "internal error: row has %d values for %d columns", len(row), len(p.cols))
	}
	buf := c.rowBuf[:0]
	ends := c.rowEnds[:0]
	for i, v := range row {
		if v.IsNull() {
			ends = append(ends, -1)
			continue
		}
		var err error
		buf, err = appendValueIn(buf, p.cols[i].Type, v, p.formats[i], c.loc)
		if err != nil {
			return sqlerr.Wrap(sqlerr.Internal, err)
		}
		ends = append(ends, len(buf))
	}
	vals := c.rowVals[:0]
	start := 0
	for _, e := range ends {
		if e < 0 {
			vals = append(vals, nil)
			continue
		}
		vals = append(vals, buf[start:e:e])
		start = e
	}
	c.dataRow.Values = vals
	c.be.Send(&c.dataRow)
	c.rowBuf, c.rowEnds, c.rowVals = buf, ends, vals
	c.out += len(buf) + 4*len(vals) + 7
	if c.out >= flushThreshold {
		c.flush()
	}
	return c.writeErr
}

// sendCopyRow sends one row as CopyData in the COPY text format: fields
// separated by tabs, \N for NULL, backslash escapes, a newline at the end.
func (c *conn) sendCopyRow(p *portal, row types.Row) error {
	if len(row) != len(p.cols) {
		return sqlerr.New(sqlerr.Internal, "internal error: row has %d values for %d columns", len(row), len(p.cols))
	}
	buf := c.rowBuf[:0]
	for i, v := range row {
		if i > 0 {
			buf = append(buf, '\t')
		}
		if v.IsNull() {
			buf = append(buf, '\\', 'N')
			continue
		}
		start := len(buf)
		var err error
		buf, err = appendValueIn(buf, p.cols[i].Type, v, textFormat, c.loc)
		if err != nil {
			return sqlerr.Wrap(sqlerr.Internal, err)
		}
		buf = escapeCopy(buf, start)
	}
	buf = append(buf, '\n')
	c.be.Send(&pgproto3.CopyData{Data: buf})
	c.rowBuf = buf
	c.out += len(buf) + 5
	if c.out >= flushThreshold {
		c.flush()
	}
	return c.writeErr
}

// escapeCopy escapes buf[start:] for the COPY text format in place.
func escapeCopy(buf []byte, start int) []byte {
	n := 0
	for _, b := range buf[start:] {
		switch b {
		case '\\', '\t', '\n', '\r':
			n++
		}
	}
	if n == 0 {
		return buf
	}
	field := append([]byte(nil), buf[start:]...)
	buf = buf[:start]
	for _, b := range field {
		switch b {
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		default:
			buf = append(buf, b)
		}
	}
	return buf
}

// Extended protocol.

func (c *conn) parse(m *pgproto3.Parse) error {
	if _, ok := c.stmts[m.Name]; ok && m.Name != "" {
		return &sqlerr.Error{Code: codeDuplicatePreparedStatement, Message: fmt.Sprintf("prepared statement %q already exists", m.Name)}
	}
	if n := len(splitStatements(m.Query)); n > 1 {
		return sqlerr.New(sqlerr.SyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	declared := make([]types.Type, len(m.ParameterOIDs))
	for i, oid := range m.ParameterOIDs {
		declared[i] = paramType(oid)
	}
	prep, err := c.prepare(m.Query, declared)
	if c.tx == txFailed && (err != nil || !endsTx(prep.Kind())) {
		return errInFailedTx
	}
	if err != nil {
		return err
	}
	inferred := prep.Params()
	oids := make([]uint32, max(len(declared), len(inferred)))
	for i := range oids {
		switch {
		case i < len(m.ParameterOIDs) && m.ParameterOIDs[i] != 0:
			oids[i] = m.ParameterOIDs[i]
		case i < len(inferred) && inferred[i].Kind != types.Null:
			oids[i] = inferred[i].OID()
		default:
			oids[i] = types.OIDText
		}
	}
	c.stmts[m.Name] = &stmt{prep: prep, paramOIDs: oids, text: m.Query}
	c.be.Send(&pgproto3.ParseComplete{})
	return nil
}

// zeroFormats backs textFormats.
var zeroFormats [64]int16

// textFormats returns n text format codes. The slice may be shared: it
// must not be written to.
func textFormats(n int) []int16 {
	if n <= len(zeroFormats) {
		return zeroFormats[:n:n]
	}
	return make([]int16, n)
}

// formatsFor expands a list of format codes to n entries. The result must
// not be written to (all-text results share one array).
func formatsFor(codes []int16, n int, what string) ([]int16, error) {
	if len(codes) == 0 {
		return textFormats(n), nil
	}
	out := make([]int16, n)
	switch len(codes) {
	case 0:
	case 1:
		for i := range out {
			out[i] = codes[0]
		}
	case n:
		copy(out, codes)
	default:
		return nil, sqlerr.New(sqlerr.ProtocolViolation, "bind message has %d %s formats but %d %ss", len(codes), what, n, what)
	}
	for _, f := range out {
		if f != textFormat && f != binaryFormat {
			return nil, sqlerr.New(sqlerr.ProtocolViolation, "unsupported format code: %d", f)
		}
	}
	return out, nil
}

func (c *conn) bind(m *pgproto3.Bind) error {
	st, ok := c.stmts[m.PreparedStatement]
	if !ok {
		return &sqlerr.Error{Code: sqlerr.InvalidSQLStatement, Message: fmt.Sprintf("prepared statement %q does not exist", m.PreparedStatement)}
	}
	if old, ok := c.portals[m.DestinationPortal]; ok {
		if m.DestinationPortal != "" {
			return &sqlerr.Error{Code: codeDuplicateCursor, Message: fmt.Sprintf("portal %q already exists", m.DestinationPortal)}
		}
		old.close()
		delete(c.portals, "")
	}
	if c.tx == txFailed && !endsTx(st.prep.Kind()) {
		return errInFailedTx
	}
	if len(m.Parameters) != len(st.paramOIDs) {
		return sqlerr.New(sqlerr.ProtocolViolation, "bind message supplies %d parameters, but prepared statement %q requires %d",
			len(m.Parameters), m.PreparedStatement, len(st.paramOIDs))
	}
	pf, err := formatsFor(m.ParameterFormatCodes, len(m.Parameters), "parameter")
	if err != nil {
		return err
	}
	params := make([]types.Value, len(m.Parameters))
	for i, b := range m.Parameters {
		v, err := decodeParam(st.paramOIDs[i], pf[i], b, c.loc)
		if err != nil {
			e := *toSQLError(err)
			if e.Code == codeInvalidBinaryRepresentation {
				// Postgres' wording, so that clients matching it keep working.
				e.Message = fmt.Sprintf("incorrect binary data format in bind parameter %d", i+1)
			}
			where := fmt.Sprintf("unnamed portal parameter $%d", i+1)
			if m.DestinationPortal != "" {
				where = fmt.Sprintf("portal %q parameter $%d", m.DestinationPortal, i+1)
			}
			return &whereError{e: &e, where: where}
		}
		params[i] = v
	}
	cols := st.prep.Columns()
	rf, err := formatsFor(m.ResultFormatCodes, len(cols), "result")
	if err != nil {
		return err
	}
	c.portals[m.DestinationPortal] = &portal{text: st.text, prep: st.prep, params: params, cols: cols, formats: rf}
	c.be.Send(&pgproto3.BindComplete{})
	return nil
}

func (c *conn) describe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		st, ok := c.stmts[m.Name]
		if !ok {
			return &sqlerr.Error{Code: sqlerr.InvalidSQLStatement, Message: fmt.Sprintf("prepared statement %q does not exist", m.Name)}
		}
		c.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: st.paramOIDs})
		if cols := st.prep.Columns(); cols != nil && st.prep.Kind() != KindCopyOut {
			c.describeRows(cols, nil)
		} else {
			c.be.Send(&pgproto3.NoData{})
		}
	case 'P':
		p, ok := c.portals[m.Name]
		if !ok {
			return &sqlerr.Error{Code: sqlerr.InvalidCursorName, Message: fmt.Sprintf("portal %q does not exist", m.Name)}
		}
		if p.cols != nil && p.prep.Kind() != KindCopyOut {
			c.describeRows(p.cols, p.formats)
		} else {
			c.be.Send(&pgproto3.NoData{})
		}
	default:
		return sqlerr.New(sqlerr.ProtocolViolation, "invalid DESCRIBE message subtype %d", m.ObjectType)
	}
	return nil
}

func (c *conn) executeMsg(m *pgproto3.Execute) error {
	p, ok := c.portals[m.Portal]
	if !ok {
		return &sqlerr.Error{Code: sqlerr.InvalidCursorName, Message: fmt.Sprintf("portal %q does not exist", m.Portal)}
	}
	if p.prep.Kind() == KindEmpty {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	c.setActivity(p.text, 0)
	suspended, err := c.execute(p, int(m.MaxRows), "extended")
	if err != nil {
		return err
	}
	if suspended {
		c.be.Send(&pgproto3.PortalSuspended{})
	}
	return nil
}

func (c *conn) closeMsg(m *pgproto3.Close) error {
	switch m.ObjectType {
	case 'S':
		delete(c.stmts, m.Name)
	case 'P':
		if p, ok := c.portals[m.Name]; ok {
			p.close()
			delete(c.portals, m.Name)
		}
	default:
		return sqlerr.New(sqlerr.ProtocolViolation, "invalid CLOSE message subtype %d", m.ObjectType)
	}
	c.be.Send(&pgproto3.CloseComplete{})
	return nil
}
