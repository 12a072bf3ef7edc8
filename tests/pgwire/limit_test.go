package pgwire_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestLimitParameters: LIMIT, OFFSET and FETCH FIRST take parameters, as in
// Postgres (ORMs and BI tools page with LIMIT $1 OFFSET $2), in every pgx
// mode: prepared ($n typed bigint) or inlined by the client as a quoted
// literal (the simple protocol). NULL means no limit; a negative count is
// SQLSTATE 2201W, a negative offset 2201X.
func TestLimitParameters(t *testing.T) {
	addr, _ := startDB(t, "")
	ctx := context.Background()
	const series = "SELECT g FROM generate_series(1, 10) g ORDER BY g "
	cases := []struct {
		tail string
		args []any
		want string // rows, or the SQLSTATE
	}{
		{"LIMIT $1", []any{3}, "[1 2 3]"},
		{"FETCH FIRST $1 ROWS ONLY", []any{2}, "[1 2]"},
		{"OFFSET $1 ROWS FETCH NEXT 2 ROWS ONLY", []any{7}, "[8 9]"},
		{"LIMIT $1 OFFSET $2", []any{3, 2}, "[3 4 5]"},
		{"OFFSET $2 LIMIT $1", []any{1, 8}, "[9]"},
		{"LIMIT $1", []any{nil}, "[1 2 3 4 5 6 7 8 9 10]"},
		{"LIMIT $1", []any{-1}, "2201W"},
		{"LIMIT 2 OFFSET $1", []any{-3}, "2201X"},
	}
	modes := []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec,
		pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			c := connectMode(ctx, t, addr, "sluice", mode)
			for _, tc := range cases {
				var got []int64
				rows, err := c.Query(ctx, series+tc.tail, tc.args...)
				if err == nil {
					got, err = pgx.CollectRows(rows, pgx.RowTo[int64])
				}
				res := fmt.Sprint(got)
				var pe *pgconn.PgError
				if errors.As(err, &pe) {
					res = pe.Code
				} else if err != nil {
					res = err.Error()
				}
				if res != tc.want {
					t.Errorf("%s %v: got %s, want %s", tc.tail, tc.args, res, tc.want)
				}
			}
		})
	}
}
