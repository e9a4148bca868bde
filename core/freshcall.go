package core

import "sync"

// freshCalls shares backend calls between concurrent callers without ever
// handing a caller an answer read before it arrived: the revocation rule
// (a request is admitted only on an answer read after it arrived) for
// backends this process cannot hear revocations from. singleflight cannot
// keep it: a caller that joins a call in flight gets an answer the backend
// may have read before the caller (and a revocation) arrived.
//
// Per key, one call runs at a time. The first caller starts one; callers
// that arrive while it runs form the next batch, which the goroutine that
// ran the call starts as soon as it ends. So every caller's call began
// after it arrived, a burst costs at most two calls, and the backend sees
// one call per key at a time. Keys are per checker and per source (an
// issuer and session id, a token hash), so batches never mix backends.
type freshCalls[V any] struct {
	mu    sync.Mutex
	calls map[string]*coalescer[V]
}

// freshBatch is the callers answered by one backend call.
type freshBatch[V any] struct {
	done chan struct{} // closed when v and err are set
	v    V
	err  error
}

// coalescer is one key's calls: whether one is running, and the batch of
// callers that arrived while it runs.
type coalescer[V any] struct {
	running bool
	next    *freshBatch[V]
}

// do returns the batch whose call of fn began, or will begin, after this
// caller arrived. fn runs on a goroutine of its own; it must end by itself
// (the caller bounds fn's time and its own wait). Callers of one key that
// arrive while a call runs share the next call and its fn (the first of
// them's), so fn must depend on the key only.
func (f *freshCalls[V]) do(key string, fn func() (V, error)) *freshBatch[V] {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*coalescer[V]{}
	}
	c := f.calls[key]
	if c == nil {
		c = &coalescer[V]{}
		f.calls[key] = c
	}
	if c.running {
		if c.next == nil {
			c.next = &freshBatch[V]{done: make(chan struct{})}
		}
		b := c.next
		f.mu.Unlock()
		return b
	}
	c.running = true
	b := &freshBatch[V]{done: make(chan struct{})}
	f.mu.Unlock()
	go func(cur *freshBatch[V]) {
		for cur != nil {
			cur.v, cur.err = fn()
			close(cur.done)
			f.mu.Lock()
			cur, c.next = c.next, nil
			if cur == nil {
				c.running = false
				delete(f.calls, key)
			}
			f.mu.Unlock()
		}
	}(b)
	return b
}
