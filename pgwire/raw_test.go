package pgwire_test

import (
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// rawClient is a protocol-level client on pgproto3.Frontend.
type rawClient struct {
	t      testing.TB
	nc     net.Conn
	fe     *pgproto3.Frontend
	pid    uint32
	secret []byte
	params map[string]string
	// startup holds the summaries of the startup messages.
	startup []string
}

func dialRaw(t testing.TB, addr string, params map[string]string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := &rawClient{t: t, nc: nc, fe: pgproto3.NewFrontend(nc, nc), params: map[string]string{}}
	p := map[string]string{"user": "sluice", "database": "sluice"}
	for k, v := range params {
		p[k] = v
	}
	c.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: p})
	if err := c.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := c.fe.Receive()
		if err != nil {
			t.Fatalf("startup: %v (so far %v)", err, c.startup)
		}
		c.startup = append(c.startup, summarize(m))
		switch m := m.(type) {
		case *pgproto3.BackendKeyData:
			c.pid, c.secret = m.ProcessID, append([]byte(nil), m.SecretKey...)
		case *pgproto3.ParameterStatus:
			c.params[m.Name] = m.Value
		case *pgproto3.ErrorResponse:
			t.Fatalf("startup error: %s", summarize(m))
		case *pgproto3.ReadyForQuery:
			return c
		}
	}
}

func (c *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	c.t.Helper()
	for _, m := range msgs {
		c.fe.Send(m)
	}
	if err := c.fe.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

// until receives messages up to and including one whose summary starts
// with prefix, returning their summaries.
func (c *rawClient) until(prefix string) []string {
	c.t.Helper()
	var out []string
	for {
		m, err := c.fe.Receive()
		if err != nil {
			c.t.Fatalf("receive: %v (after %v)", err, out)
		}
		s := summarize(m)
		out = append(out, s)
		if strings.HasPrefix(s, prefix) {
			return out
		}
	}
}

// summarize renders a backend message compactly for assertions.
func summarize(m pgproto3.BackendMessage) string {
	switch m := m.(type) {
	case *pgproto3.RowDescription:
		var f []string
		for _, fd := range m.Fields {
			f = append(f, fmt.Sprintf("%s:%d:%d:%d:%d", fd.Name, fd.DataTypeOID, fd.DataTypeSize, fd.TypeModifier, fd.Format))
		}
		return "T " + strings.Join(f, ",")
	case *pgproto3.DataRow:
		var v []string
		for _, b := range m.Values {
			if b == nil {
				v = append(v, "NULL")
			} else {
				v = append(v, hexOrText(b))
			}
		}
		return "D " + strings.Join(v, ",")
	case *pgproto3.CommandComplete:
		return "C " + string(m.CommandTag)
	case *pgproto3.ErrorResponse:
		return fmt.Sprintf("E %s %s %s pos=%d", m.Severity, m.Code, m.Message, m.Position)
	case *pgproto3.NoticeResponse:
		return fmt.Sprintf("N %s %s %s", m.Severity, m.Code, m.Message)
	case *pgproto3.ReadyForQuery:
		return "Z " + string(m.TxStatus)
	case *pgproto3.ParseComplete:
		return "1"
	case *pgproto3.BindComplete:
		return "2"
	case *pgproto3.CloseComplete:
		return "3"
	case *pgproto3.NoData:
		return "n"
	case *pgproto3.PortalSuspended:
		return "s"
	case *pgproto3.EmptyQueryResponse:
		return "I"
	case *pgproto3.ParameterDescription:
		return fmt.Sprint("t ", m.ParameterOIDs)
	case *pgproto3.ParameterStatus:
		return "S " + m.Name + "=" + m.Value
	case *pgproto3.BackendKeyData:
		return "K"
	case *pgproto3.AuthenticationOk:
		return "R ok"
	case *pgproto3.CopyOutResponse:
		return fmt.Sprint("H ", m.OverallFormat, " ", m.ColumnFormatCodes)
	case *pgproto3.CopyData:
		return "d " + hexOrText(m.Data)
	case *pgproto3.CopyDone:
		return "c"
	case *pgproto3.NegotiateProtocolVersion:
		return fmt.Sprint("v ", m.NewestMinorProtocol, m.UnrecognizedOptions)
	}
	return fmt.Sprintf("%T", m)
}

func hexOrText(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == ',' {
			return "0x" + hex.EncodeToString(b)
		}
	}
	return string(b)
}

func eq(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}
