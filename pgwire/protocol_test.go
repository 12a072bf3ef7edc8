package pgwire_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sql/types"
)

func TestStartupMessages(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	c := dialRaw(t, ts.addr, map[string]string{"application_name": "raw"})
	eq(t, "startup", c.startup,
		"R ok",
		"S application_name=raw", "S client_encoding=UTF8", "S DateStyle=ISO, MDY", "S default_transaction_read_only=off",
		"S in_hot_standby=off", "S integer_datetimes=on", "S IntervalStyle=postgres", "S is_superuser=on",
		"S server_encoding=UTF8", "S server_version="+pgwire.DefaultServerVersion, "S session_authorization=sluice",
		"S standard_conforming_strings=on", "S TimeZone=UTC",
		"K", "Z I")
	if len(c.secret) != 4 || c.pid == 0 {
		t.Errorf("backend key %d %x", c.pid, c.secret)
	}
}

func TestSimpleQueryProtocol(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	c := dialRaw(t, ts.addr, nil)

	// Several statements; an error aborts the rest, with the position
	// pointing into the whole query string.
	c.send(&pgproto3.Query{String: "select 1; select 'a' as x; selec 2; select 3"})
	eq(t, "multi", c.until("Z"),
		"T ?column?:23:4:-1:0", "D 1", "C SELECT 1",
		"T x:25:-1:-1:0", "D a", "C SELECT 1",
		`E ERROR 42601 syntax error at or near "selec" pos=28`,
		"Z I")

	for _, q := range []string{"", "  ", ";", " ; ; ", "-- only a comment", "/* c */"} {
		c.send(&pgproto3.Query{String: q})
		eq(t, "empty "+q, c.until("Z"), "I", "Z I")
	}

	// Semicolons inside quotes, dollar quotes and comments do not split.
	c.send(&pgproto3.Query{String: "select 'a;b' as x; select 4"})
	eq(t, "quoted", c.until("Z"),
		"T x:25:-1:-1:0", "D a;b", "C SELECT 1",
		"T ?column?:23:4:-1:0", "D 4", "C SELECT 1",
		"Z I")

	// Transaction status and the failed state.
	c.send(&pgproto3.Query{String: "begin; select 1"})
	eq(t, "begin", c.until("Z"), "C BEGIN", "T ?column?:23:4:-1:0", "D 1", "C SELECT 1", "Z T")
	c.send(&pgproto3.Query{String: "begin"})
	eq(t, "nested begin", c.until("Z"), "N WARNING 25001 there is already a transaction in progress", "C BEGIN", "Z T")
	c.send(&pgproto3.Query{String: "select 1/0"})
	eq(t, "error in block", c.until("Z"), "E ERROR 22012 division by zero pos=0", "Z E")
	c.send(&pgproto3.Query{String: "select 1"})
	eq(t, "failed block", c.until("Z"),
		"E ERROR 25P02 current transaction is aborted, commands ignored until end of transaction block pos=0", "Z E")
	c.send(&pgproto3.Query{String: "rollback"})
	eq(t, "rollback", c.until("Z"), "C ROLLBACK", "Z I")
	c.send(&pgproto3.Query{String: "commit"})
	eq(t, "commit outside", c.until("Z"), "N WARNING 25P01 there is no transaction in progress", "C COMMIT", "Z I")

	c.send(&pgproto3.Query{String: "notice"})
	eq(t, "notice", c.until("Z"), "N NOTICE 00000 this is a notice", "C NOTICE", "Z I")
	c.send(&pgproto3.Query{String: "set application_name = 'x'"})
	eq(t, "set reports", c.until("Z"), "C SET", "S application_name=x", "Z I")
}

