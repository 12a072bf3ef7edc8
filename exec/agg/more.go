package agg

import "github.com/sluice-db/sluice/sql/sqlerr"

// bindMore picks the state of the remaining functions.
func (a *Agg) bindMore(_ Options) error {
	return sqlerr.New(sqlerr.FeatureNotSupported, "aggregate %s is not implemented yet", a.fn)
}

// bindDistinct picks the state of a DISTINCT call.
func (a *Agg) bindDistinct(_ Options) error {
	return sqlerr.New(sqlerr.FeatureNotSupported, "aggregate %s(DISTINCT ...) is not implemented yet", a.fn)
}
