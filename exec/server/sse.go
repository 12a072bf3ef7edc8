package server

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sluice-db/sluice/connectors/format"
	"github.com/sluice-db/sluice/sql/types"
)

// livePage is GET /live/{view}: a self-contained page that renders a view
// from its server-sent events.
//
//go:embed live.html
var livePage []byte

// ErrNoSuchView is returned (possibly wrapped) by Subscriber.Subscribe for
// an unknown view; the endpoint answers 404.
var ErrNoSuchView = errors.New("no such view")

// Subscriber opens change streams of views (the database's SUBSCRIBE).
type Subscriber interface {
	Subscribe(ctx context.Context, view string) (Subscription, error)
}

// Subscription is one open change stream: the view's current rows as
// inserts first, then changes and progress marks as they happen.
type Subscription interface {
	// Schema is the columns of the view.
	Schema() types.Schema
	// Next blocks for the next update; it returns ctx's error when ctx
	// ends. The row is valid until the next call.
	Next(ctx context.Context) (Update, error)
	Close() error
}

// Update is one element of a subscription.
type Update struct {
	// Delete is true for a retraction, false for an insertion.
	Delete bool
	Row    types.Row
	// IsProgress marks a progress update: every change up to Progress
	// (the view's watermark) has been sent. Row is nil.
	IsProgress bool
	Progress   time.Time
}

// sseHandler serves GET /subscribe/{view} as server-sent events:
//
//	event: columns   data: [{"name":"campaign","type":"text"},...]   (once)
//	event: insert    data: {"campaign":"spring_sale","views":12,...}
//	event: delete    data: {...the retracted row...}
//	event: progress  data: {"progress":"2026-11-29T12:00:00Z"}
//
// and a ": keepalive" comment when nothing happened for a while.
type sseHandler struct {
	sub       Subscriber
	logger    *slog.Logger
	streams   context.Context
	keepalive time.Duration
}

// ColumnInfo is an element of the columns event.
type ColumnInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func (h *sseHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	view := r.PathValue("view")
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(h.streams, cancel)
	defer stop()
	sub, err := h.sub.Subscribe(ctx, view)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrNoSuchView) {
			code = http.StatusNotFound
		}
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	defer sub.Close()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	schema := sub.Schema()
	cols := make([]ColumnInfo, len(schema))
	for i, c := range schema {
		cols[i] = ColumnInfo{Name: c.Name, Type: c.Type.String()}
	}
	colJSON, _ := json.Marshal(cols)
	if _, err := fmt.Fprintf(w, "event: columns\ndata: %s\n\n", colJSON); err != nil {
		return
	}
	_ = rc.Flush()

	// One goroutine pulls updates (Next blocks); this one writes them and
	// the keepalives. The row is encoded before handing over, since it is
	// only valid until the next call to Next.
	type msg struct {
		event string
		data  []byte
		err   error
	}
	ch := make(chan msg)
	enc := format.NewJSONEncoder(schema)
	go func() {
		defer close(ch)
		for {
			u, err := sub.Next(ctx)
			var m msg
			switch {
			case err != nil:
				m.err = err
			case u.IsProgress:
				m.event = "progress"
				m.data, _ = json.Marshal(map[string]string{"progress": u.Progress.UTC().Format(time.RFC3339Nano)})
			case u.Delete:
				m.event, m.data = "delete", enc.Append(nil, u.Row)
			default:
				m.event, m.data = "insert", enc.Append(nil, u.Row)
			}
			select {
			case ch <- m:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	tick := time.NewTicker(h.keepalive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			_ = rc.Flush()
		case m, ok := <-ch:
			if !ok {
				return
			}
			if m.err != nil {
				if ctx.Err() == nil && h.logger != nil {
					h.logger.Warn("subscription ended", "view", view, "err", m.err)
				}
				if ctx.Err() == nil {
					errJSON, _ := json.Marshal(map[string]string{"error": m.err.Error()})
					fmt.Fprintf(w, "event: error\ndata: %s\n\n", errJSON)
					_ = rc.Flush()
				}
				return
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", m.event, m.data); err != nil {
				return
			}
			_ = rc.Flush()
		}
	}
}
