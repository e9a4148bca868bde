package otelauth_test

import (
	"context"
	"log"
	"net/http"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/otelauth"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The application owns the SDK: here a MeterProvider with a reader of its
// choice and a TracerProvider. authgate only sees the API.
func ExampleNew() {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider()
	defer mp.Shutdown(context.Background())
	defer tp.Shutdown(context.Background())

	obs, err := otelauth.New(mp, tp) // otelauth.WithIdentity() would add subject and session id to spans
	if err != nil {
		log.Fatal(err)
	}
	defer obs.Close()

	cfg := core.Config{
		Issuer:   "https://id.example.com/",
		Audience: []string{"api"},
		Observer: obs,
		// Keys come from the issuer's JWKS by discovery; static keys here
		// keep the example offline.
		PublicKeys: []string{examplePEM},
	}
	auth, err := core.New(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	// The status view belongs on an admin port, never the public one.
	admin := http.NewServeMux()
	admin.Handle("GET /status", auth.StatusHandler())
	_ = admin
	// Output:
}

const examplePEM = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----`
