package db

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
)

// catalogFile is the name of the catalog in the data directory.
const catalogFile = "catalog.json"

// storedObject is one catalog entry as persisted: the DDL that created it.
// Replaying the entries in order through the normal statement path rebuilds
// the catalog, so the stored form never drifts from what the planner
// accepts.
type storedObject struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // source, table, view, sink
	SQL  string `json:"sql"`
	OID  uint32 `json:"oid"`
}

type storedCatalog struct {
	Version int            `json:"version"`
	NextOID uint32         `json:"next_oid"`
	Objects []storedObject `json:"objects"`
	// Checksum is the CRC-32 of the JSON encoding of Objects, so that a torn
	// or edited file is detected instead of half-loaded.
	Checksum uint32 `json:"checksum"`
}

// loadCatalog reads the catalog from dir; a missing file is an empty catalog.
func loadCatalog(dir string) (*storedCatalog, error) {
	b, err := os.ReadFile(filepath.Join(dir, catalogFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &storedCatalog{Version: 1, NextOID: firstUserOID}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	var c storedCatalog
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode catalog %s: %w", filepath.Join(dir, catalogFile), err)
	}
	objs, err := json.Marshal(c.Objects)
	if err != nil {
		return nil, fmt.Errorf("encode catalog objects: %w", err)
	}
	if crc32.ChecksumIEEE(objs) != c.Checksum {
		return nil, fmt.Errorf("catalog %s is corrupt: checksum mismatch", filepath.Join(dir, catalogFile))
	}
	if c.NextOID < firstUserOID {
		c.NextOID = firstUserOID
	}
	return &c, nil
}

// saveCatalog writes the catalog atomically: a temporary file, fsync,
// rename, fsync of the directory. A crash leaves the old or the new file.
func saveCatalog(dir string, c *storedCatalog) error {
	objs, err := json.Marshal(c.Objects)
	if err != nil {
		return fmt.Errorf("encode catalog objects: %w", err)
	}
	c.Checksum = crc32.ChecksumIEEE(objs)
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode catalog: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, catalogFile), b)
}

func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
