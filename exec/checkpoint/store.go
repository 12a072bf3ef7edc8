package checkpoint

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Sentinel errors.
var (
	// ErrNoCheckpoint is returned when a job has no usable checkpoint.
	ErrNoCheckpoint = errors.New("no usable checkpoint")
	// ErrCorrupt is returned (wrapped) for a file whose trailer or checksum
	// does not match its contents.
	ErrCorrupt = errors.New("corrupt checkpoint file")
	// ErrBadPart is returned for an invalid part name or an Unchanged part
	// without an earlier version.
	ErrBadPart = errors.New("invalid checkpoint part")
)

const (
	manifestPrefix = "manifest-"
	statePrefix    = "state-"
	tmpSuffix      = ".tmp"
	trailerLen     = 16
	magic          = "SLCK"
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	partName   = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)
	safeJob    = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// Options configures a Store.
type Options struct {
	// Keep is how many checkpoints per job survive garbage collection
	// (0 = 3).
	Keep int
	// NoSync skips fsync (tests and benchmarks of the engine's own cost).
	NoSync bool
}

// Store is the checkpoint directory of an engine.
type Store struct {
	dir  string
	opts Options

	mu   sync.Mutex
	jobs map[string]*JobStore
}

// Open returns the store rooted at dir, creating it.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Keep <= 0 {
		opts.Keep = 3
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create checkpoint directory: %w", err)
	}
	return &Store{dir: dir, opts: opts, jobs: map[string]*JobStore{}}, nil
}

// Dir returns the root directory.
func (s *Store) Dir() string { return s.dir }

// Job returns the store of one job's checkpoints.
func (s *Store) Job(name string) *JobStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[name]
	if j == nil {
		dn := name
		if !safeJob.MatchString(name) {
			dn = "x-" + hex.EncodeToString([]byte(name))
		}
		j = &JobStore{st: s, name: name, dir: filepath.Join(s.dir, dn)}
		s.jobs[name] = j
	}
	return j
}

// Part is one named piece of a checkpoint (typically one operator's
// state). With Unchanged set, Data is ignored and the part's file from the
// job's previous checkpoint is referenced again. With Write set, Data is
// ignored and Write streams the part's payload into its file instead, so
// a large part is never held in memory as one buffer.
type Part struct {
	Name      string
	Data      []byte
	Unchanged bool
	Write     func(w io.Writer) error
}

// Checkpoint is a loaded checkpoint.
type Checkpoint struct {
	Epoch uint64
	// Meta is the caller's metadata saved with the checkpoint.
	Meta []byte
	// Parts maps part names to their data.
	Parts map[string][]byte
	// Bytes is the total size of the part data.
	Bytes int64
}

// manifest is the JSON body of a manifest file.
type manifest struct {
	Job   string    `json:"job"`
	Epoch uint64    `json:"epoch"`
	Meta  []byte    `json:"meta,omitempty"`
	Parts []partRef `json:"parts"`
}

type partRef struct {
	Name string `json:"name"`
	File string `json:"file"`
	Size int64  `json:"size"`
	CRC  uint32 `json:"crc"`
}

// JobStore holds the checkpoints of one job.
type JobStore struct {
	st   *Store
	name string
	dir  string

	mu   sync.Mutex
	last *manifest     // the newest manifest saved or loaded
	bw   *bufio.Writer // reused by writeFile (under mu)
}

// Dir returns the job's directory.
func (j *JobStore) Dir() string { return j.dir }

