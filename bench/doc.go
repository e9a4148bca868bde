// Package bench compares authgate with peer JWT middlewares, side by side,
// on the same RS256 token (2048-bit key) and the same JWKS. It is a module of
// its own so that no peer library enters the dependency graph of authgate's
// users.
//
//	./run.sh               # go test -bench, -count 6, then benchstat tables
//	./wrk.sh               # wrk against each example app, with and without authgate
//	./load.sh              # whole servers under load beside the peers (package load)
//
// The benchmarks (bench_test.go) serve GET /me through each framework with no
// auth, with authgate (token cached, and fresh: a token never seen before),
// and with the framework's well-known JWT middleware; they also time the
// bare pieces: RSA verification of the signing input, golang-jwt's
// jwt.Parse, and authgate's core alone. Each has a RunParallel twin.
package bench
