// Package core is authgate's framework-neutral engine: it decides, for each
// HTTP request, whether its credential admits it and as whom. The adapters
// (nethttpauth, ginauth, echoauth, fiberauth) only translate between a
// framework and this package.
//
// An application builds one Authenticator and hands it to its adapter:
//
//	auth, err := core.New(ctx, core.Config{
//		Issuer:   "https://id.example.com/", // keys found by OIDC discovery
//		Audience: []string{"orders-api"},
//		Sessions: store, // live checks: a MemoryStore, redisstore, an HTTP checker
//	})
//	mux.Handle("POST /transfer", nethttpauth.Sensitive(transfer))
//	http.ListenAndServe(":8080", nethttpauth.New(auth)(mux))
//
// and reads the caller in a handler with PrincipalFrom (or the adapter's
// Principal). A stream (SSE, WebSocket) takes StreamContext's context,
// which ends when the token expires or a revocation reaches it.
//
// Every request's token is verified locally: a JWT against the issuer's
// keys with the checks of RFC 7515, 7519, 8725 and 9068, or an opaque token
// looked up in its store or by RFC 7662 introspection (Introspector).
// Routes marked Sensitive also get a live session check (SessionChecker:
// MemoryStore, redisstore, NewHTTPSessionChecker), answered only by a call
// that began after the request arrived unless SessionCheckOptions allow a
// cached answer. Stores that are a RevocationFeed push revocations into a
// deny set that every route checks. Config.SessionPolicy says which routes
// get live checks.
//
// Every refusal is an *Error (errors.Is with ErrInvalidToken,
// ErrTokenExpired, ErrSessionRevoked, ErrUnavailable, ...), written by the
// adapters with an RFC 6750 challenge and no detail a client could use;
// Cause gives the operator the reason. Observer and Status report what the
// Authenticator does.
//
// Subpackages: authtest is a real token issuer for tests; adapter is what an
// adapter for a framework is built from (admitting a request, rendering a
// refusal, route markers), and adaptertest the conformance suite it must
// pass; storetest is the suite a session store must pass.
package core
