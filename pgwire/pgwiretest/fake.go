// Package pgwiretest is a small fake pgwire.Backend for protocol tests. It
// understands a handful of statements (see Fake), enough to drive every
// path of the wire protocol from real clients without the database.
package pgwiretest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// Fake is a Backend. Its sessions understand:
//
//	BEGIN | START TRANSACTION | COMMIT | END | ROLLBACK | ABORT
//	SELECT item, ...        item: $n[::type] | 'text'[::type] | integer | NULL::type [AS name]
//	SELECT * FROM all_types one row of every type, then a row of NULLs
//	SELECT * FROM generate_series(1, n)
//	SELECT pg_sleep(seconds)  blocks until done or cancelled
//	SELECT 1/0                fails in Execute with 22012
//	SUBSCRIBE                 streams rows sent on Feed until it is closed or the ctx ends
//	SUBSCRIBE PLAIN           the same through a Result without HasReady
//	COPY (statement) TO STDOUT  the statement's rows in COPY format
//	SET name = value | SET name TO value
//	SHOW name
//	NOTICE                    a statement with a notice
//	PANIC                     panics in Execute
//
// Anything else is a syntax error (42601) at position 1.
type Fake struct {
	// Feed delivers rows (one bigint column "n") to SUBSCRIBE.
	Feed chan types.Row
	// Sessions counts open sessions; Subscribers counts running SUBSCRIBEs.
	Sessions, Subscribers atomic.Int64
	// Sleeping counts running pg_sleep calls.
	Sleeping atomic.Int64
	// Infos records the SessionInfo of each session.
	mu    sync.Mutex
	Infos []pgwire.SessionInfo
}

// New returns a Fake.
func New() *Fake { return &Fake{Feed: make(chan types.Row)} }

// NewSession implements pgwire.Backend.
func (f *Fake) NewSession(_ context.Context, info pgwire.SessionInfo) (pgwire.Session, error) {
	if info.Database == "nosuchdb" {
		return nil, &sqlerr.Error{Code: "3D000", Message: fmt.Sprintf("database %q does not exist", info.Database)}
	}
	f.mu.Lock()
	f.Infos = append(f.Infos, info)
	f.mu.Unlock()
	f.Sessions.Add(1)
	return &session{f: f, settings: map[string]string{"application_name": info.ApplicationName}}, nil
}

type session struct {
	f        *Fake
	settings map[string]string
}

func (s *session) ReportedSettings() map[string]string { return nil }

func (s *session) Close() error {
	s.f.Sessions.Add(-1)
	return nil
}

// AllTypes is the schema of all_types.
var AllTypes = types.Schema{
	{Name: "b", Type: types.TBool},
	{Name: "i2", Type: types.TInt16},
	{Name: "i4", Type: types.TInt32},
	{Name: "i8", Type: types.TInt64},
	{Name: "f4", Type: types.TFloat32},
	{Name: "f8", Type: types.TFloat64},
	{Name: "n", Type: types.TNumeric},
	{Name: "t", Type: types.TText},
	{Name: "vc", Type: types.Type{Kind: types.Text, Varchar: true}},
	{Name: "by", Type: types.TBytea},
	{Name: "d", Type: types.TDate},
	{Name: "ts", Type: types.TTimestamp},
	{Name: "tstz", Type: types.TTimestampTZ},
	{Name: "iv", Type: types.TInterval},
	{Name: "j", Type: types.TJSONB},
}

// AllTypesRow is the first row of all_types.
func AllTypesRow() types.Row {
	ts := time.Date(2024, 2, 29, 13, 45, 6, 789012000, time.UTC).UnixMicro()
	return types.Row{
		types.NewBool(true),
		types.NewIntKind(types.Int16, -12345),
		types.NewIntKind(types.Int32, 2000000001),
		types.NewInt(-9000000000000000001),
		types.NewFloat32(1.5),
		types.NewFloat(-2.25e-7),
		{K: types.Numeric, S: "-12345.678900"},
		types.NewText("héllo, wörld"),
		{K: types.Text, S: "varchar"},
		types.NewBytea([]byte{0, 1, 2, 0xfe, 0xff}),
		types.NewDate(19782), // 2024-02-29
		types.NewTimestamp(ts),
		types.NewTimestampTZ(ts),
		types.NewIntervalMicros(2*types.MicrosPerDay + 3*types.MicrosPerHour + 4*types.MicrosPerMinute + 5_500_000),
		types.NewJSONB(`{"a": [1, 2, {"b": null}]}`),
	}
}

