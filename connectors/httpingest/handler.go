package httpingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/connectors/format"
	"github.com/sluice-db/sluice/sql/types"
)

// ErrNotFound is returned by Target.IngestRelation for a name that is no
// table or source.
var ErrNotFound = errors.New("no such table or source")

// Relation is what the handler needs to know about an ingest target.
type Relation struct {
	Name string
	// Push is true for tables and http sources; other sources (pulsar,
	// datagen, ...) and views cannot be written to.
	Push bool
	// Schema is the physical columns, decoded from each JSON object by name.
	Schema types.Schema
	// Options are the WITH options (token, json_missing).
	Options map[string]string
}

// Target is the database as the handler sees it.
type Target interface {
	// IngestRelation describes a table or source; ErrNotFound (wrapped or
	// not) when there is none of that name.
	IngestRelation(name string) (Relation, error)
	// Ingest appends rows to a table or push source. When it returns nil,
	// the rows are the database's: they are not lost by a later failure.
	Ingest(ctx context.Context, source string, rows []types.Row) error
	// RecordDeadLetter keeps a rejected input in sluice_dead_letters.
	RecordDeadLetter(dl connectors.DeadLetter)
}

// Config configures the handler.
type Config struct {
	// Token, when set, is the bearer token every request needs (an http
	// source's own token option takes precedence for that source).
	Token string
	// MaxBody is the largest body accepted (413 above it).
	MaxBody int64
	// MaxErrors caps the errors listed in a response (default 100).
	MaxErrors int
	// Now stamps dead letters (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
	// Registerer, when set, receives sluice_http_ingest_* metrics.
	Registerer prometheus.Registerer
}

// Response is the JSON body of every ingest response.
type Response struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	// Errors lists rejected rows (line: 1-based line of the row in the
	// body) or, with Line 0, what was wrong with the request.
	Errors []RowError `json:"errors"`
	// ErrorsTruncated is true when more rows were rejected than listed.
	ErrorsTruncated bool `json:"errors_truncated,omitempty"`
}

// RowError is one rejected row.
type RowError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// Handler serves POST /ingest/{source}.
type Handler struct {
	t        Target
	cfg      Config
	requests *prometheus.CounterVec
	rows     *prometheus.CounterVec
	bytes    prometheus.Counter
}

// NewHandler returns the ingest handler. Mount it on a pattern with a
// {source} wildcard, such as "/ingest/{source}".
func NewHandler(t Target, cfg Config) *Handler {
	if cfg.MaxErrors <= 0 {
		cfg.MaxErrors = 100
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		t:   t,
		cfg: cfg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_http_ingest_requests_total", Help: "HTTP ingest requests by response status code.",
		}, []string{"code"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_http_ingest_rows_total", Help: "Rows received by HTTP ingest, by source and result (accepted or rejected).",
		}, []string{"source", "result"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_http_ingest_bytes_total", Help: "Request body bytes read by HTTP ingest.",
		}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(h.requests, h.rows, h.bytes)
	}
	return h
}

// acceptedTypes are the media types of a JSON body.
var acceptedTypes = map[string]bool{
	"application/json":        true,
	"application/x-ndjson":    true,
	"application/ndjson":      true,
	"application/jsonl":       true,
	"application/x-jsonlines": true,
	"application/jsonlines":   true,
}

