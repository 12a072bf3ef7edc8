package exec

import "github.com/sluice-db/sluice/sql/types"

// Lookup returns the rows of a view or table whose columns cols equal key
// (a point lookup for ad-hoc queries). It uses a hash index on cols that is
// built on first use and then kept up to date with every change, like the
// indexes of lookup joins. The rows are shared and must not be modified.
func (e *Engine) Lookup(name string, cols []int, key types.Row) (types.Schema, []types.Row, error) {
	r, err := e.rel(name)
	if err != nil {
		return nil, nil, err
	}
	ix := r.index(cols)
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.schema, append([]types.Row(nil), ix.lookup(key)...), nil
}

// Ready reports whether Next would return without waiting (an update is
// queued or the subscription has ended).
func (s *Subscription) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head < len(s.q) || s.err != nil
}

// Peek returns the next queued update without taking it; ok is false when
// none is queued.
func (s *Subscription) Peek() (u Update, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.head < len(s.q) {
		return s.q[s.head], true
	}
	return Update{}, false
}