type item struct {
	name  string
	typ   types.Type
	param int // 1-based, 0 for a literal
	lit   types.Value
}

type prepared struct {
	s      *session
	kind   pgwire.StatementKind
	params []types.Type
	cols   types.Schema
	run    func(ctx context.Context, params []types.Value) (pgwire.Result, error)
}

func (p *prepared) Kind() pgwire.StatementKind { return p.kind }
func (p *prepared) Params() []types.Type       { return p.params }
func (p *prepared) Columns() types.Schema      { return p.cols }
func (p *prepared) Execute(ctx context.Context, params []types.Value) (pgwire.Result, error) {
	return p.run(ctx, params)
}

func tagOnly(tag string) func(context.Context, []types.Value) (pgwire.Result, error) {
	return func(context.Context, []types.Value) (pgwire.Result, error) { return &rows{tag: tag}, nil }
}

func syntaxError(word string) error {
	return &sqlerr.Error{Code: sqlerr.SyntaxError, Message: fmt.Sprintf("syntax error at or near %q", word), Position: 1,
		Hint: "the fake backend knows only a few statements"}
}

// Prepare implements pgwire.Session.
func (s *session) Prepare(_ context.Context, text string, declared []types.Type) (pgwire.Prepared, error) {
	q := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), ";"))
	lq := strings.ToLower(q)
	p := &prepared{s: s}
	switch {
	case q == "":
		p.kind = pgwire.KindEmpty
		p.run = tagOnly("")
	case lq == "begin" || strings.HasPrefix(lq, "begin ") || strings.HasPrefix(lq, "start transaction"):
		p.kind, p.run = pgwire.KindBegin, tagOnly("BEGIN")
	case lq == "commit" || lq == "end":
		p.kind, p.run = pgwire.KindCommit, tagOnly("COMMIT")
	case lq == "rollback" || lq == "abort":
		p.kind, p.run = pgwire.KindRollback, tagOnly("ROLLBACK")
	case lq == "notice":
		p.run = func(context.Context, []types.Value) (pgwire.Result, error) {
			return &rows{tag: "NOTICE", notices: []string{"this is a notice"}}, nil
		}
	case lq == "panic":
		p.run = func(context.Context, []types.Value) (pgwire.Result, error) { panic("fake panic") }
	case lq == "subscribe":
		p.cols = types.Schema{{Name: "n", Type: types.TInt64}}
		p.run = func(ctx context.Context, _ []types.Value) (pgwire.Result, error) {
			s.f.Subscribers.Add(1)
			return &subscription{f: s.f}, nil
		}
	case strings.HasPrefix(lq, "copy (") && strings.HasSuffix(lq, ") to stdout"):
		inner, err := s.Prepare(context.Background(), q[len("copy ("):len(q)-len(") to stdout")], declared)
		if err != nil {
			return nil, err
		}
		ip := inner.(*prepared)
		p.kind, p.cols, p.params, p.run = pgwire.KindCopyOut, ip.cols, ip.params, func(ctx context.Context, args []types.Value) (pgwire.Result, error) {
			res, err := ip.run(ctx, args)
			if r, ok := res.(*rows); ok {
				r.tag = ""
			}
			return res, err
		}
	case lq == "subscribe plain":
		// A streaming result that does not implement pgwire.StreamResult.
		p.cols = types.Schema{{Name: "n", Type: types.TInt64}}
		p.run = func(ctx context.Context, _ []types.Value) (pgwire.Result, error) {
			s.f.Subscribers.Add(1)
			return plainResult{&subscription{f: s.f}}, nil
		}
	case strings.HasPrefix(lq, "set "):
		rest := strings.TrimSpace(q[4:])
		name, val, ok := strings.Cut(rest, "=")
		if !ok {
			name, val, ok = cutFold(rest, " to ")
		}
		if !ok {
			return nil, syntaxError(rest)
		}
		name, val = strings.ToLower(strings.TrimSpace(name)), strings.Trim(strings.TrimSpace(val), "'")
		p.run = func(context.Context, []types.Value) (pgwire.Result, error) {
			s.settings[name] = val
			return &rows{tag: "SET", changed: map[string]string{name: val}}, nil
		}
	case strings.HasPrefix(lq, "show "):
		name := strings.TrimSpace(lq[5:])
		p.cols = types.Schema{{Name: name, Type: types.TText}}
		p.run = func(context.Context, []types.Value) (pgwire.Result, error) {
			return &rows{tag: "SHOW", data: []types.Row{{types.NewText(s.settings[name])}}}, nil
		}
	case lq == "select * from all_types":
		p.cols = AllTypes
		p.run = func(context.Context, []types.Value) (pgwire.Result, error) {
			return &rows{tag: "SELECT 2", data: []types.Row{AllTypesRow(), make(types.Row, len(AllTypes))}}, nil
		}
	case strings.HasPrefix(lq, "select * from generate_series(1,"):
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lq[len("select * from generate_series(1,"):]), ")")))
		if err != nil {
			return nil, syntaxError(q)
		}
		p.cols = types.Schema{{Name: "generate_series", Type: types.TInt64}}
		p.run = func(context.Context, []types.Value) (pgwire.Result, error) {
			data := make([]types.Row, n)
			for i := range data {
				data[i] = types.Row{types.NewInt(int64(i + 1))}
			}
			return &rows{tag: "SELECT " + strconv.Itoa(n), data: data}, nil
		}
	case strings.HasPrefix(lq, "select pg_sleep(") && strings.HasSuffix(lq, ")"):
		secs, err := strconv.ParseFloat(lq[len("select pg_sleep("):len(lq)-1], 64)
		if err != nil {
			return nil, syntaxError(q)
		}
		p.cols = types.Schema{{Name: "pg_sleep", Type: types.TText}}
		p.run = func(ctx context.Context, _ []types.Value) (pgwire.Result, error) {
			t := time.NewTimer(time.Duration(secs * float64(time.Second)))
			defer t.Stop()
			s.f.Sleeping.Add(1)
			defer s.f.Sleeping.Add(-1)
			select {
			case <-t.C:
				return &rows{tag: "SELECT 1", data: []types.Row{{types.NewText("")}}}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	case lq == "select 1/0":
		p.cols = types.Schema{{Name: "?column?", Type: types.TInt32}}
		p.run = func(context.Context, []types.Value) (pgwire.Result, error) {
			return nil, sqlerr.New(sqlerr.DivisionByZero, "division by zero")
		}
	case strings.HasPrefix(lq, "select "):
		return s.prepareSelect(q[7:], declared)
	default:
		return nil, syntaxError(strings.Fields(q)[0])
	}
	return p, nil
}

