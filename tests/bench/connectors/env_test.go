package connectors

import (
	"os"
	"testing"
)

func need(b testing.TB, names ...string) []string {
	b.Helper()
	var out []string
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			if os.Getenv("CI") == "true" {
				b.Fatalf("%s not set under CI: start tests/services/*.sh", n)
			}
			b.Skipf("%s not set: start the service with tests/services/*.sh and export its env lines", n)
		}
		out = append(out, v)
	}
	return out
}
