package slt

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/exec"
)

// TestScripts runs every testdata/*.slt script on a fresh engine.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.slt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".slt"), func(t *testing.T) {
			r := NewRunner(exec.Config{})
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
