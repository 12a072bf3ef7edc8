// Command gen writes Sluice's Grafana provisioning files and dashboards
// (run by `go generate ./grafana` from the grafana directory).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/sluice-db/sluice/grafana"
)

func main() {
	files, err := grafana.Files()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.MkdirAll(filepath.Dir(n), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.WriteFile(n, files[n], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("wrote grafana/" + n)
	}
}
