package agg

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// require is a small stand-in for testify's require (testify's yaml
// dependency is missing from go.sum, and go.mod is shared).
var require requireT

type requireT struct{}

func msg(args []any) string {
	if len(args) == 0 {
		return ""
	}
	if f, ok := args[0].(string); ok {
		return ": " + fmt.Sprintf(f, args[1:]...)
	}
	return ": " + fmt.Sprint(args...)
}

func (requireT) NoError(t testing.TB, err error, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v%s", err, msg(args))
	}
}

func (requireT) Error(t testing.TB, err error, args ...any) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error%s", msg(args))
	}
}

func (requireT) Equal(t testing.TB, want, got any, args ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("not equal%s\nwant: %#v\ngot:  %#v", msg(args), want, got)
	}
}

func (requireT) True(t testing.TB, v bool, args ...any) {
	t.Helper()
	if !v {
		t.Fatalf("expected true%s", msg(args))
	}
}

func (requireT) False(t testing.TB, v bool, args ...any) {
	t.Helper()
	if v {
		t.Fatalf("expected false%s", msg(args))
	}
}

func (requireT) Contains(t testing.TB, s, sub string, args ...any) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q%s", s, sub, msg(args))
	}
}

func (requireT) Positive(t testing.TB, v int, args ...any) {
	t.Helper()
	if v <= 0 {
		t.Fatalf("expected positive, got %d%s", v, msg(args))
	}
}

func (requireT) LessOrEqual(t testing.TB, v, limit int, args ...any) {
	t.Helper()
	if v > limit {
		t.Fatalf("expected %d <= %d%s", v, limit, msg(args))
	}
}

func (requireT) Zero(t testing.TB, v float64, args ...any) {
	t.Helper()
	if v != 0 {
		t.Fatalf("expected zero, got %v%s", v, msg(args))
	}
}

func (requireT) InDelta(t testing.TB, want, got, delta float64, args ...any) {
	t.Helper()
	if math.Abs(want-got) > delta {
		t.Fatalf("%v and %v differ by more than %v%s", want, got, delta, msg(args))
	}
}
