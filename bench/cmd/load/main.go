// Command load runs whole servers of each framework under load, beside the
// peers (see bench/load and bench/load.sh).
//
//	load run [flags]     # the generator: starts everything, measures, reports
//	load serve [flags]   # one server (started by run)
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/authgate/authgate/bench/load"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: load run|serve [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = load.ServerMain(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var cfg load.Config
	frameworks := fs.String("frameworks", strings.Join(load.Frameworks, ","), "frameworks, comma-separated")
	fs.IntVar(&cfg.Rounds, "rounds", 5, "rounds of every contender, interleaved")
	fs.DurationVar(&cfg.SatDuration, "sat-duration", 1500*time.Millisecond, "each measured saturation run")
	fs.DurationVar(&cfg.Duration, "duration", 2*time.Second, "each measured fixed-rate run")
	fs.DurationVar(&cfg.Warmup, "warmup", 250*time.Millisecond, "unmeasured warm-up before each run")
	fs.IntVar(&cfg.Conns, "conns", 64, "closed-loop workers (connections) at saturation")
	fs.IntVar(&cfg.Rate, "rate", 0, "fixed rate for every framework (0: rate-fraction of the slowest contender's saturation)")
	fs.Float64Var(&cfg.RateFraction, "rate-fraction", 0.5, "fixed rate as a share of the slowest contender's saturation")
	fs.IntVar(&cfg.Mix.Clients, "clients", load.DefaultMix.Clients, "distinct clients (tokens, sessions)")
	fs.Float64Var(&cfg.Mix.Fresh, "fresh", load.DefaultMix.Fresh, "share of fresh tokens")
	fs.Float64Var(&cfg.Mix.Sensitive, "sensitive", load.DefaultMix.Sensitive, "share of sensitive requests")
	fs.Float64Var(&cfg.Mix.Bad, "bad", load.DefaultMix.Bad, "share of bad tokens")
	fs.IntVar(&cfg.FreshPool, "fresh-pool", 0, "fresh tokens minted at the start (0: enough for one saturation run at -sat-guess; more are minted between runs as needed)")
	fs.IntVar(&cfg.SatGuess, "sat-guess", 60000, "throughput assumed for a contender's first saturation run, to size its fresh tokens")
	fs.StringVar(&cfg.Redis, "redis", "auto", "auto, off, or the path of redis-server")
	fs.BoolVar(&cfg.Pin, "pin", true, "pin servers to CPU 0 and the generator to CPU 1 (taskset)")
	out := fs.String("out", "", "write the raw results to this file")
	md := fs.String("md", "", "replace the tables between the load markers of this Markdown file")
	note := fs.String("note", "", "a line put before the tables in -md")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Frameworks = strings.Split(*frameworks, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := load.Run(ctx, cfg)
	if err != nil {
		return err
	}
	var raw bytes.Buffer
	rep.WriteRaw(&raw)
	if *out != "" {
		if err := os.WriteFile(*out, raw.Bytes(), 0o644); err != nil {
			return err
		}
	}
	var tables bytes.Buffer
	if *note != "" {
		fmt.Fprintf(&tables, "%s\n\n", *note)
	}
	rep.Markdown(&tables)
	if *md != "" {
		if err := replaceBetween(*md, tables.Bytes()); err != nil {
			return err
		}
	}
	_, _ = io.Copy(os.Stdout, &tables)
	if len(rep.Problems) > 0 {
		return fmt.Errorf("%d runs answered statuses the mix does not expect: the figures are not valid", len(rep.Problems))
	}
	return nil
}

const begin, end = "<!-- load:begin -->", "<!-- load:end -->"

// replaceBetween puts body between the load markers of the file at path.
func replaceBetween(path string, body []byte) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i, j := bytes.Index(b, []byte(begin)), bytes.Index(b, []byte(end))
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s ... %s markers", path, begin, end)
	}
	var n bytes.Buffer
	n.Write(b[:i+len(begin)])
	n.WriteString("\n")
	n.Write(body)
	n.Write(b[j:])
	return os.WriteFile(path, n.Bytes(), 0o644)
}
