package exec

import (
	"fmt"
	"testing"

	"github.com/sluice-db/sluice/exec/checkpoint"
)

// TestRestoreGivesTheCheckpointedContents restarts every view of ckViews
// from a checkpoint taken with nothing read after it, at parallelism 1
// and 2: right after the restore, before any further event, each view
// holds exactly what it held at the checkpoint. A GROUP BY view's
// contents are rebuilt from its aggregates (checkpoint_derived.go), and
// its checkpoint has no view parts; every other view's has.
func TestRestoreGivesTheCheckpointedContents(t *testing.T) {
	derived := map[string]bool{"groupby": true, "groupby-having": true}
	for _, par := range []int{1, 2} {
		t.Run(fmt.Sprintf("parallelism=%d", par), func(t *testing.T) {
			dir := t.TempDir()
			g := newGate(t, ckTotal)
			cfg := Config{Parallelism: par, CheckpointDir: dir}
			r := startCkRunCfg(t, cfg, g, nil)
			getGate(g).set(1000)
			r.waitRead(1000)
			r.checkpoint()
			getGate(g).set(2345) // the second checkpoint's parts are deltas
			r.waitRead(2345)
			r.checkpoint()
			want := r.contents()
			r.crash()

			st, err := checkpoint.Open(dir, checkpoint.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range ckViews {
				cp, err := st.Job(v.name).Latest(nil)
				if err != nil {
					t.Fatal(err)
				}
				_, hasView := cp.Parts["tb"]
				if hasView == derived[v.name] {
					t.Errorf("view %s: checkpoint has view parts %v, want %v", v.name, hasView, !derived[v.name])
				}
			}

			r = startCkRunCfg(t, cfg, g, nil) // the gate stays at 2345: nothing more is read
			defer r.crash()
			got := r.contents()
			for _, v := range ckViews {
				if got[v.name] != want[v.name] {
					t.Errorf("view %s after the restore differs from its checkpoint:\n%s", v.name, diffLines(got[v.name], want[v.name]))
				}
				if derived[v.name] && want[v.name] == "" {
					t.Errorf("view %s was empty at the checkpoint", v.name)
				}
			}
		})
	}
}