func TestExtendedProtocol(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	c := dialRaw(t, ts.addr, nil)

	// Named statement, describe, bind with a binary parameter, describe portal.
	c.send(
		&pgproto3.Parse{Name: "s1", Query: "select $1::int8 as x, $2 as y"},
		&pgproto3.Describe{ObjectType: 'S', Name: "s1"},
		&pgproto3.Bind{DestinationPortal: "p1", PreparedStatement: "s1", ParameterFormatCodes: []int16{1, 0},
			Parameters: [][]byte{binary.BigEndian.AppendUint64(nil, 1<<40), []byte("txt")}, ResultFormatCodes: []int16{1, 0}},
		&pgproto3.Describe{ObjectType: 'P', Name: "p1"},
		&pgproto3.Execute{Portal: "p1"},
		&pgproto3.Sync{},
	)
	eq(t, "named", c.until("Z"),
		"1", "t [20 25]", "T x:20:8:-1:0,y:25:-1:-1:0", "2", "T x:20:8:-1:1,y:25:-1:-1:0",
		"D 0x0000010000000000,txt", "C SELECT 1", "Z I")

	// Row limits suspend the portal; later Executes resume it.
	c.send(
		&pgproto3.Parse{Query: "select * from generate_series(1, 5)"},
		&pgproto3.Bind{},
		&pgproto3.Execute{MaxRows: 2},
		&pgproto3.Execute{MaxRows: 2},
		&pgproto3.Execute{MaxRows: 2},
		&pgproto3.Sync{},
	)
	eq(t, "row limit", c.until("Z"), "1", "2", "D 1", "D 2", "s", "D 3", "D 4", "s", "D 5", "C SELECT 1", "Z I")

	// After an error everything up to Sync is skipped.
	c.send(
		&pgproto3.Parse{Query: "selec"},
		&pgproto3.Bind{},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
		&pgproto3.Parse{Query: "select 9"},
		&pgproto3.Bind{},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
	)
	eq(t, "discard until sync", c.until("Z"), `E ERROR 42601 syntax error at or near "selec" pos=1`, "Z I")
	eq(t, "after sync", c.until("Z"), "1", "2", "D 9", "C SELECT 1", "Z I")

	// Flush delivers without Sync; Close and reuse of names.
	c.send(&pgproto3.Parse{Name: "s2", Query: "select 1"}, &pgproto3.Flush{})
	eq(t, "flush", c.until("1"), "1")
	c.send(&pgproto3.Parse{Name: "s2", Query: "select 1"}, &pgproto3.Sync{})
	eq(t, "duplicate", c.until("Z"), `E ERROR 42P05 prepared statement "s2" already exists pos=0`, "Z I")
	c.send(&pgproto3.Close{ObjectType: 'S', Name: "s2"}, &pgproto3.Parse{Name: "s2", Query: "select 2"},
		&pgproto3.Bind{DestinationPortal: "p", PreparedStatement: "s2"}, &pgproto3.Close{ObjectType: 'P', Name: "p"},
		&pgproto3.Execute{Portal: "p"}, &pgproto3.Sync{})
	eq(t, "close", c.until("Z"), "3", "1", "2", "3", `E ERROR 34000 portal "p" does not exist pos=0`, "Z I")

	// Wrong parameter counts and formats are protocol errors, not crashes.
	c.send(&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("1")}}, &pgproto3.Sync{})
	eq(t, "param count", c.until("Z"),
		`E ERROR 08P01 bind message supplies 1 parameters, but prepared statement "s1" requires 2 pos=0`, "Z I")
	c.send(&pgproto3.Bind{PreparedStatement: "s1", ParameterFormatCodes: []int16{1},
		Parameters: [][]byte{{1, 2, 3}, []byte("x")}}, &pgproto3.Sync{})
	eq(t, "short binary", c.until("Z"), "E ERROR 08P01 insufficient data left in message pos=0", "Z I")
	c.send(&pgproto3.Bind{PreparedStatement: "s1", ParameterFormatCodes: []int16{1},
		Parameters: [][]byte{make([]byte, 9), []byte("x")}}, &pgproto3.Sync{})
	eq(t, "long binary", c.until("Z"), "E ERROR 22P03 incorrect binary data format in bind parameter 1 pos=0", "Z I")
	c.send(&pgproto3.Parse{Query: "select 1; select 2"}, &pgproto3.Sync{})
	eq(t, "multi in parse", c.until("Z"),
		"E ERROR 42601 cannot insert multiple commands into a prepared statement pos=0", "Z I")

	// Empty statement through the extended protocol; a statement without rows.
	c.send(&pgproto3.Parse{Query: ""}, &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, "empty", c.until("Z"), "1", "2", "n", "I", "Z I")

	// Transactions through the extended protocol: unnamed portals of a
	// block survive Sync; an error fails the block.
	c.send(&pgproto3.Parse{Query: "begin"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, "begin", c.until("Z"), "1", "2", "C BEGIN", "Z T")
	c.send(&pgproto3.Parse{Query: "selec"}, &pgproto3.Sync{})
	eq(t, "fail", c.until("Z"), `E ERROR 42601 syntax error at or near "selec" pos=1`, "Z E")
	c.send(&pgproto3.Parse{Query: "select 1"}, &pgproto3.Sync{})
	eq(t, "failed", c.until("Z"),
		"E ERROR 25P02 current transaction is aborted, commands ignored until end of transaction block pos=0", "Z E")
	c.send(&pgproto3.Parse{Query: "rollback"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, "rollback", c.until("Z"), "1", "2", "C ROLLBACK", "Z I")
}

func TestStartupNegotiation(t *testing.T) {
	ts := startServer(t, pgwire.Config{})

	// SSLRequest without TLS and GSSENC are refused with 'N'; startup goes on.
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, code := range []uint32{80877103, 80877104} {
		var pkt [8]byte
		binary.BigEndian.PutUint32(pkt[:], 8)
		binary.BigEndian.PutUint32(pkt[4:], code)
		if _, err := nc.Write(pkt[:]); err != nil {
			t.Fatal(err)
		}
		var b [1]byte
		if _, err := io.ReadFull(nc, b[:]); err != nil || b[0] != 'N' {
			t.Fatalf("code %d: answer %q %v", code, b, err)
		}
	}
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32,
		Parameters: map[string]string{"user": "u", "_pq_.future": "1"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	m, err := fe.Receive()
	if err != nil || summarize(m) != "v 0 [_pq_.future]" {
		t.Fatalf("negotiation: %s %v", summarize(m), err)
	}
	m, err = fe.Receive()
	if err != nil || summarize(m) != "R ok" {
		t.Fatalf("after negotiation: %s %v", summarize(m), err)
	}

	// An unsupported major version is a FATAL error.
	nc2, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	var pkt [8]byte
	binary.BigEndian.PutUint32(pkt[:], 8)
	binary.BigEndian.PutUint32(pkt[4:], 2<<16)
	_, _ = nc2.Write(pkt[:])
	m, err = pgproto3.NewFrontend(nc2, nc2).Receive()
	if err != nil || !strings.HasPrefix(summarize(m), "E FATAL 0A000 unsupported frontend protocol 2.0") {
		t.Fatalf("old protocol: %s %v", summarize(m), err)
	}
}

// TestMalformedMessageDuringSubscribe: garbage from the client ends a
// running SUBSCRIBE and the connection.
func TestMalformedMessageDuringSubscribe(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	c := dialRaw(t, ts.addr, nil)
	c.send(&pgproto3.Query{String: "subscribe"})
	waitFor(t, "subscription to start", func() bool { return ts.fake.Subscribers.Load() == 1 })
	if _, err := c.nc.Write([]byte{'!', 0, 0, 0, 4}); err != nil {
		t.Fatal(err)
	}
	got := c.until("E FATAL")
	if !strings.HasPrefix(got[len(got)-1], "E FATAL 08P01 invalid frontend message") {
		t.Fatalf("got %v", got)
	}
	waitFor(t, "subscription to end", func() bool { return ts.fake.Subscribers.Load() == 0 })
}

func TestMalformedMessageIsFatal(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	c := dialRaw(t, ts.addr, nil)
	if _, err := c.nc.Write([]byte{'!', 0, 0, 0, 4}); err != nil {
		t.Fatal(err)
	}
	got := c.until("E")
	if !strings.HasPrefix(got[len(got)-1], "E FATAL 08P01 invalid frontend message") {
		t.Fatalf("got %v", got)
	}
	if _, err := c.fe.Receive(); err == nil {
		t.Fatal("connection still open after FATAL")
	}
}

func TestSubscribeStreams(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	c := dialRaw(t, ts.addr, nil)
	c.send(&pgproto3.Query{String: "subscribe"})
	eq(t, "description", c.until("T"), "T n:20:8:-1:0")
	// Each row arrives before the next is produced: rows are flushed as
	// they come, not when the statement ends.
	for i := int64(1); i <= 3; i++ {
		ts.fake.Feed <- types.Row{types.NewInt(i)}
		eq(t, "row", c.until("D"), "D "+types.NewInt(i).String())
	}
	// CancelRequest with the backend key ends it.
	cancelRaw(t, ts.addr, c.pid, c.secret)
	eq(t, "cancelled", c.until("Z"), "E ERROR 57014 canceling statement due to user request pos=0", "Z I")
	if n := ts.fake.Subscribers.Load(); n != 0 {
		t.Fatalf("%d subscriptions still open after cancel", n)
	}
	// A wrong key cancels nothing.
	c.send(&pgproto3.Query{String: "subscribe"})
	c.until("T")
	cancelRaw(t, ts.addr, c.pid, []byte{0, 0, 0, 0})
	ts.fake.Feed <- types.Row{types.NewInt(7)}
	eq(t, "still streaming", c.until("D"), "D 7")

	// A client that disconnects ends the subscription.
	c.nc.Close()
	waitFor(t, "subscription to end after disconnect", func() bool { return ts.fake.Subscribers.Load() == 0 })
	waitFor(t, "session to close", func() bool { return ts.fake.Sessions.Load() == 0 })
}

// TestStreamingWithoutHasReady: rows of a Result that blocks in Next
// without implementing StreamResult still reach the client while it waits.
func TestStreamingWithoutHasReady(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	c := dialRaw(t, ts.addr, nil)
	c.send(&pgproto3.Query{String: "subscribe plain"})
	for i := int64(1); i <= 3; i++ {
		ts.fake.Feed <- types.Row{types.NewInt(i)}
		got := c.until("D")
		if got[len(got)-1] != "D "+types.NewInt(i).String() {
			t.Fatalf("row %d: %v", i, got)
		}
	}
	cancelRaw(t, ts.addr, c.pid, c.secret)
	eq(t, "cancelled", c.until("Z"), "E ERROR 57014 canceling statement due to user request pos=0", "Z I")
	c.send(&pgproto3.Query{String: "select 1"})
	eq(t, "after", c.until("Z"), "T ?column?:23:4:-1:0", "D 1", "C SELECT 1", "Z I")
}

func cancelRaw(t *testing.T, addr string, pid uint32, key []byte) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.CancelRequest{ProcessID: pid, SecretKey: key})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	// The server closes the cancel connection without answering.
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := nc.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("cancel connection answered: %d %v", n, err)
	}
}

