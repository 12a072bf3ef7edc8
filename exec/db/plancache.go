package db

import (
	"container/list"
	"strings"
	"sync"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/types"
)

// planCache keeps the parsed and planned form of recent ad-hoc SELECTs by
// their text, so that clients on the simple protocol (psql, pgbench -M
// simple, BI tools that never prepare) do not parse and plan the same query
// on every execution. Entries are valid for one catalog version: any DDL
// invalidates them all. Plans are immutable and expressions hold no
// per-evaluation state, so one cached plan serves concurrent sessions.
type planCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type cachedPlan struct {
	key     string
	version uint64
	sel     *sql.Select
	node    plan.Node
	params  []types.Type
}

func newPlanCache(max int) *planCache {
	return &planCache{max: max, ll: list.New(), items: map[string]*list.Element{}}
}

func planKey(text string, params []types.Type) string {
	var b strings.Builder
	b.WriteString(text)
	for _, p := range params {
		b.WriteByte(0)
		b.WriteString(p.String())
	}
	return b.String()
}

func (c *planCache) get(key string, version uint64) *cachedPlan {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil
	}
	cp := e.Value.(*cachedPlan)
	if cp.version != version {
		c.ll.Remove(e)
		delete(c.items, key)
		return nil
	}
	c.ll.MoveToFront(e)
	return cp
}

func (c *planCache) put(cp *cachedPlan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[cp.key]; ok {
		e.Value = cp
		c.ll.MoveToFront(e)
		return
	}
	c.items[cp.key] = c.ll.PushFront(cp)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cachedPlan).key)
	}
}
