package db

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/sluice-db/sluice/sql/types"
)

// tableLog is the write-ahead log of a table or push source: every accepted
// batch of rows is appended and fsynced before the write is acknowledged,
// so that nothing a client was told was accepted is lost by a crash. On
// Open the log is replayed into the engine before any view starts.
//
// Record format: uint32 payload length, uint32 CRC-32 (IEEE) of the
// payload, payload = uvarint row count, then per row uvarint width and per
// value: kind byte, varint I, uvarint len(S), S. A torn tail (a crash in
// the middle of an append) is detected by length or CRC and cut off.
//
// Appends are group-committed: each append writes its record under mu,
// then waits for an fsync that covers it; while one fsync runs, other
// appends write theirs, and the next fsync covers them all.
type tableLog struct {
	mu      sync.Mutex // guards f, buf, written
	path    string
	f       *os.File
	buf     []byte
	written uint64 // records written

	syncMu sync.Mutex // serialises fsyncs; guards synced
	synced uint64     // records known durable
}

func tableLogPath(dataDir, name string) string {
	return filepath.Join(dataDir, "tables", name+".wal")
}

// openTableLog opens (creating) the log at path and returns the rows it
// holds, truncating a torn tail.
func openTableLog(path string) (*tableLog, []types.Row, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("create table log directory: %w", err)
	}
	rows, good, err := readTableLog(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open table log: %w", err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("truncate torn table log tail: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("seek table log: %w", err)
	}
	return &tableLog{path: path, f: f}, rows, nil
}

// readTableLog reads every intact record; good is the offset after the
// last intact one.
func readTableLog(path string) ([]types.Row, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open table log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var (
		rows []types.Row
		good int64
		hdr  [8]byte
	)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return rows, good, nil // clean end or torn header
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		sum := binary.LittleEndian.Uint32(hdr[4:])
		if n > 1<<30 {
			return rows, good, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil || crc32.ChecksumIEEE(payload) != sum {
			return rows, good, nil // torn or corrupt tail
		}
		batch, err := decodeRows(payload)
		if err != nil {
			return nil, 0, fmt.Errorf("table log %s at offset %d: %w", path, good, err)
		}
		rows = append(rows, batch...)
		good += int64(8 + n)
	}
}

// append writes rows durably: it returns once an fsync covers them.
func (l *tableLog) append(rows []types.Row) error {
	l.mu.Lock()
	if l.f == nil {
		l.mu.Unlock()
		return errors.New("table log is closed")
	}
	l.buf = append(l.buf[:0], make([]byte, 8)...)
	l.buf = encodeRows(l.buf, rows)
	payload := l.buf[8:]
	binary.LittleEndian.PutUint32(l.buf[:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(l.buf[4:8], crc32.ChecksumIEEE(payload))
	if _, err := l.f.Write(l.buf); err != nil {
		l.mu.Unlock()
		return fmt.Errorf("append to table log: %w", err)
	}
	l.written++
	mine, f := l.written, l.f
	l.mu.Unlock()

	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.synced >= mine {
		return nil // a group commit that started after our write covered it
	}
	l.mu.Lock()
	target := l.written
	l.mu.Unlock()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync table log: %w", err)
	}
	l.synced = target
	return nil
}

func (l *tableLog) close() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func encodeRows(b []byte, rows []types.Row) []byte {
	b = binary.AppendUvarint(b, uint64(len(rows)))
	for _, r := range rows {
		b = binary.AppendUvarint(b, uint64(len(r)))
		for _, v := range r {
			b = append(b, byte(v.K))
			b = binary.AppendVarint(b, v.I)
			b = binary.AppendUvarint(b, uint64(len(v.S)))
			b = append(b, v.S...)
		}
	}
	return b
}

var errBadRecord = errors.New("malformed table log record")

func decodeRows(b []byte) ([]types.Row, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errBadRecord
	}
	b = b[k:]
	rows := make([]types.Row, 0, n)
	for range n {
		w, k := binary.Uvarint(b)
		if k <= 0 || w > uint64(len(b)) {
			return nil, errBadRecord
		}
		b = b[k:]
		row := make(types.Row, w)
		for i := range row {
			if len(b) < 1 {
				return nil, errBadRecord
			}
			kind := types.Kind(b[0])
			b = b[1:]
			iv, k := binary.Varint(b)
			if k <= 0 {
				return nil, errBadRecord
			}
			b = b[k:]
			sl, k := binary.Uvarint(b)
			if k <= 0 || sl > uint64(len(b)-k) {
				return nil, errBadRecord
			}
			b = b[k:]
			row[i] = types.Value{K: kind, I: iv, S: string(b[:sl])}
			b = b[sl:]
		}
		rows = append(rows, row)
	}
	if len(b) != 0 {
		return nil, errBadRecord
	}
	return rows, nil
}
