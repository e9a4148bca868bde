package core

// TokenCacheStats reports the verified-token cache's entry count, estimated
// bytes and lookups that found nothing usable, for tests in package
// core_test (this file is compiled into tests only).
func (a *Authenticator) TokenCacheStats() (entries int, bytes int64, misses uint64) {
	c := a.tokens
	if c == nil {
		return 0, 0, 0
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		entries += s.n
		bytes += s.bytes
		s.mu.Unlock()
		misses += s.misses.Load()
	}
	return entries, bytes, misses
}

// SweepNow runs the MemoryStore's sweep at once, for tests in package
// core_test (the sweeper runs it every SweepInterval).
func (m *MemoryStore) SweepNow() { m.sweep() }
