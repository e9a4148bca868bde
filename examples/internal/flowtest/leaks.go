package flowtest

import (
	"testing"

	"go.uber.org/goleak"
)

// NoLeaks runs the app through a login, a sensitive call and a logout, stops
// it, and fails if any goroutine it started is still running: the
// authenticator, the store's sweeper and the server all end with it.
// ignore lists goroutines the framework keeps for the whole process by
// design (fasthttp's date updater).
func NoLeaks(t *testing.T, run Run, ignore ...goleak.Option) {
	opts := append([]goleak.Option{goleak.IgnoreCurrent()}, ignore...)
	app := Start(t, run, nil)
	tok, _ := app.Login(t, "alice")
	app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok}, 200)
	app.Expect(t, Req{Method: "POST", Path: "/logout", Bearer: tok}, 200)
	if err := app.Stop(); err != nil {
		t.Fatalf("app stopped with an error: %v", err)
	}
	goleak.VerifyNone(t, opts...)
}
