// Command otel is net/http with authgate's OpenTelemetry observer on the
// global providers, built by the install test outside the workspace; it is
// never run.
package main

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/nethttpauth"
	"github.com/authgate/authgate/otelauth"
	"go.opentelemetry.io/otel"
)

func main() {
	obs, err := otelauth.New(otel.GetMeterProvider(), otel.GetTracerProvider())
	if err != nil {
		log.Fatal(err)
	}
	defer obs.Close()
	auth, err := core.New(context.Background(), core.Config{
		Issuer:   os.Getenv("ISSUER"),
		Audience: []string{"orders-api"},
		Observer: obs,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	log.Fatal(http.ListenAndServe(":8080", nethttpauth.New(auth)(http.NotFoundHandler())))
}
