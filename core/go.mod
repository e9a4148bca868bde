module github.com/authgate/authgate/core

go 1.26.0

require (
	github.com/MicahParks/jwkset v0.11.4
	github.com/go-json-experiment/json v1.27.2
	github.com/golang-jwt/jwt/v5 v5.3.1
	golang.org/x/sync v0.24.0
	golang.org/x/time v0.15.0
)

require go.uber.org/goleak v1.3.0

require github.com/MicahParks/keyfunc/v3 v3.9.2
