package main

import (
	"flag"
	"fmt"
	"io"
	"time"
)

// decode prints a token's header and claims without verifying anything.
func decode(e *env, args []string) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: authgate decode [TOKEN | -]")
		fmt.Fprintln(fs.Output(), "Prints the token's header and claims, UNVERIFIED: nothing is checked, the")
		fmt.Fprintln(fs.Output(), "signature is never shown. With no TOKEN, or -, the token is read from stdin.")
	}
	if err := fs.Parse(args); err != nil {
		return flagStatus(err)
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	tok, err := readToken(fs.Arg(0), e.stdin, e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "authgate decode:", err)
		return exitFail
	}
	d, err := decodeToken(tok)
	if err != nil {
		fmt.Fprintln(e.stderr, "authgate decode: not a JWT:", err)
		return exitFail
	}
	w := e.stdout
	fmt.Fprintln(w, "*** UNVERIFIED: decoded only. The signature, issuer, audience and times are NOT checked; ***")
	fmt.Fprintln(w, "*** anyone can write these claims. Use authgate explain for authgate's verdict.          ***")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "header:")
	fmt.Fprintln(w, indent(d.header))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "claims:")
	if d.cErr != nil {
		fmt.Fprintf(w, "(the payload is not a JSON object: %v; %d bytes)\n", d.cErr, len(d.payload))
	} else {
		fmt.Fprintln(w, indent(d.payload))
		printTimes(w, d.c, time.Now())
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "signature: %d bytes (not shown, not checked)\n", d.sigLen)
	return exitOK
}

// printTimes prints the NumericDate claims in human form.
func printTimes(w io.Writer, c map[string]any, now time.Time) {
	first := true
	for _, name := range []string{"iat", "nbf", "exp", "auth_time"} {
		f, ok := number(c, name)
		if !ok {
			continue
		}
		if first {
			fmt.Fprintln(w)
			first = false
		}
		t := numericDate(f)
		fmt.Fprintf(w, "%-9s %s (%s)\n", name+":", at(t), relative(t, now))
	}
}

// flagStatus is the exit status of a flag parse error: 0 for -h.
func flagStatus(err error) int {
	if err == flag.ErrHelp {
		return exitOK
	}
	return exitUsage
}
