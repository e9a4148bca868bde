package main

import (
	"testing"

	"github.com/authgate/authgate/examples/internal/flowtest"
)

func TestFlow(t *testing.T)              { flowtest.Flow(t, run) }
func TestRealIssuer(t *testing.T)        { flowtest.RealIssuer(t, run) }
func TestStartErrors(t *testing.T)       { flowtest.StartErrors(t, run) }
func TestBrowser(t *testing.T)           { flowtest.Browser(t, run) }
func TestIntrospection(t *testing.T)     { flowtest.Introspection(t, run) }
func TestIdentityProvider(t *testing.T)  { flowtest.IdentityProvider(t, run) }
func TestProcess(t *testing.T)           { flowtest.Process(t, "./examples/echo") }
func TestNoLeaks(t *testing.T)           { flowtest.NoLeaks(t, run) }
func TestRedis(t *testing.T)             { flowtest.Redis(t, run) }
func TestBackchannelLogout(t *testing.T) { flowtest.BackchannelLogout(t, run) }
func TestHydra(t *testing.T)             { flowtest.Hydra(t, run) }
func TestDPoP(t *testing.T)              { flowtest.DPoP(t, run) }
func TestSSF(t *testing.T)               { flowtest.SSF(t, run) }
func TestStepUp(t *testing.T)            { flowtest.StepUp(t, run) }
func TestResourceMetadata(t *testing.T)  { flowtest.ResourceMetadata(t, run) }
func TestEvents(t *testing.T)            { flowtest.Events(t, run) }
func TestWebSocket(t *testing.T)         { flowtest.WebSocket(t, run) }