// waitFor polls cond until it holds, failing after 10 s. It waits for an
// effect on another goroutine; it asserts nothing about durations.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestShutdownTerminatesSessions(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, pgwire.Config{})
	srv := pgwire.NewServer(pgwire.Config{}, ts.fake)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), l) }()
	idle := dialRaw(t, l.Addr().String(), nil)
	busy := dialRaw(t, l.Addr().String(), nil)
	busy.send(&pgproto3.Query{String: "select pg_sleep(60)"})
	waitFor(t, "pg_sleep to start", func() bool { return ts.fake.Sleeping.Load() == 1 })
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != pgwire.ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
	eq(t, "idle", idle.until("E"), "E FATAL 57P01 terminating connection due to administrator command pos=0")
	got := busy.until("E")
	if !strings.HasPrefix(got[len(got)-1], "E ERROR 57P01") && !strings.HasPrefix(got[len(got)-1], "E FATAL 57P01") {
		t.Fatalf("busy: %v", got)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Fatal("listener still accepting")
	}
}

func TestMaxConnections(t *testing.T) {
	ts := startServer(t, pgwire.Config{MaxConnections: 2})
	dialRaw(t, ts.addr, nil)
	dialRaw(t, ts.addr, nil)
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "x"}})
	_ = fe.Flush()
	m, err := fe.Receive()
	if err != nil || summarize(m) != "E FATAL 53300 sorry, too many clients already pos=0" {
		t.Fatalf("third connection: %s %v", summarize(m), err)
	}
}

