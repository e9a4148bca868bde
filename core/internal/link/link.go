// Package link carries the calls package core/adapter makes into core's
// unexported engine. Core sets every variable in its init; adapter type-asserts
// the values back to core's types (always what core put there). It exists so
// that what only adapter authors need is documented in core/adapter and stays
// out of the application author's `go doc core`, without core exporting it.
package link

import "context"

// The engine's entry points, set by core's init. auth is a
// *core.Authenticator, req a core.Request, and the any results are
// core.Response values.
var (
	// Admit is (*core.Authenticator).admit.
	Admit func(auth any, ctx context.Context, req any, optional bool) (context.Context, error)
	// Render is (*core.Authenticator).render.
	Render func(auth any, err error) any
	// RenderContext renders err with the authenticator that admitted the
	// request of ctx.
	RenderContext func(ctx context.Context, err error) any
	// Admitted reports whether an authgate middleware ran for ctx.
	Admitted func(ctx context.Context) bool
	// ResponseHeaders are the Cache-Control and DPoP-Nonce values for the
	// response to an admitted request ("" for none), read in one lookup.
	ResponseHeaders func(ctx context.Context) (cacheControl, dpopNonce string)
)

// What package core/storekit hands to store implementers: storeOpts is a
// core.StoreOptions (and so is the result), rev a core.Revocation.
var (
	ValidSessionID  func(sid string) bool
	NewSessionID    func() string
	NewOpaqueToken  func() (string, [32]byte)
	HashOpaqueToken func(token string) [32]byte
	RevokeOptions   func(revokeOpts []any) any
	StoreDefaults   func(storeOpts any) any
	CheckRevocation func(rev any) error
)