// Save writes the checkpoint of epoch atomically: when it returns nil the
// checkpoint is durable; when the process dies during Save, the previous
// checkpoint stays usable. Epochs must increase.
func (j *JobStore) Save(epoch uint64, meta []byte, parts []Part) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.last != nil && epoch <= j.last.Epoch {
		return fmt.Errorf("save checkpoint %d of %s: epoch not after %d", epoch, j.name, j.last.Epoch)
	}
	if err := os.MkdirAll(j.dir, 0o755); err != nil {
		return fmt.Errorf("create checkpoint directory of %s: %w", j.name, err)
	}
	m := &manifest{Job: j.name, Epoch: epoch, Meta: meta}
	prev := map[string]partRef{}
	if j.last != nil {
		for _, p := range j.last.Parts {
			prev[p.Name] = p
		}
	}
	seen := map[string]bool{}
	for _, p := range parts {
		if !partName.MatchString(p.Name) || seen[p.Name] {
			return fmt.Errorf("save checkpoint %d of %s: %w %q", epoch, j.name, ErrBadPart, p.Name)
		}
		seen[p.Name] = true
		if p.Unchanged {
			ref, ok := prev[p.Name]
			if !ok {
				return fmt.Errorf("save checkpoint %d of %s: %w: %q unchanged but never saved", epoch, j.name, ErrBadPart, p.Name)
			}
			m.Parts = append(m.Parts, ref)
			continue
		}
		file := statePrefix + strconv.FormatUint(epoch, 10) + "-" + p.Name
		fill := p.Write
		if fill == nil {
			data := p.Data
			fill = func(w io.Writer) error { _, err := w.Write(data); return err }
		}
		size, crc, err := j.writeFile(file, fill)
		if err != nil {
			return fmt.Errorf("save checkpoint %d of %s: %w", epoch, j.name, err)
		}
		m.Parts = append(m.Parts, partRef{Name: p.Name, File: file, Size: size, CRC: crc})
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	if _, _, err := j.writeFile(manifestName(epoch), func(w io.Writer) error { _, err := w.Write(body); return err }); err != nil {
		return fmt.Errorf("save checkpoint %d of %s: %w", epoch, j.name, err)
	}
	if err := j.syncDir(); err != nil {
		return fmt.Errorf("save checkpoint %d of %s: %w", epoch, j.name, err)
	}
	j.last = m
	if err := j.gcLocked(); err != nil {
		return fmt.Errorf("garbage-collect checkpoints of %s: %w", j.name, err)
	}
	return nil
}

func manifestName(epoch uint64) string {
	return fmt.Sprintf("%s%020d", manifestPrefix, epoch)
}

// summer counts and checksums what passes through it to w.
type summer struct {
	w   io.Writer
	n   int64
	crc uint32
}

func (s *summer) Write(p []byte) (int, error) {
	s.crc = crc32.Update(s.crc, castagnoli, p)
	s.n += int64(len(p))
	return s.w.Write(p)
}

// writeFile writes the payload fill produces plus a trailer to name via a
// synced temp file; it returns the payload's size and CRC-32C.
func (j *JobStore) writeFile(name string, fill func(io.Writer) error) (int64, uint32, error) {
	tmp := filepath.Join(j.dir, name+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, 0, fmt.Errorf("create %s: %w", name, err)
	}
	if j.bw == nil {
		j.bw = bufio.NewWriterSize(f, 256<<10)
	}
	bw := j.bw
	bw.Reset(f)
	defer bw.Reset(nil) // do not keep the file
	sum := &summer{w: bw}
	werr := fill(sum)
	if werr == nil {
		var tr [trailerLen]byte
		binary.LittleEndian.PutUint32(tr[0:4], sum.crc)
		binary.LittleEndian.PutUint64(tr[4:12], uint64(sum.n))
		copy(tr[12:], magic)
		if _, werr = bw.Write(tr[:]); werr == nil {
			werr = bw.Flush()
		}
	}
	if werr == nil && !j.st.opts.NoSync {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return 0, 0, fmt.Errorf("write %s: %w", name, werr)
	}
	if err := os.Rename(tmp, filepath.Join(j.dir, name)); err != nil {
		return 0, 0, fmt.Errorf("rename %s: %w", name, err)
	}
	return sum.n, sum.crc, nil
}

func (j *JobStore) syncDir() error {
	if j.st.opts.NoSync {
		return nil
	}
	d, err := os.Open(j.dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// readFile reads name and checks its trailer; it returns the payload.
func (j *JobStore) readFile(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(j.dir, name))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return unframe(name, b)
}

func unframe(name string, b []byte) ([]byte, error) {
	if len(b) < trailerLen {
		return nil, fmt.Errorf("%w %s: %d bytes, shorter than its trailer", ErrCorrupt, name, len(b))
	}
	tr := b[len(b)-trailerLen:]
	payload := b[:len(b)-trailerLen]
	if string(tr[12:]) != magic {
		return nil, fmt.Errorf("%w %s: bad magic", ErrCorrupt, name)
	}
	if n := binary.LittleEndian.Uint64(tr[4:12]); n != uint64(len(payload)) {
		return nil, fmt.Errorf("%w %s: length %d, trailer says %d", ErrCorrupt, name, len(payload), n)
	}
	if c := crc32.Checksum(payload, castagnoli); c != binary.LittleEndian.Uint32(tr[0:4]) {
		return nil, fmt.Errorf("%w %s: checksum mismatch", ErrCorrupt, name)
	}
	return payload, nil
}

// Epochs lists the epochs that have a manifest file, newest first (whether
// or not they are valid).
func (j *JobStore) Epochs() ([]uint64, error) {
	ents, err := os.ReadDir(j.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list checkpoints of %s: %w", j.name, err)
	}
	var out []uint64
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, manifestPrefix) || strings.HasSuffix(n, tmpSuffix) {
			continue
		}
		ep, err := strconv.ParseUint(strings.TrimPrefix(n, manifestPrefix), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, ep)
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out, nil
}

