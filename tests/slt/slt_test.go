package slt

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/exec"
)

// TestScripts runs every testdata/*.slt script on a fresh engine, with one
// worker and with three: the keyed operators' copies must not change a
// result.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.slt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, par := range []int{1, 3} {
		for _, f := range files {
			t.Run(fmt.Sprintf("%s/workers=%d", strings.TrimSuffix(filepath.Base(f), ".slt"), par), func(t *testing.T) {
				r := NewRunner(exec.Config{Parallelism: par})
				defer func() {
					if err := r.Close(); err != nil {
						t.Error(err)
					}
				}()
				if err := r.RunFile(context.Background(), f); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
