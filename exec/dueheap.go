package exec

// dueItem is an entry of a dueHeap: v is due at time at.
type dueItem[T any] struct {
	at int64
	v  T
}

// dueHeap is a binary min-heap of entries by the time they are due, for
// operators that free state as the watermark passes it (session ends, an
// interval join's rows). Entries may go stale (the state moved on or left
// early): the operator skips them when popped.
type dueHeap[T any] []dueItem[T]

func (h *dueHeap[T]) push(at int64, v T) {
	*h = append(*h, dueItem[T]{at: at, v: v})
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].at <= a[i].at {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

// pop removes the first entry and returns it.
func (h *dueHeap[T]) pop() dueItem[T] {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = dueItem[T]{}
	a = a[:n]
	*h = a
	h.down(0)
	return top
}

func (h dueHeap[T]) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].at < h[l].at {
			m = r
		}
		if h[i].at <= h[m].at {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// init orders entries appended in any order.
func (h dueHeap[T]) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}
