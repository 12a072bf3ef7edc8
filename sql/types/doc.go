// Package types defines SQL types, values and rows shared by every layer:
// the planner types expressions with it, exec moves Values in chunks,
// pgwire encodes them, connectors decode into them.
package types
