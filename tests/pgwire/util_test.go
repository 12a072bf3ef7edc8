package pgwire_test

import (
	"fmt"
	"math/big"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"
)

// fmtAny renders a decoded binary value the way Postgres prints it as text.
func fmtAny(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case pgtype.Numeric:
		if !x.Valid {
			return "NULL"
		}
		f := new(big.Float).SetInt(x.Int)
		if x.Exp != 0 {
			b, _ := x.Value()
			return fmt.Sprint(b)
		}
		return f.Text('f', 0)
	}
	return fmt.Sprint(v)
}