func (h *Handler) reply(w http.ResponseWriter, code int, resp Response) {
	h.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	if resp.Errors == nil {
		resp.Errors = []RowError{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(resp)
}

func (h *Handler) fail(w http.ResponseWriter, code int, msg string) {
	h.reply(w, code, Response{Errors: []RowError{{Line: 0, Error: msg}}})
}

func tokenOK(r *http.Request, want string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) == 1
}

// ServeHTTP implements http.Handler. Status codes: 200 when the body was
// processed (rows that did not fit are counted in rejected, listed in errors
// and kept as dead letters); 400 for a body that is not JSON at all (a
// broken JSON array: nothing is accepted); 401 missing or wrong bearer
// token; 404 unknown table or source; 405 a method other than POST; 409 a
// source that is not a push source; 413 a body over the limit (compressed
// or, with Content-Encoding: gzip, decompressed); 415 a content type other
// than JSON / NDJSON or an encoding other than gzip; 500/503 when the
// database could not take the rows (nothing was accepted).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: use POST")
		return
	}
	name := r.PathValue("source")
	unauthorized := func() {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
		h.fail(w, http.StatusUnauthorized, "missing or wrong bearer token")
	}
	rel, err := h.t.IngestRelation(name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			// Without the global token a caller learns nothing about
			// which sources exist.
			if h.cfg.Token != "" && !tokenOK(r, h.cfg.Token) {
				unauthorized()
				return
			}
			h.fail(w, http.StatusNotFound, fmt.Sprintf("no table or source named %q", name))
			return
		}
		h.fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	// An http source's own token replaces the global one for that source.
	want := h.cfg.Token
	if tok := rel.Options["token"]; tok != "" {
		want = tok
	}
	if want != "" && !tokenOK(r, want) {
		unauthorized()
		return
	}
	if !rel.Push {
		h.fail(w, http.StatusConflict, fmt.Sprintf("%q is not a push source: only tables and sources WITH (connector = 'http') take rows over HTTP", name))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !acceptedTypes[mt] {
			h.fail(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q not supported: send application/json (a JSON array or one object) or application/x-ndjson", ct))
			return
		}
	}
	if r.ContentLength > h.cfg.MaxBody {
		h.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes exceeds the limit of %d bytes", r.ContentLength, h.cfg.MaxBody))
		return
	}
	var in io.Reader = http.MaxBytesReader(w, r.Body, h.cfg.MaxBody)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(in)
		if err != nil {
			h.fail(w, http.StatusBadRequest, "read gzip body: "+err.Error())
			return
		}
		defer zr.Close()
		// The limit applies to the decompressed body as well.
		in = &limitedReader{r: zr, n: h.cfg.MaxBody}
	default:
		h.fail(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content encoding %q not supported: send gzip or none", enc))
		return
	}
	body, err := io.ReadAll(in)
	h.bytes.Add(float64(len(body)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, errTooLarge) {
			h.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds the limit of %d bytes", h.cfg.MaxBody))
			return
		}
		h.fail(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	items, err := split(body)
	if err != nil {
		h.deadLetter(rel.Name, body, err.Error(), 1)
		h.rows.WithLabelValues(rel.Name, "rejected").Inc()
		h.reply(w, http.StatusBadRequest, Response{Rejected: 1, Errors: []RowError{{Line: 1, Error: err.Error()}}})
		return
	}
	dec, err := format.NewDecoder("json", rel.Schema, rel.Options)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "create decoder: "+err.Error())
		return
	}
	var resp Response
	rows := make([]types.Row, 0, len(items))
	vals := make([]types.Value, len(items)*len(rel.Schema))
	for _, it := range items {
		row := vals[:len(rel.Schema):len(rel.Schema)]
		if err := dec.Decode(it.raw, row); err != nil {
			if errors.Is(err, format.ErrSkipRow) {
				continue
			}
			resp.Rejected++
			if len(resp.Errors) < h.cfg.MaxErrors {
				resp.Errors = append(resp.Errors, RowError{Line: it.line, Error: err.Error()})
			} else {
				resp.ErrorsTruncated = true
			}
			h.deadLetter(rel.Name, it.raw, err.Error(), it.line)
			continue
		}
		vals = vals[len(rel.Schema):]
		rows = append(rows, row)
	}
	if len(rows) > 0 {
		if err := h.t.Ingest(r.Context(), rel.Name, rows); err != nil {
			h.cfg.Logger.Warn("ingest failed", "source", rel.Name, "rows", len(rows), "err", err)
			code := http.StatusInternalServerError
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				code = http.StatusServiceUnavailable
			}
			resp.Errors = append(resp.Errors, RowError{Line: 0, Error: "ingest: " + err.Error()})
			h.rows.WithLabelValues(rel.Name, "rejected").Add(float64(resp.Rejected))
			h.reply(w, code, resp)
			return
		}
	}
	resp.Accepted = len(rows)
	h.rows.WithLabelValues(rel.Name, "accepted").Add(float64(resp.Accepted))
	h.rows.WithLabelValues(rel.Name, "rejected").Add(float64(resp.Rejected))
	h.reply(w, http.StatusOK, resp)
}

func (h *Handler) deadLetter(source string, raw []byte, reason string, line int) {
	h.t.RecordDeadLetter(connectors.DeadLetter{
		Source: source,
		Raw:    bytes.Clone(raw),
		Reason: reason,
		Offset: "http line " + strconv.Itoa(line),
		Time:   h.cfg.Now(),
	})
}

// errTooLarge is returned by limitedReader past its limit.
var errTooLarge = errors.New("body too large")

// limitedReader fails with errTooLarge once more than n bytes were read.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, errTooLarge
	}
	return n, err
}

// item is one row's raw JSON and its 1-based line in the body.
type item struct {
	raw  []byte
	line int
}

// split cuts a body into rows: a JSON array (its elements), one JSON
// object spanning several lines, or newline-delimited JSON (one row per
// non-blank line; a malformed line is one rejected row). Only a body that
// starts as an array but is not valid JSON is an error.
func split(body []byte) ([]item, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] == '[' {
		return splitArray(body)
	}
	if trimmed[0] == '{' && bytes.IndexByte(trimmed, '\n') >= 0 && json.Valid(trimmed) {
		return []item{{raw: trimmed, line: 1 + bytes.Count(body[:bytes.Index(body, trimmed[:1])], []byte("\n"))}}, nil
	}
	var out []item
	line := 0
	for len(body) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		// The raw bytes of a row are the line as sent, without its line
		// ending.
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		out = append(out, item{raw: l, line: line})
	}
	return out, nil
}

func splitArray(body []byte) ([]item, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON array: %w", err)
	}
	var out []item
	for dec.More() {
		off := int(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("invalid JSON array: %w", err)
		}
		// Skip the separator to find where the element starts.
		for off < len(body) && (body[off] == ',' || body[off] == ' ' || body[off] == '\t' || body[off] == '\r' || body[off] == '\n') {
			off++
		}
		out = append(out, item{raw: raw, line: 1 + bytes.Count(body[:off], []byte("\n"))})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON array: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON array: data after the closing ]")
	}
	return out, nil
}