func TestCopyOut(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	c := dialRaw(t, ts.addr, nil)
	c.send(&pgproto3.Query{String: "copy (select * from all_types) to stdout"})
	got := c.until("Z")
	if len(got) != 6 || got[0] != "H 0 [0 0 0 0 0 0 0 0 0 0 0 0 0 0 0]" || !strings.HasPrefix(got[1], "d ") ||
		got[3] != "c" || got[4] != "C COPY 2" || got[5] != "Z I" {
		t.Fatalf("copy messages %q", got)
	}

	ctx := context.Background()
	pc, err := pgconn.Connect(ctx, ts.url(""))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	var buf strings.Builder
	tag, err := pc.CopyTo(ctx, &buf, "copy (select * from all_types) to stdout")
	if err != nil || tag.String() != "COPY 2" {
		t.Fatalf("CopyTo: %q %v", tag, err)
	}
	want := "t\t-12345\t2000000001\t-9000000000000000001\t1.5\t-2.25e-07\t-12345.678900\théllo, wörld\tvarchar\t\\\\x000102feff\t" +
		"2024-02-29\t2024-02-29 13:45:06.789012\t2024-02-29 13:45:06.789012+00\t2 days 03:04:05.5\t{\"a\": [1, 2, {\"b\": null}]}\n" +
		strings.Repeat("\\N\t", 14) + "\\N\n"
	if buf.String() != want {
		t.Errorf("copy data\n got %q\nwant %q", buf.String(), want)
	}
	// Tabs, newlines and backslashes inside values are escaped.
	buf.Reset()
	if _, err := pc.CopyTo(ctx, &buf, "copy (select 'a\tb\nc\\d\re'::text) to stdout"); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != `a\tb\nc\\d\re`+"\n" {
		t.Errorf("escaped copy data %q", got)
	}
}

