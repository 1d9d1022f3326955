// Command evbill is billing, payments and revenue management for operators
// of EV charging stations. This file only wires: flags and environment in,
// packages called, errors mapped to exit statuses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/evbill/evbill"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "evbill:", err)
		}
		os.Exit(exitStatus(err))
	}
}

// exitStatus maps an error to the process exit status: 2 for invalid input
// (including bad flags), 1 for anything else.
func exitStatus(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case evbill.ErrorCode(err) == evbill.EINVALID:
		return 2
	}
	return 1
}

const usage = `evbill — billing for EV charging

Usage:
  evbill demo [--addr 127.0.0.1:8080] [--chargers 8]     a server with a simulated fleet, in one command
  evbill serve [--addr 127.0.0.1:8080] [--data ./evbill-data]
  evbill migrate [--data ./evbill-data]
  evbill apikey create --tenant NAME --role admin|operator|finance|readonly [--data ./evbill-data]
  evbill user create --email EMAIL --role admin|operator|finance|readonly [--tenant NAME] < password
  evbill user password --email EMAIL < password           a dashboard user, and a new password
  evbill price --tariff TARIFF.json --cdr CDR.json [--timezone ZONE] [--explain]
  evbill price --tariff TARIFF.json --batch [--timezone ZONE] < cdrs.ndjson > priced.ndjson
  evbill simulate --url ws://127.0.0.1:8080/ocpp --chargers N [--api-key evb_…] [--duration 10m] [--json]
  evbill whatif --tenant NAME --tariff CANDIDATE.json --from WHEN --to WHEN [--site ID] [--json]
  evbill forecast --input history.csv [--horizon 365] [--backtest] [--holidays holidays.txt]
  evbill rollups rebuild [--tenant NAME|ID] [--data ./evbill-data]   recompute the reports' rollups
  evbill version

EVBILL_DATABASE_URL=postgres://… makes serve, migrate, apikey and user use PostgreSQL
instead of SQLite in the data directory.

Run "evbill COMMAND -h" for the flags of a command.
`

// run is the whole program, with its environment passed in so tests can
// run it in-process exactly as the binary does.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return evbill.Errorf(evbill.EINVALID, "no command given")
	}
	switch cmd, rest := args[1], args[2:]; cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "apikey":
		return runAPIKey(ctx, rest, getenv, stdout, stderr)
	case "user":
		return runUser(ctx, rest, getenv, stdin, stdout, stderr)
	case "price":
		return runPrice(ctx, rest, getenv, stdin, stdout, stderr)
	case "demo":
		return runDemo(ctx, rest, getenv, stdout, stderr)
	case "simulate":
		return runSimulate(ctx, rest, getenv, stdout, stderr)
	case "whatif":
		return runWhatIf(ctx, rest, getenv, stdin, stdout, stderr)
	case "forecast":
		return runForecast(ctx, rest, stdin, stdout, stderr)
	case "rollups":
		return runRollups(ctx, rest, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "evbill", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return evbill.Errorf(evbill.EINVALID, "unknown command %q", cmd)
	}
}
