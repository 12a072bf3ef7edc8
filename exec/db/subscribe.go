package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// subscribeCols are the leading columns of every SUBSCRIBE row.
var subscribeCols = types.Schema{
	{Name: "sluice_ts", Type: types.TTimestampTZ},
	{Name: "sluice_op", Type: types.TText},
}

type subscribeOpts struct {
	progress bool
}

func parseSubscribeOpts(opts []sql.Option) (subscribeOpts, error) {
	o := subscribeOpts{}
	for _, kv := range opts {
		b, err := checkBool(kv.Value)
		if err != nil {
			return o, sqlerr.New(sqlerr.InvalidParameterValue, "SUBSCRIBE option %s: %v", kv.Key, err)
		}
		switch kv.Key {
		case "progress":
			o.progress = b == "on"
		default:
			return o, sqlerr.New(sqlerr.InvalidParameterValue, "unknown SUBSCRIBE option %q", kv.Key).
				WithHint("SUBSCRIBE takes progress")
		}
	}
	return o, nil
}

// prepareSubscribe describes SUBSCRIBE [TO] view | (query). Rows are
// (sluice_ts, sluice_op, view columns...): sluice_op is 'insert' or
// 'delete' for changes and 'progress' for progress rows (WITH (progress)),
// whose view columns are NULL; sluice_ts is the processing time at which
// the change was read, or for progress rows the view's progress time.
// The view's current contents come first, as inserts.
func (s *session) prepareSubscribe(ctx context.Context, st *sql.Subscribe) (*prepared, error) {
	opts, err := parseSubscribeOpts(st.With)
	if err != nil {
		return nil, err
	}
	var viewCols types.Schema
	var temp *sql.CreateView
	if st.Query != nil {
		s.subSeq++
		temp = &sql.CreateView{Span: st.Query.Span, Name: fmt.Sprintf("__subscribe_%p_%d", s, s.subSeq), Query: st.Query}
		_, rel, err := planner.New(s.db).PlanView(temp)
		if err != nil {
			return nil, err
		}
		viewCols = rel.Cols
	} else {
		rel, err := s.db.Relation(st.View)
		if err != nil {
			return nil, err
		}
		viewCols = rel.Cols
		st.View = rel.Name
	}
	cols := append(append(types.Schema{}, subscribeCols...), viewCols...)
	return &prepared{cols: cols, run: func(ctx context.Context, _ []types.Value) (pgwire.Result, error) {
		r, err := s.startSubscribe(ctx, st.View, temp, len(viewCols), opts)
		if err != nil {
			return nil, err
		}
		return streamResult{r}, nil
	}}, nil
}

func (s *session) startSubscribe(ctx context.Context, view string, temp *sql.CreateView, width int, opts subscribeOpts) (*result, error) {
	cleanup := func() {}
	if temp != nil {
		m, _, err := planner.New(s.db).PlanView(temp)
		if err != nil {
			return nil, err
		}
		if err := s.db.engine.StartView(ctx, m); err != nil {
			return nil, err
		}
		view = m.Name
		cleanup = func() { _ = s.db.engine.Drop(m.Name) }
	}
	sub, err := s.db.engine.Subscribe(ctx, view)
	if err != nil {
		cleanup()
		return nil, err
	}
	r := &result{}
	r.next = func(ctx context.Context) (types.Row, error) {
		for {
			u, err := sub.Next(ctx)
			if err != nil {
				if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					return nil, sqlerr.Wrap(sqlerr.QueryCanceled, fmt.Errorf("canceling statement due to user request: %w", err))
				}
				return nil, err
			}
			row := make(types.Row, 2+width)
			if u.IsProgress {
				if !opts.progress {
					continue
				}
				row[0] = types.NewTimestampTZ(u.Progress.UnixMicro())
				row[1] = types.NewText("progress")
			} else {
				row[0] = types.NewTimestampTZ(s.db.cfg.Clock.Now().UnixMicro())
				if u.Op == chunk.Delete {
					row[1] = types.NewText("delete")
				} else {
					row[1] = types.NewText("insert")
				}
				copy(row[2:], u.Row)
			}
			r.count++
			return row, nil
		}
	}
	// ready must not promise a row that Next would then skip (a progress
	// update without WITH (progress)): pgwire calls Next without flushing
	// when ready says so. Skippable updates at the head are dropped here.
	r.ready = func() bool {
		for {
			u, ok := sub.Peek()
			if !ok {
				return sub.Ready() // true only when the subscription ended
			}
			if !u.IsProgress || opts.progress {
				return true
			}
			if _, err := sub.Next(context.Background()); err != nil {
				return true
			}
		}
	}
	r.tagFn = func() string { return fmt.Sprintf("SUBSCRIBE %d", r.count) }
	r.closeFn = func() error {
		sub.Close()
		cleanup()
		return nil
	}
	return r, nil
}

// cursor is a DECLAREd cursor. Subscription cursors are fed by a pump
// goroutine so that FETCH can wait with a timeout and then take what is
// already there without blocking.
type cursor struct {
	name   string
	cols   types.Schema
	res    pgwire.Result
	stream bool
	rows   chan cursorItem
	cancel context.CancelFunc
	done   chan struct{}
}

