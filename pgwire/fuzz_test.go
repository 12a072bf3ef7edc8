package pgwire_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/pgwire/pgwiretest"
)

// pipeListener hands the server in-memory connections.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// dial returns the client end of a new in-memory connection.
func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- &loopbackConn{server}
	return client
}

// loopbackConn reports a loopback remote address, as the default trust
// rule expects.
type loopbackConn struct{ net.Conn }

func (c *loopbackConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
}

func encode(msgs ...pgproto3.FrontendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.Encode(b); err != nil {
			panic(err)
		}
	}
	return b
}

// FuzzReceive sends arbitrary bytes after a valid startup message. The
// server must neither crash nor hang: it answers or closes the
// connection, and the session is closed in the end.
func FuzzReceive(f *testing.F) {
	f.Add(encode(&pgproto3.Query{String: "select 1; selec"}))
	f.Add(encode(&pgproto3.Parse{Name: "a", Query: "select $1::int8"}, &pgproto3.Bind{PreparedStatement: "a",
		ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{0, 0, 0, 0, 0, 0, 0, 1}}, ResultFormatCodes: []int16{1}},
		&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{MaxRows: 1}, &pgproto3.Sync{}))
	f.Add(encode(&pgproto3.Parse{Query: "select * from all_types"}, &pgproto3.Bind{ResultFormatCodes: []int16{1}},
		&pgproto3.Execute{}, &pgproto3.Close{ObjectType: 'S'}, &pgproto3.Flush{}, &pgproto3.Sync{}, &pgproto3.Terminate{}))
	f.Add([]byte{'Q', 0, 0, 0, 3})
	f.Add([]byte{'B', 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{'P', 0, 0, 0, 8, 0, 0, 0xff, 0xff})

	l := newPipeListener()
	fake := pgwiretest.New()
	srv := pgwire.NewServer(pgwire.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxMessageSize: 1 << 20}, fake)
	go func() { _ = srv.Serve(context.Background(), l) }()
	f.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	startup := encode(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "fuzz"}})

	f.Fuzz(func(t *testing.T, data []byte) {
		c := l.dial()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		drained := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, c)
			drained <- err
		}()
		if _, err := c.Write(startup); err != nil {
			t.Fatal(err)
		}
		// The server may close the connection part-way (a FATAL error).
		_, _ = c.Write(data)
		// End with Terminate so that a well-formed stream ends cleanly;
		// a stream cut mid-message ends when the pipe closes.
		_, _ = c.Write(encode(&pgproto3.Sync{}, &pgproto3.Terminate{}))
		_ = c.Close()
		if err := <-drained; err != nil && !errors.Is(err, io.ErrClosedPipe) {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("server hung")
			}
		}
	})
}

// FuzzStartup sends arbitrary bytes as the startup phase (startup packet,
// SSLRequest, GSSENCRequest, CancelRequest, password messages).
func FuzzStartup(f *testing.F) {
	f.Add(encode(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "u"}}))
	f.Add(encode(&pgproto3.SSLRequest{}, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32,
		Parameters: map[string]string{"user": "u", "_pq_.x": "y", "options": "-c statement_timeout=5s"}}))
	f.Add(encode(&pgproto3.GSSEncRequest{}, &pgproto3.CancelRequest{ProcessID: 7, SecretKey: []byte{1, 2, 3, 4}}))
	f.Add([]byte{0, 0, 0, 8, 0, 3, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})

	l := newPipeListener()
	srv := pgwire.NewServer(pgwire.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Auth: pgwire.AuthConfig{Method: pgwire.AuthSCRAM, Users: map[string]string{"u": "p"}, SCRAMIterations: 16}}, pgwiretest.New())
	go func() { _ = srv.Serve(context.Background(), l) }()
	f.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	f.Fuzz(func(t *testing.T, data []byte) {
		c := l.dial()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		drained := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, c)
			drained <- err
		}()
		_, _ = c.Write(data)
		_ = c.Close()
		if err := <-drained; err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("server hung")
			}
		}
	})
}
