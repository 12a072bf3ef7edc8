package db

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-db/sluice/connectors"
)

// deadLetterFile is the dead-letter log in the data directory: one JSON
// object a line. It is written before a dead letter shows in the table
// (without fsync: a killed process loses nothing, a machine crash may lose
// the last lines) and read back on Open, so the table survives restarts.
// When it grows past deadLetterFileMax it is rotated to .1, keeping the
// newest letters on disk.
const (
	deadLetterFile    = "dead_letters.jsonl"
	deadLetterFileMax = 64 << 20
)

type deadLetterRecord struct {
	Source    string `json:"source"`
	Raw       []byte `json:"raw"`
	Reason    string `json:"reason"`
	Partition int    `json:"partition"`
	Offset    string `json:"offset"`
	// Replayable letters are kept once per source, partition and offset.
	Replayable bool      `json:"replayable,omitempty"`
	Time       time.Time `json:"time"`
}

// deadLetterLog keeps the most recent dead letters in memory for the
// sluice_dead_letters table and counts all of them. Connectors with a
// durable dead-letter destination (a Pulsar topic) write there as well; the
// table is the place a user looks first.
type deadLetterLog struct {
	mu    sync.Mutex
	path  string
	f     *os.File
	size  int64
	max   int
	buf   []connectors.DeadLetter
	next  int   // ring position once buf is full
	total int64 // every dead letter ever recorded
	per   map[string]int64
	// seen holds the identity (replayKey) of the replayable letters in buf:
	// the same input reported again, by another job reading the source or
	// by a replay after a restart, is not recorded a second time.
	seen map[string]bool
}

// replayKey identifies a replayable dead letter's input ("" when the
// letter is not replayable).
func replayKey(dl connectors.DeadLetter) string {
	if !dl.Replayable {
		return ""
	}
	return dl.Source + "\x00" + strconv.Itoa(dl.Partition) + "\x00" + dl.Offset
}

// open loads the dead letters kept in path (the older rotated file first)
// and opens it for appending.
func (l *deadLetterLog) open(path string) error {
	for _, p := range []string{path + ".1", path} {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open dead-letter log: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var r deadLetterRecord
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				continue // a torn last line
			}
			dl := connectors.DeadLetter{Source: r.Source, Raw: r.Raw, Reason: r.Reason, Partition: r.Partition, Offset: r.Offset,
				Replayable: r.Replayable, Time: r.Time}
			if k := replayKey(dl); k == "" || !l.seen[k] {
				l.addLocked(dl)
			}
		}
		f.Close()
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open dead-letter log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat dead-letter log: %w", err)
	}
	l.path, l.f, l.size = path, f, st.Size()
	return nil
}

func (l *deadLetterLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// persistLocked appends dl to the file, rotating it when it is full.
func (l *deadLetterLog) persistLocked(dl connectors.DeadLetter) error {
	if l.f == nil {
		return nil
	}
	b, err := json.Marshal(deadLetterRecord{Source: dl.Source, Raw: dl.Raw, Reason: dl.Reason, Partition: dl.Partition, Offset: dl.Offset,
		Replayable: dl.Replayable, Time: dl.Time})
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if l.size+int64(len(b)) > deadLetterFileMax {
		l.f.Close()
		if err := os.Rename(l.path, l.path+".1"); err != nil {
			return err
		}
		if l.f, err = os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err != nil {
			return err
		}
		l.size = 0
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	return err
}

// add records dl, unless it is a replayable letter already kept; it
// reports whether it did.
func (l *deadLetterLog) add(dl connectors.DeadLetter) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := replayKey(dl); k != "" && l.seen[k] {
		return false, nil
	}
	err := l.persistLocked(dl)
	l.addLocked(dl)
	return true, err
}

func (l *deadLetterLog) addLocked(dl connectors.DeadLetter) {
	if l.per == nil {
		l.per = map[string]int64{}
	}
	l.total++
	l.per[dl.Source]++
	if k := replayKey(dl); k != "" {
		if l.seen == nil {
			l.seen = map[string]bool{}
		}
		l.seen[k] = true
	}
	if len(l.buf) < l.max {
		l.buf = append(l.buf, dl)
		return
	}
	if k := replayKey(l.buf[l.next]); k != "" {
		delete(l.seen, k)
	}
	l.buf[l.next] = dl
	l.next = (l.next + 1) % l.max
}

// list returns the kept dead letters, oldest first.
func (l *deadLetterLog) list() []connectors.DeadLetter {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]connectors.DeadLetter, 0, len(l.buf))
	out = append(out, l.buf[l.next:]...)
	out = append(out, l.buf[:l.next]...)
	return out
}

func (l *deadLetterLog) counts() (int64, map[string]int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int64, len(l.per))
	for k, v := range l.per {
		m[k] = v
	}
	return l.total, m
}

// RecordDeadLetter records an input a source or the HTTP ingest could not
// decode. It never blocks for long.
func (d *DB) RecordDeadLetter(dl connectors.DeadLetter) {
	if dl.Time.IsZero() {
		dl.Time = d.cfg.Clock.Now()
	}
	if len(dl.Raw) > 1<<20 {
		dl.Raw = dl.Raw[:1<<20] // keep memory bounded; the reason says the size
		dl.Reason += " (raw bytes truncated to 1 MiB)"
	}
	added, err := d.dead.add(dl)
	if err != nil {
		d.log.Error("write dead-letter log", "err", err)
	}
	if !added {
		return // the same input, read again (another job, or a replay)
	}
	d.log.Debug("dead letter", "source", dl.Source, "reason", dl.Reason, "offset", dl.Offset, "at", dl.Time.Format(time.RFC3339Nano))
}

// DeadLetterCounts returns how many dead letters were recorded in all and
// per source since the process started (the table keeps only the newest
// 10 000; the counts keep everything).
func (d *DB) DeadLetterCounts() (int64, map[string]int64) { return d.dead.counts() }