// TestCopySubscribeStreams: COPY (SUBSCRIBE) TO STDOUT delivers each row
// as it is produced, which is how psql shows a live subscription.
func TestCopySubscribeStreams(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	c := dialRaw(t, ts.addr, nil)
	c.send(&pgproto3.Query{String: "copy (subscribe) to stdout"})
	for i := int64(1); i <= 3; i++ {
		ts.fake.Feed <- types.Row{types.NewInt(i)}
		got := c.until("d ")
		if i == 1 && !strings.HasPrefix(got[0], "H ") {
			t.Fatalf("first message %v", got)
		}
		if got[len(got)-1] != "d 0x"+hex.EncodeToString([]byte(types.NewInt(i).String()+"\n")) {
			t.Fatalf("row %d: %v", i, got)
		}
	}
	cancelRaw(t, ts.addr, c.pid, c.secret)
	eq(t, "cancelled", c.until("Z"), "E ERROR 57014 canceling statement due to user request pos=0", "Z I")
}

func TestActivity(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	idle := dialRaw(t, ts.addr, map[string]string{"application_name": "idler"})
	busy := dialRaw(t, ts.addr, map[string]string{"user": "bob"})
	busy.send(&pgproto3.Query{String: "select pg_sleep(60)"})
	waitFor(t, "pg_sleep to start", func() bool { return ts.fake.Sleeping.Load() == 1 })
	idle.send(&pgproto3.Query{String: "begin"})
	idle.until("Z")
	got := map[uint32]pgcatalogActivity{}
	for _, a := range ts.srv.Activity() {
		got[uint32(a.PID)] = pgcatalogActivity{a.User, a.ApplicationName, a.State, a.Query, a.ClientAddr}
	}
	if a := got[idle.pid]; a != (pgcatalogActivity{"sluice", "idler", "idle in transaction", "begin", "127.0.0.1"}) {
		t.Errorf("idle connection: %+v", a)
	}
	if a := got[busy.pid]; a != (pgcatalogActivity{"bob", "", "active", "select pg_sleep(60)", "127.0.0.1"}) {
		t.Errorf("busy connection: %+v", a)
	}
	cancelRaw(t, ts.addr, busy.pid, busy.secret)
	busy.until("Z")
	for _, a := range ts.srv.Activity() {
		if uint32(a.PID) == busy.pid && a.State != "idle" {
			t.Errorf("after cancel: %+v", a)
		}
	}
}

type pgcatalogActivity struct{ user, app, state, query, addr string }
