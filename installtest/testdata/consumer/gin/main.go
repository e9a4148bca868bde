// Command gin is the quick start on gin, built by the install test outside
// the workspace; it is never run.
package main

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/ginauth"
	"github.com/gin-gonic/gin"
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

	r := gin.New()
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) })
	api := r.Group("/", ginauth.New(auth))
	api.GET("/me", func(c *gin.Context) {
		p, _ := ginauth.Principal(c)
		c.JSON(http.StatusOK, gin.H{"sub": p.Subject})
	})
	api.POST("/transfer", ginauth.Sensitive(), ginauth.RequireScopes("transfer"), func(c *gin.Context) {
		p, _ := ginauth.Principal(c)
		c.JSON(http.StatusOK, gin.H{"sub": p.Subject, "session": p.SessionID})
	})
	log.Fatal(r.Run(":8080"))
}
