module github.com/authgate/authgate/examples

go 1.26.0

require (
	github.com/authgate/authgate/core v0.0.0
	github.com/authgate/authgate/nethttpauth v0.0.0
	github.com/chromedp/chromedp v0.23.0
	github.com/golang-jwt/jwt/v5 v5.3.1
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/go-json-experiment/json v1.27.2 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace (
	github.com/authgate/authgate/core => ../core
	github.com/authgate/authgate/nethttpauth => ../nethttpauth
)
