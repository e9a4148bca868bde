// Package installtest holds the install test of authgate's release: it
// publishes the released modules of the working tree on a file-based module
// proxy at the version their go.mod files name, and checks that a module
// outside the workspace can go get them and build the quick start on every
// framework, and go install the operator tool. It has no API; it is a module
// of its own so that golang.org/x/mod stays out of every other module.
//
// Run it from the repository root:
//
//	go test ./installtest
//
// Under CI=true it never skips; locally -short skips it.
package installtest
