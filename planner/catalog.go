package planner

import (
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// Catalog resolves relation names for the planner. Implementations must be
// safe for the duration of one planning call (the planner does not retain
// the Catalog's results beyond the plan it returns).
type Catalog interface {
	// Relation resolves a possibly schema-qualified name ("clicks",
	// "pg_catalog.pg_class"); a missing one is a *sqlerr.Error 42P01.
	Relation(name string) (*Relation, error)
}

// Relation is what the planner knows about a source, table, view or
// system table.
type Relation struct {
	Name        string
	Kind        plan.RelKind
	Cols        types.Schema
	NumPhysical int
	Generated   []plan.Generated
	Watermark   *plan.Watermark
	Connector   string
	Options     map[string]string
	// AppendOnly is true for sources and tables; for views, whether the view
	// never retracts.
	AppendOnly bool
	// Key is, for views, the primary key columns of the contents (group keys
	// and window bounds); nil when the view has none.
	Key []int
	// TimeCol is the event-time column carried by rows (-1 none): the source
	// watermark column, window_time/window_end of views.
	TimeCol int
	// WindowBounds are, for views, the columns holding a window bound of
	// the view's rows (window_start, window_end, window_time, possibly
	// renamed), with when their windows stop changing; nil when none. A
	// GROUP BY over the view keyed by one of them frees closed windows'
	// groups.
	WindowBounds []plan.WindowBound
	// Definition is the original DDL text.
	Definition string
}

// scan returns a streaming or batch Scan of r.
func (r *Relation) scan() *plan.Scan {
	n := r.NumPhysical
	if n == 0 && len(r.Generated) == 0 {
		n = len(r.Cols)
	}
	return &plan.Scan{
		Name: r.Name, Kind: r.Kind, Cols: r.Cols, NumPhysical: n,
		Generated: r.Generated, Watermark: r.Watermark,
		Connector: r.Connector, Options: r.Options,
	}
}
