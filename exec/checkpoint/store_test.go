package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func open(t *testing.T, keep int) (*Store, *JobStore) {
	t.Helper()
	s, err := Open(t.TempDir(), Options{Keep: keep})
	if err != nil {
		t.Fatal(err)
	}
	return s, s.Job("v1")
}

func mustSave(t *testing.T, j *JobStore, ep uint64, parts ...Part) {
	t.Helper()
	if err := j.Save(ep, []byte(fmt.Sprintf("meta%d", ep)), parts); err != nil {
		t.Fatal(err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	_, j := open(t, 3)
	mustSave(t, j, 1, Part{Name: "op0", Data: []byte("alpha")}, Part{Name: "op1", Data: nil})
	cp, err := j.Latest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Epoch != 1 || string(cp.Meta) != "meta1" || string(cp.Parts["op0"]) != "alpha" || len(cp.Parts["op1"]) != 0 {
		t.Fatalf("got %+v", cp)
	}
	if _, ok := cp.Parts["op1"]; !ok {
		t.Fatal("empty part missing")
	}
}

func TestIncrementalUnchangedPartsAreNotRewritten(t *testing.T) {
	_, j := open(t, 3)
	big := bytes.Repeat([]byte("x"), 1<<16)
	mustSave(t, j, 1, Part{Name: "big", Data: big}, Part{Name: "small", Data: []byte("a")})
	mustSave(t, j, 2, Part{Name: "big", Unchanged: true}, Part{Name: "small", Data: []byte("b")})
	files, _ := filepath.Glob(filepath.Join(j.Dir(), "state-*-big"))
	if len(files) != 1 || !strings.HasSuffix(files[0], "state-1-big") {
		t.Fatalf("big part files: %v", files)
	}
	cp, err := j.Latest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Epoch != 2 || !bytes.Equal(cp.Parts["big"], big) || string(cp.Parts["small"]) != "b" {
		t.Fatalf("epoch %d small %q", cp.Epoch, cp.Parts["small"])
	}
	// Unchanged without a previous version is refused.
	err = j.Save(3, nil, []Part{{Name: "never", Unchanged: true}})
	if !errors.Is(err, ErrBadPart) {
		t.Fatalf("err = %v", err)
	}
	if err := j.Save(2, nil, nil); err == nil {
		t.Fatal("an epoch that does not increase was accepted")
	}
}

func TestCorruptNewestFallsBackToPrevious(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"flipped byte in state", func(t *testing.T, dir string) { flip(t, filepath.Join(dir, "state-2-op0"), 1) }},
		{"flipped byte in manifest", func(t *testing.T, dir string) { flip(t, filepath.Join(dir, manifestName(2)), 3) }},
		{"truncated state", func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, "state-2-op0"), 3) }},
		{"truncated manifest", func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, manifestName(2)), 10) }},
		{"missing state", func(t *testing.T, dir string) { rm(t, filepath.Join(dir, "state-2-op0")) }},
		{"empty manifest", func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, manifestName(2)), 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, j := open(t, 3)
			mustSave(t, j, 1, Part{Name: "op0", Data: []byte("one")})
			mustSave(t, j, 2, Part{Name: "op0", Data: []byte("two")})
			tc.damage(t, j.Dir())
			// A fresh store, as after a restart.
			s2, _ := Open(s.Dir(), Options{})
			var skipped []uint64
			cp, err := s2.Job("v1").Latest(func(ep uint64, err error) {
				skipped = append(skipped, ep)
				if err == nil {
					t.Error("skipped without an error")
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if cp.Epoch != 1 || string(cp.Parts["op0"]) != "one" {
				t.Fatalf("got epoch %d %q", cp.Epoch, cp.Parts["op0"])
			}
			if !slices.Equal(skipped, []uint64{2}) {
				t.Fatalf("skipped %v", skipped)
			}
		})
	}
}

func TestHalfWrittenCheckpointIsIgnored(t *testing.T) {
	s, j := open(t, 3)
	mustSave(t, j, 1, Part{Name: "op0", Data: []byte("one")})
	// A crash during Save of epoch 2: its state file was renamed, its
	// manifest never was (only a temp file exists).
	if err := os.WriteFile(filepath.Join(j.Dir(), "state-2-op0"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(j.Dir(), manifestName(2)+tmpSuffix), []byte("{\"job\":"), 0o644); err != nil {
		t.Fatal(err)
	}
	j2 := mustOpen(t, s.Dir()).Job("v1")
	cp, err := j2.Latest(nil)
	if err != nil || cp.Epoch != 1 {
		t.Fatalf("cp %v err %v", cp, err)
	}
	// The next save cleans the debris up.
	mustSave(t, j2, 3, Part{Name: "op0", Unchanged: true})
	for _, n := range []string{"state-2-op0", manifestName(2) + tmpSuffix} {
		if _, err := os.Stat(filepath.Join(j2.Dir(), n)); !os.IsNotExist(err) {
			t.Errorf("%s survived: %v", n, err)
		}
	}
	cp, err = j2.Latest(nil)
	if err != nil || cp.Epoch != 3 || string(cp.Parts["op0"]) != "one" {
		t.Fatalf("cp %+v err %v", cp, err)
	}
}

func TestNoCheckpoint(t *testing.T) {
	_, j := open(t, 3)
	if _, err := j.Latest(nil); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("err = %v", err)
	}
	mustSave(t, j, 1, Part{Name: "op0", Data: []byte("one")})
	flip(t, filepath.Join(j.Dir(), "state-1-op0"), 0)
	if _, err := mustOpen(t, filepath.Dir(j.Dir())).Job("v1").Latest(nil); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("err = %v", err)
	}
}

