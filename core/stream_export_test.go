package core

// OpenStreams returns the number of streams a's StreamContext watches, for
// tests in package core_test (this file is compiled into tests only).
func (a *Authenticator) OpenStreams() int { return a.sessions.openStreams() }
