// Package expr holds bound scalar expressions (the planner builds them,
// exec evaluates them) and the function library.
package expr