// splitItems splits a select list at commas outside quotes and brackets.
func splitItems(list string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(list); i++ {
		c := list[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			out = append(out, list[start:i])
			start = i + 1
		}
	}
	return append(out, list[start:])
}

// cutCast splits "expr::type" at the last :: outside quotes.
func cutCast(s string) (string, string, bool) {
	var quote byte
	at := -1
	for i := 0; i+1 < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'':
			quote = c
		case c == ':' && s[i+1] == ':':
			at = i
			i++
		}
	}
	if at < 0 {
		return s, "", false
	}
	return s[:at], s[at+2:], true
}

func cutFold(s, sep string) (string, string, bool) {
	i := strings.Index(strings.ToLower(s), sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func (s *session) prepareSelect(list string, declared []types.Type) (pgwire.Prepared, error) {
	var items []item
	var params []types.Type
	for _, raw := range splitItems(list) {
		expr := strings.TrimSpace(raw)
		var it item
		if e, alias, ok := cutFold(expr, " as "); ok {
			expr, it.name = strings.TrimSpace(e), strings.TrimSpace(alias)
		}
		base, cast, hasCast := cutCast(expr)
		base, cast = strings.TrimSpace(base), strings.TrimSpace(cast)
		if hasCast {
			k, ok := types.ParseTypeName(cast)
			if !ok {
				return nil, &sqlerr.Error{Code: sqlerr.UndefinedObject, Message: fmt.Sprintf("type %q does not exist", cast)}
			}
			it.typ = types.Type{Kind: k, Varchar: strings.EqualFold(cast, "varchar")}
			if it.name == "" {
				it.name = strings.ToLower(cast)
			}
		}
		if it.name == "" {
			it.name = "?column?"
		}
		switch {
		case strings.HasPrefix(base, "$"):
			n, err := strconv.Atoi(base[1:])
			if err != nil || n < 1 {
				return nil, syntaxError(base)
			}
			it.param = n
			for len(params) < n {
				params = append(params, types.TNull)
			}
			if !hasCast {
				it.typ = types.TText
				if n <= len(declared) && declared[n-1].Kind != types.Null {
					it.typ = declared[n-1]
				}
			}
			if params[n-1].Kind == types.Null {
				params[n-1] = it.typ
			}
		case strings.EqualFold(base, "null"):
			if !hasCast {
				it.typ = types.TText
			}
			it.lit = types.NullValue
		case strings.HasPrefix(base, "'") && strings.HasSuffix(base, "'") && len(base) >= 2:
			if !hasCast {
				it.typ = types.TText
			}
			v, err := types.ParseText(it.typ, strings.ReplaceAll(base[1:len(base)-1], "''", "'"))
			if err != nil {
				return nil, sqlerr.Wrap(sqlerr.InvalidTextRep, err)
			}
			it.lit = v
		default:
			if !hasCast {
				it.typ = types.TInt32
				switch lb := strings.ToLower(base); {
				case lb == "true" || lb == "false":
					it.typ = types.TBool
				case strings.ContainsAny(lb, ".e"):
					it.typ = types.TNumeric
				}
			}
			v, err := types.ParseText(it.typ, base)
			if err != nil {
				return nil, sqlerr.Wrap(sqlerr.InvalidTextRep, err)
			}
			it.lit = v
		}
		items = append(items, it)
	}
	cols := make(types.Schema, len(items))
	for i, it := range items {
		cols[i] = types.Column{Name: it.name, Type: it.typ, Nullable: true}
	}
	for i := range params {
		if params[i].Kind == types.Null {
			params[i] = types.TText
		}
	}
	p := &prepared{s: s, params: params, cols: cols}
	p.run = func(_ context.Context, args []types.Value) (pgwire.Result, error) {
		if len(args) != len(params) {
			return nil, sqlerr.New(sqlerr.ProtocolViolation, "got %d parameters, want %d", len(args), len(params))
		}
		row := make(types.Row, len(items))
		for i, it := range items {
			if it.param == 0 {
				row[i] = it.lit
				continue
			}
			v := args[it.param-1]
			if !v.IsNull() && v.K != it.typ.Kind {
				var err error
				if v, err = types.ParseText(it.typ, v.String()); err != nil {
					return nil, sqlerr.Wrap(sqlerr.InvalidTextRep, err)
				}
			}
			row[i] = v
		}
		return &rows{tag: "SELECT 1", data: []types.Row{row}}, nil
	}
	return p, nil
}

// rows is a Result over rows in memory.
type rows struct {
	data    []types.Row
	tag     string
	notices []string
	changed map[string]string
}

func (r *rows) Next(context.Context) (types.Row, error) {
	if len(r.data) == 0 {
		return nil, nil
	}
	row := r.data[0]
	r.data = r.data[1:]
	return row, nil
}
func (r *rows) Tag() string                        { return r.tag }
func (r *rows) Notices() []string                  { return r.notices }
func (r *rows) SettingsChanged() map[string]string { return r.changed }
func (r *rows) Close() error                       { return nil }

// subscription streams rows from Fake.Feed.
type subscription struct {
	f      *Fake
	n      int
	closed bool
}

func (s *subscription) HasReady() bool { return len(s.f.Feed) > 0 }

func (s *subscription) Next(ctx context.Context) (types.Row, error) {
	select {
	case row, ok := <-s.f.Feed:
		if !ok {
			return nil, nil
		}
		s.n++
		return row, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (s *subscription) Tag() string                        { return "SUBSCRIBE " + strconv.Itoa(s.n) }
func (s *subscription) Notices() []string                  { return nil }
func (s *subscription) SettingsChanged() map[string]string { return nil }
func (s *subscription) Close() error {
	if !s.closed {
		s.closed = true
		s.f.Subscribers.Add(-1)
	}
	return nil
}

// plainResult hides HasReady.
type plainResult struct{ r pgwire.Result }

func (p plainResult) Next(ctx context.Context) (types.Row, error) { return p.r.Next(ctx) }
func (p plainResult) Tag() string                                 { return p.r.Tag() }
func (p plainResult) Notices() []string                           { return p.r.Notices() }
func (p plainResult) SettingsChanged() map[string]string          { return p.r.SettingsChanged() }
func (p plainResult) Close() error                                { return p.r.Close() }
