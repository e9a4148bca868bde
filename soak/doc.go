// Package soak holds authgate's load-with-faults test (issue 9): sustained
// concurrent traffic through the net/http adapter, with good, expired,
// forged, tampered and revoked tokens, while the key set server and the
// session backend (MemoryStore, an HTTP session endpoint, Redis) are stopped
// and restarted. It is a test-only module: nothing imports it.
//
// Run it with the rest of the workspace, or alone:
//
//	go test -race ./soak
//	SOAK_DURATION=3m SOAK_REPORT=/tmp/soak.md go test -race -run LoadWithFaults -v ./soak
package soak
