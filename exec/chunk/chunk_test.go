package chunk

import (
	"testing"

	"github.com/sluice-db/sluice/sql/types"
)

// TestAppendEmptyIsNull checks that AppendEmpty returns a row of NULLs
// whether it grows the chunk or reuses capacity that held rows before
// (after Truncate or Reset).
func TestAppendEmptyIsNull(t *testing.T) {
	c := New(3, 2)
	for i := range 5 { // past the capacity
		row := c.AppendEmpty(Insert, int64(i))
		for k, v := range row {
			if !v.IsNull() {
				t.Fatalf("row %d col %d: %v, want NULL", i, k, v)
			}
		}
		row[0], row[1], row[2] = types.NewInt(int64(i)), types.NewText("x"), types.NewBool(true)
	}
	if c.Len() != 5 || len(c.Vals) != 15 || c.Times[4] != 4 {
		t.Fatalf("len %d, values %d, times %v", c.Len(), len(c.Vals), c.Times)
	}
	c.Truncate(2)
	row := c.AppendEmpty(Delete, 7)
	for k, v := range row {
		if !v.IsNull() {
			t.Fatalf("after Truncate col %d: %v, want NULL", k, v)
		}
	}
	if got := c.Row(1)[0]; got.I != 1 {
		t.Fatalf("row 1 changed: %v", got)
	}
	if c.Ops[2] != Delete || c.Times[2] != 7 {
		t.Fatalf("op %v time %d", c.Ops[2], c.Times[2])
	}
	c.Reset()
	if row := c.AppendEmpty(Insert, 0); !row[0].IsNull() || !row[1].IsNull() {
		t.Fatalf("after Reset: %v", row)
	}
}

// TestMoreIsPerChunk checks that More does not survive Reset or Clone.
func TestMoreIsPerChunk(t *testing.T) {
	c := New(1, 1)
	c.Append(Insert, 1, types.Row{types.NewInt(1)})
	c.More = true
	if d := c.Clone(); d.More || d.Len() != 1 {
		t.Fatalf("clone: more %v, len %d", d.More, d.Len())
	}
	c.Reset()
	if c.More {
		t.Fatal("Reset kept More")
	}
}

// TestAppendRow checks that AppendRow adds a row of the chunk's width
// that the caller fills, in place and past the capacity.
func TestAppendRow(t *testing.T) {
	c := New(2, 1)
	for i := range 3 {
		row := c.AppendRow(Insert, int64(i))
		if len(row) != 2 || cap(row) != 2 {
			t.Fatalf("row %d: len %d cap %d", i, len(row), cap(row))
		}
		row[0], row[1] = types.NewInt(int64(i)), types.NewInt(int64(-i))
	}
	for i := range 3 {
		if r := c.Row(i); r[0].I != int64(i) || r[1].I != int64(-i) || c.Times[i] != int64(i) {
			t.Fatalf("row %d: %v at %d", i, r, c.Times[i])
		}
	}
}
