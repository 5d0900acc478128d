// Command acpgw is the ACP payment gateway: it serves the HTTP API, checks
// configs, and runs operator tasks. main wires packages together and holds
// no payment logic.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: acpgw <command> [flags]

commands:
  serve [--config FILE] [--listen ADDR] [--debug-listen ADDR]
                                          run the gateway (no --config: the embedded demo config;
                                          --debug-listen: net/http/pprof on that address only)
  config check --config FILE              validate a config file
  route explain --config FILE --merchant M --amount N --currency C [--card-country US ...]
                                          print a routing decision without charging anything
  fees report --config FILE [--from --to --group-by processor,day --format csv|json]
                                          fee report from the payments ledger
  fees import-adyen --config FILE --processor NAME REPORT.csv
                                          import actual fees from an Adyen Settlement details report
  simulate --config FILE --traffic FILE.csv
                                          what each routing strategy would cost on a traffic mix
  migrate --config FILE                   apply the store's schema migrations
  mock-server [--listen ADDR]             the mock processor over HTTP (tests: one ledger for many acpgw)
  version                                 print the version
`

// run dispatches a command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serveCmd(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = configCheckCmd(args[2:], stdout, stderr)
	case "route":
		if len(args) < 2 || args[1] != "explain" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = routeExplainCmd(args[2:], stdout, stderr)
	case "fees":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		switch args[1] {
		case "report":
			err = feesReportCmd(ctx, args[2:], stdout, stderr)
		case "import-adyen":
			err = importAdyenCmd(ctx, args[2:], stdout, stderr)
		default:
			fmt.Fprint(stderr, usage)
			return 2
		}
	case "mock-server":
		err = mockServerCmd(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = migrateCmd(ctx, args[1:], stdout, stderr)
	case "simulate":
		err = simulateCmd(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "acpgw %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "acpgw: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "acpgw: %v\n", err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