type cursorItem struct {
	row types.Row
	err error
}

func (c *cursor) close() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
	c.res.Close()
}

func (s *session) prepareDeclare(ctx context.Context, st *sql.DeclareCursor, paramTypes []types.Type) (*prepared, error) {
	inner, err := s.prepareStmt(ctx, st.Stmt, paramTypes)
	if err != nil {
		return nil, err
	}
	_, stream := st.Stmt.(*sql.Subscribe)
	name := strings.ToLower(st.Name)
	return &prepared{params: inner.params, run: func(ctx context.Context, params []types.Value) (pgwire.Result, error) {
		s.mu.Lock()
		_, dup := s.cursors[name]
		s.mu.Unlock()
		if dup {
			return nil, sqlerr.New("42P03", "cursor %q already exists", st.Name)
		}
		// The cursor outlives this statement: it runs on its own context,
		// cancelled by CLOSE or the end of the session.
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		res, err := inner.run(cctx, params)
		if err != nil {
			cancel()
			return nil, err
		}
		c := &cursor{name: name, cols: inner.cols, res: res, stream: stream}
		if stream {
			c.rows = make(chan cursorItem, 4096)
			c.cancel = cancel
			c.done = make(chan struct{})
			go func() {
				defer close(c.done)
				for {
					row, err := res.Next(cctx)
					if err == nil && row != nil {
						row = append(types.Row(nil), row...)
					}
					select {
					case c.rows <- cursorItem{row, err}:
					case <-cctx.Done():
						return
					}
					if err != nil || row == nil {
						return
					}
				}
			}()
		} else {
			defer cancel()
			c.cancel = nil
			rows, err := drain(cctx, res)
			if err != nil {
				return nil, err
			}
			c.res = rowsResult(rows, "SELECT")
		}
		s.mu.Lock()
		s.cursors[name] = c
		s.mu.Unlock()
		return &result{tag: "DECLARE CURSOR"}, nil
	}}, nil
}

func drain(ctx context.Context, res pgwire.Result) ([]types.Row, error) {
	defer res.Close()
	var rows []types.Row
	for {
		row, err := res.Next(ctx)
		if err != nil {
			return nil, err
		}
		if row == nil {
			return rows, nil
		}
		rows = append(rows, append(types.Row(nil), row...))
	}
}

func (s *session) cursor(name string) (*cursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cursors[strings.ToLower(name)]
	if !ok {
		return nil, sqlerr.New(sqlerr.InvalidCursorName, "cursor %q does not exist", name)
	}
	return c, nil
}

func (s *session) closeCursor(name string) error {
	if strings.EqualFold(name, "all") {
		return s.Close()
	}
	c, err := s.cursor(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.cursors, c.name)
	s.mu.Unlock()
	c.close()
	return nil
}

// prepareFetch describes FETCH [n] cursor [WITH (timeout = '1s')]. On a
// subscription it waits up to timeout (forever when absent) for the first
// row, then returns the rows already there, at most n.
func (s *session) prepareFetch(st *sql.Fetch) (*prepared, error) {
	c, err := s.cursor(st.Cursor)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(-1)
	for _, kv := range st.With {
		if kv.Key != "timeout" {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "unknown FETCH option %q", kv.Key).WithHint("FETCH takes timeout")
		}
		us, err := types.ParseInterval(kv.Value)
		if err != nil {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "FETCH timeout %q: %v", kv.Value, err)
		}
		timeout = time.Duration(us) * time.Microsecond
	}
	count := st.Count
	return &prepared{cols: c.cols, run: func(ctx context.Context, _ []types.Value) (pgwire.Result, error) {
		var rows []types.Row
		if !c.stream {
			for count < 0 || int64(len(rows)) < count {
				row, err := c.res.Next(ctx)
				if err != nil {
					return nil, err
				}
				if row == nil {
					break
				}
				rows = append(rows, row)
			}
			return fetchResult(rows), nil
		}
		wait := ctx
		if timeout >= 0 {
			var cancel context.CancelFunc
			wait, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		for count < 0 || int64(len(rows)) < count {
			var it cursorItem
			var ok bool
			if len(rows) == 0 {
				select {
				case it, ok = <-c.rows:
				case <-wait.Done():
					if ctx.Err() != nil {
						return nil, sqlerr.Wrap(sqlerr.QueryCanceled, ctx.Err())
					}
					return fetchResult(rows), nil
				}
			} else {
				select {
				case it, ok = <-c.rows:
				default:
					return fetchResult(rows), nil
				}
			}
			if !ok || it.row == nil {
				if it.err != nil {
					return nil, it.err
				}
				break
			}
			rows = append(rows, it.row)
		}
		return fetchResult(rows), nil
	}}, nil
}

func fetchResult(rows []types.Row) *result {
	r := rowsResult(rows, "")
	r.tagFn = func() string { return fmt.Sprintf("FETCH %d", len(rows)) }
	return r
}
