package sql

import (
	"os"
	"strings"
	"testing"
)

// TestDocs parses every ```sql block of docs/sql.md, so that the reference
// shows only syntax the front end accepts. Blocks meant to show grammar or
// errors are fenced as ```text.
func TestDocs(t *testing.T) {
	b, err := os.ReadFile("../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sql" {
			continue
		}
		start := i + 1
		var sb strings.Builder
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			sb.WriteString(lines[i])
			sb.WriteByte('\n')
		}
		blocks++
		if _, err := Parse(sb.String()); err != nil {
			t.Errorf("docs/sql.md block at line %d: %s", start, formatErr(err))
		}
	}
	if blocks < 20 {
		t.Fatalf("found only %d sql blocks in docs/sql.md", blocks)
	}
}
