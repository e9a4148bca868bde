module github.com/authgate/authgate/idptest

go 1.26.0

replace github.com/authgate/authgate/core => ../core
