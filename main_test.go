package main

import (
	"strings"
	"testing"
)

func TestRunCommands(t *testing.T) {
	noenv := func(string) string { return "" }
	for _, tc := range []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{[]string{"version"}, 0, "sluice ", ""},
		{[]string{"--version"}, 0, "sluice ", ""},
		{[]string{"help"}, 0, "--data-dir", ""},
		{[]string{"--help"}, 0, "SLUICE_PG_ADDR", ""},
		{[]string{"serve", "-h"}, 0, "--http-addr", ""},
		{[]string{"--no-such-flag"}, 2, "", "no-such-flag"},
		{[]string{"--log-format", "xml"}, 2, "", "log-format"},
	} {
		var out, errb strings.Builder
		code := run(tc.args, noenv, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.inStdout) || !strings.Contains(errb.String(), tc.inStderr) {
			t.Errorf("run(%v) = %d, stdout %q, stderr %q", tc.args, code, out.String(), errb.String())
		}
	}
}