func TestGarbageCollection(t *testing.T) {
	_, j := open(t, 2)
	mustSave(t, j, 1, Part{Name: "a", Data: []byte("a1")}, Part{Name: "b", Data: []byte("b1")})
	for ep := uint64(2); ep <= 6; ep++ {
		// a never changes after epoch 1: its file must survive GC.
		mustSave(t, j, ep, Part{Name: "a", Unchanged: true}, Part{Name: "b", Data: []byte(fmt.Sprintf("b%d", ep))})
	}
	eps, err := j.Epochs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(eps, []uint64{6, 5}) {
		t.Fatalf("epochs %v", eps)
	}
	ents, _ := os.ReadDir(j.Dir())
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{manifestName(5), manifestName(6), "state-1-a", "state-5-b", "state-6-b"}
	if !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	cp, err := j.Load(5)
	if err != nil || string(cp.Parts["a"]) != "a1" || string(cp.Parts["b"]) != "b5" {
		t.Fatalf("cp %+v err %v", cp, err)
	}
}

func TestJobNamesAreIsolatedAndEscaped(t *testing.T) {
	s, _ := open(t, 3)
	a, b := s.Job("Weird/../name"), s.Job("plain")
	mustSave(t, a, 1, Part{Name: "p", Data: []byte("a")})
	mustSave(t, b, 1, Part{Name: "p", Data: []byte("b")})
	if filepath.Dir(a.Dir()) != s.Dir() || strings.Contains(filepath.Base(a.Dir()), "/") {
		t.Fatalf("dir %s", a.Dir())
	}
	ca, _ := a.Latest(nil)
	cb, _ := b.Latest(nil)
	if string(ca.Parts["p"]) != "a" || string(cb.Parts["p"]) != "b" {
		t.Fatal("jobs share state")
	}
	if err := a.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Latest(nil); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("err = %v", err)
	}
	if err := a.Save(1, nil, []Part{{Name: "bad/name", Data: nil}}); !errors.Is(err, ErrBadPart) {
		t.Fatalf("err = %v", err)
	}
}

func mustOpen(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func flip(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string, n int64) {
	t.Helper()
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
}

func rm(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkSave(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20, 16 << 20} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			s, _ := Open(b.TempDir(), Options{})
			j := s.Job("bench")
			data := bytes.Repeat([]byte{7}, size)
			b.SetBytes(int64(size))
			ep := uint64(0)
			for b.Loop() {
				ep++
				if err := j.Save(ep, nil, []Part{{Name: "p", Data: data}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestStreamedPartRoundTripAndFailure(t *testing.T) {
	_, j := open(t, 3)
	big := bytes.Repeat([]byte("0123456789"), 100_000) // larger than the write buffer
	write := func(w io.Writer) error {
		for i := 0; i < len(big); i += 4096 {
			if _, err := w.Write(big[i:min(i+4096, len(big))]); err != nil {
				return err
			}
		}
		return nil
	}
	mustSave(t, j, 1, Part{Name: "view", Write: write}, Part{Name: "op", Data: []byte("a")})
	// A part whose writer fails half-way leaves checkpoint 1 the latest,
	// and no file of checkpoint 2 behind.
	errBroken := errors.New("broken")
	err := j.Save(2, nil, []Part{{Name: "view", Write: func(w io.Writer) error {
		if _, err := w.Write(big[:1000]); err != nil {
			return err
		}
		return errBroken
	}}, {Name: "op", Data: []byte("b")}})
	if !errors.Is(err, errBroken) {
		t.Fatalf("save with a failing writer: %v", err)
	}
	cp, err := j.Latest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Epoch != 1 || !bytes.Equal(cp.Parts["view"], big) || string(cp.Parts["op"]) != "a" {
		t.Fatalf("epoch %d, view %d bytes, op %q", cp.Epoch, len(cp.Parts["view"]), cp.Parts["op"])
	}
	if left, _ := filepath.Glob(filepath.Join(j.Dir(), "*-2*")); len(left) != 0 {
		t.Fatalf("files of the failed checkpoint: %v", left)
	}
}

// LatestMeta reads the newest intact manifest's metadata without the
// parts; nothing when the job has no checkpoint.
func TestLatestMeta(t *testing.T) {
	s, j := open(t, 3)
	if m, err := j.LatestMeta(); err != nil || m != nil {
		t.Fatalf("no checkpoint: meta %q, err %v", m, err)
	}
	mustSave(t, j, 1, Part{Name: "op0", Data: []byte("one")})
	mustSave(t, j, 2, Part{Name: "op0", Data: []byte("two")})
	s2, _ := Open(s.Dir(), Options{})
	if m, err := s2.Job("v1").LatestMeta(); err != nil || string(m) != "meta2" {
		t.Fatalf("meta %q, err %v; want meta2", m, err)
	}
	flip(t, filepath.Join(j.Dir(), manifestName(2)), 3)
	s3, _ := Open(s.Dir(), Options{})
	if m, err := s3.Job("v1").LatestMeta(); err != nil || string(m) != "meta1" {
		t.Fatalf("after the newest manifest was damaged: meta %q, err %v; want meta1", m, err)
	}
}
