// Command fiber is the quick start on fiber v2, built by the install test
// outside the workspace; it is never run.
package main

import (
	"context"
	"log"
	"os"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/fiberauth"
	"github.com/gofiber/fiber/v2"
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

	app := fiber.New(fiber.Config{
		ReadBufferSize: fiberauth.ReadBufferSize(auth.MaxTokenSize()),
		ErrorHandler:   fiberauth.ErrorHandler(fiber.DefaultErrorHandler),
	})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
	app.Use(fiberauth.New(auth, fiberauth.ReturnErrors()))
	app.Get("/me", func(c *fiber.Ctx) error {
		p, _ := fiberauth.Principal(c)
		return c.JSON(fiber.Map{"sub": p.Subject})
	})
	app.Post("/transfer", fiberauth.Sensitive(), func(c *fiber.Ctx) error {
		p, _ := fiberauth.Principal(c)
		return c.JSON(fiber.Map{"sub": p.Subject, "session": p.SessionID})
	})
	log.Fatal(app.Listen(":8080"))
}