// Load reads and validates the checkpoint of epoch.
func (j *JobStore) Load(epoch uint64) (*Checkpoint, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	cp, m, err := j.loadLocked(epoch)
	if err != nil {
		return nil, err
	}
	j.last = m
	return cp, nil
}

// manifestLocked reads and checks the manifest of checkpoint epoch.
func (j *JobStore) manifestLocked(epoch uint64) (*manifest, error) {
	body, err := j.readFile(manifestName(epoch))
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %d of %s: %w", epoch, j.name, err)
	}
	m := &manifest{}
	if err := json.Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("load checkpoint %d of %s: %w: manifest: %v", epoch, j.name, ErrCorrupt, err)
	}
	if m.Epoch != epoch || m.Job != j.name {
		return nil, fmt.Errorf("load checkpoint %d of %s: %w: manifest is of %s epoch %d", epoch, j.name, ErrCorrupt, m.Job, m.Epoch)
	}
	return m, nil
}

func (j *JobStore) loadLocked(epoch uint64) (*Checkpoint, *manifest, error) {
	m, err := j.manifestLocked(epoch)
	if err != nil {
		return nil, nil, err
	}
	cp := &Checkpoint{Epoch: epoch, Meta: m.Meta, Parts: make(map[string][]byte, len(m.Parts))}
	for _, p := range m.Parts {
		data, err := j.readFile(p.File)
		if err != nil {
			return nil, nil, fmt.Errorf("load checkpoint %d of %s: part %s: %w", epoch, j.name, p.Name, err)
		}
		if int64(len(data)) != p.Size || crc32.Checksum(data, castagnoli) != p.CRC {
			return nil, nil, fmt.Errorf("load checkpoint %d of %s: %w: part %s does not match its manifest", epoch, j.name, ErrCorrupt, p.Name)
		}
		cp.Parts[p.Name] = data
		cp.Bytes += int64(len(data))
	}
	return cp, m, nil
}

// Latest loads the newest valid checkpoint. Invalid newer checkpoints are
// skipped and reported through skipped (may be nil). It returns
// ErrNoCheckpoint when none is usable.
func (j *JobStore) Latest(skipped func(epoch uint64, err error)) (*Checkpoint, error) {
	eps, err := j.Epochs()
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, ep := range eps {
		cp, m, err := j.loadLocked(ep)
		if err != nil {
			if skipped != nil {
				skipped(ep, err)
			}
			continue
		}
		j.last = m
		return cp, nil
	}
	return nil, fmt.Errorf("%s: %w", j.name, ErrNoCheckpoint)
}

// LatestMeta returns the metadata of the newest checkpoint whose manifest
// reads back intact, without reading its parts (Latest may still skip
// that checkpoint for a corrupt part); nil when there is none.
func (j *JobStore) LatestMeta() ([]byte, error) {
	eps, err := j.Epochs()
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, ep := range eps {
		if m, err := j.manifestLocked(ep); err == nil {
			return m.Meta, nil
		}
	}
	return nil, nil
}

// Remove deletes every checkpoint of the job.
func (j *JobStore) Remove() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.last = nil
	if err := os.RemoveAll(j.dir); err != nil {
		return fmt.Errorf("remove checkpoints of %s: %w", j.name, err)
	}
	return nil
}

// gcLocked keeps the newest Keep manifests (the just-saved one among them)
// and removes every file none of them references.
func (j *JobStore) gcLocked() error {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return err
	}
	var eps []uint64
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, manifestPrefix) && !strings.HasSuffix(n, tmpSuffix) {
			if ep, err := strconv.ParseUint(strings.TrimPrefix(n, manifestPrefix), 10, 64); err == nil && ep <= j.last.Epoch {
				eps = append(eps, ep)
			}
		}
	}
	slices.Sort(eps)
	slices.Reverse(eps)
	keep := map[string]bool{}
	kept := 0
	for _, ep := range eps {
		name := manifestName(ep)
		if kept < j.st.opts.Keep {
			var m manifest
			if body, err := j.readFile(name); err == nil && json.Unmarshal(body, &m) == nil {
				kept++
				keep[name] = true
				for _, p := range m.Parts {
					keep[p.File] = true
				}
				continue
			}
		}
		if err := os.Remove(filepath.Join(j.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, e := range ents {
		n := e.Name()
		if keep[n] || strings.HasPrefix(n, manifestPrefix) && !strings.HasSuffix(n, tmpSuffix) {
			continue
		}
		if strings.HasPrefix(n, statePrefix) || strings.HasSuffix(n, tmpSuffix) {
			if err := os.Remove(filepath.Join(j.dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
