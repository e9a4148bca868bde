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
	c, b := f.join(key)
	if b != nil {
		return b
	}
	b = &freshBatch[V]{done: make(chan struct{})}
	go f.run(key, c, b, fn)
	return b
}

// lead is do for a caller that may run the call itself: when no call of
// key is running, it runs fn on the caller's goroutine and returns its
// answer (ok true), handing the callers that arrived meanwhile to a
// goroutine of their own. Otherwise it returns the batch to wait for, as
// do. fn must return once its own deadline passes: the caller cannot
// abandon it.
func (f *freshCalls[V]) lead(key string, fn func() (V, error)) (v V, err error, b *freshBatch[V]) {
	c, b := f.join(key)
	if b != nil {
		return v, nil, b
	}
	v, err = fn()
	f.mu.Lock()
	next := c.next
	c.next = nil
	if next == nil {
		c.running = false
		delete(f.calls, key)
	}
	f.mu.Unlock()
	if next != nil {
		go f.run(key, c, next, fn)
	}
	return v, err, nil
}

// join returns the batch to wait for when a call of key is running, or
// marks one running (b nil): the caller must then run it (run, or lead).
func (f *freshCalls[V]) join(key string) (c *coalescer[V], b *freshBatch[V]) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]*coalescer[V]{}
	}
	c = f.calls[key]
	if c == nil {
		c = &coalescer[V]{}
		f.calls[key] = c
	}
	if c.running {
		if c.next == nil {
			c.next = &freshBatch[V]{done: make(chan struct{})}
		}
		return c, c.next
	}
	c.running = true
	return c, nil
}

// run answers batch cur, then every batch that formed while a call ran,
// until none is left.
func (f *freshCalls[V]) run(key string, c *coalescer[V], cur *freshBatch[V], fn func() (V, error)) {
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
}
