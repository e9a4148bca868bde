// Command authgate is the operator tool of authgate: it asks an issuer what
// authgate would make of it, explains why a token is accepted or refused,
// and decodes a token without verifying it.
//
//	go run github.com/authgate/authgate/cmd/authgate check-issuer https://id.example.com/
//	go run github.com/authgate/authgate/cmd/authgate explain -issuer https://id.example.com/ -audience orders-api "$TOKEN"
//	go run github.com/authgate/authgate/cmd/authgate decode - < token.txt
//
// Every verdict is the library's own: check-issuer judges each key with
// core.CheckKeySet and starts a core.Authenticator on the issuer; explain
// runs core.Authenticator.Authenticate on the token. See docs/cli.md.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK    = 0 // the issuer is usable, the token accepted, the token decoded
	exitFail  = 1 // the issuer is unusable, the token refused, the input not a JWT
	exitUsage = 2 // bad arguments, flags or environment
)

// command is one subcommand.
type command struct {
	name, args, summary string
	run                 func(e *env, args []string) int
}

// env is what a subcommand reads and writes: its streams and the process
// environment (os.Environ in main, a fixed list in tests).
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
}

func commands() []command {
	return []command{
		{"check-issuer", "[flags] [ISSUER]", "discovery, the JWKS, each key judged by authgate's key policy, refresh headers", checkIssuer},
		{"explain", "[flags] [TOKEN | -]", "verify a token as authgate would and list every check, passed or failed", explain},
		{"decode", "[TOKEN | -]", "print a token's header and claims, UNVERIFIED", decode},
		{"version", "", "print the version of the module the binary was built from", version},
		{"help", "", "this list", nil},
	}
}

// run is the whole command: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: safeWriter{stdout}, stderr: safeWriter{stderr}, environ: os.Environ()}
	return e.main(args)
}

func (e *env) main(args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(e.stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] && c.run != nil {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "authgate: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: authgate COMMAND [ARGS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "authgate COMMAND -h lists a command's flags. Exit status: 0 usable / accepted,")
	fmt.Fprintln(w, "1 unusable / refused / not a JWT, 2 bad usage. Documentation: docs/cli.md.")
}

func version(e *env, args []string) int {
	if len(args) != 0 {
		fmt.Fprintln(e.stderr, "usage: authgate version")
		return exitUsage
	}
	fmt.Fprintln(e.stdout, "authgate", moduleVersion())
	return exitOK
}

// moduleVersion is the version of the module the binary was built from
// ("(devel)" in the workspace).
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return "(unknown)"
}
