package load

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/gin-gonic/gin"
	jwtware "github.com/gofiber/contrib/jwt"
	"github.com/gofiber/fiber/v2"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"
)

// The peer middlewares, wired as their READMEs set them up. The
// microbenchmarks of the bench package (BenchmarkPeers) and the load
// servers of this package both build their peers here, so that both
// measure the same thing.

// Auth0Middleware is github.com/auth0/go-jwt-middleware/v2 with its caching
// JWKS provider (keys from jwksURL) and a validator for RS256, iss and aud.
func Auth0Middleware(issuer, jwksURL, audience string) (func(http.Handler) http.Handler, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	ju, err := url.Parse(jwksURL)
	if err != nil {
		return nil, err
	}
	provider := jwks.NewCachingProvider(u, 5*time.Minute, jwks.WithCustomJWKSURI(ju))
	v, err := validator.New(provider.KeyFunc, validator.RS256, issuer, []string{audience})
	if err != nil {
		return nil, err
	}
	return jwtmiddleware.New(v.ValidateToken).CheckJWT, nil
}

// GinAuth0 runs the auth0 middleware (Auth0Middleware) in gin, the way
// auth0's gin example does: the chain goes on from inside the net/http
// middleware's next handler, and stops when that handler was not reached
// (the middleware has written the refusal).
func GinAuth0(issuer, jwksURL, audience string) (gin.HandlerFunc, error) {
	mw, err := Auth0Middleware(issuer, jwksURL, audience)
	if err != nil {
		return nil, err
	}
	return func(c *gin.Context) {
		passed := false
		mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}, nil
}

// EchoJWT is github.com/labstack/echo-jwt/v4 with a KeyFunc from
// github.com/MicahParks/keyfunc/v3 over jwksURL, as echo-jwt's README sets
// up a JWKS. The key set's refresh stops when ctx ends.
func EchoJWT(ctx context.Context, jwksURL string) (echo.MiddlewareFunc, error) {
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{jwksURL})
	if err != nil {
		return nil, err
	}
	return echojwt.WithConfig(echojwt.Config{KeyFunc: kf.Keyfunc}), nil
}

// FiberContribJWT is github.com/gofiber/contrib/jwt with its own JWKS
// support (JWKSetURLs).
func FiberContribJWT(jwksURL string) fiber.Handler {
	return jwtware.New(jwtware.Config{JWKSetURLs: []string{jwksURL}})
}
