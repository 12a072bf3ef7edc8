// Package plan defines the physical plan: the narrow contract between the
// planner, which builds plans, and exec, which runs them. Nodes are plain
// immutable structs; EXPLAIN prints them with Format.
package plan
