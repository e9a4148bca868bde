// Command echo is the quick start on echo v4, built by the install test
// outside the workspace; it is never run.
package main

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/echoauth"
	"github.com/labstack/echo/v4"
)

func main() {
	auth, err := core.New(context.Background(), core.Config{
		Issuer:   os.Getenv("ISSUER"),
		Audience: []string{"orders-api"},
		Sessions: core.NewMemoryStore(core.StoreOptions{}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	e := echo.New()
	e.HTTPErrorHandler = echoauth.ErrorHandler(e.DefaultHTTPErrorHandler)
	api := e.Group("", echoauth.New(auth, echoauth.ReturnErrors()))
	api.GET("/me", func(c echo.Context) error {
		p, _ := echoauth.Principal(c)
		return c.JSON(http.StatusOK, map[string]any{"sub": p.Subject})
	})
	api.POST("/transfer", func(c echo.Context) error {
		p, _ := echoauth.Principal(c)
		return c.JSON(http.StatusOK, map[string]any{"sub": p.Subject, "session": p.SessionID})
	}, echoauth.Sensitive())
	log.Fatal(e.Start(":8080"))
}
