// Command acpgw-load measures POST /v1/payments end to end, and the ceiling a
// bare Gin handler sets on the same machine.
//
// Usage:
//
//	acpgw-load run --url http://127.0.0.1:8080 --merchant-key K --agent-key K --merchant demo \
//	    --concurrency 32 --duration 10s [--rate 1000] [--tokens N] [--json] \
//	    [--server-pid PID --clk-tck 100] [--db-pid PID] [--pprof-url http://127.0.0.1:6060 --cpu-profile cpu.pprof]
//	acpgw-load run --delegate --url http://127.0.0.1:8080 --agent-key K --merchant demo
//	acpgw-load run --bare --url http://127.0.0.1:8090 --concurrency 32 --duration 10s
//	acpgw-load bare-server --listen 127.0.0.1:8090
//	acpgw-load summary --ceiling bare acpgw=a.json open=b.json bare=c.json
//
// run issues single-use tokens through POST /agentic_commerce/delegate_payment
// before the clock starts, then spends each once on POST /v1/payments, either
// as fast as --concurrency workers can (closed loop) or at --rate requests per
// second (open loop, latency measured from each request's scheduled send time
// so that a stalled server cannot hide its stall). --delegate measures
// POST /agentic_commerce/delegate_payment instead, a new token per request.
// With --server-pid the report carries the server's user+system CPU time over
// the measured window (not setup or warm-up) and per success; with --db-pid
// the same for a database server and its child processes (a PostgreSQL
// postmaster and its backends); with --cpu-profile the server's pprof
// listener profiles that window.
// bare-server is the ceiling: the same transport and JSON work with no auth,
// idempotency or storage.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  acpgw-load run --url URL --merchant-key K --agent-key K --merchant ID [--concurrency N] [--duration D] [--rate R] [--tokens N] [--json]
                 [--server-pid PID [--clk-tck N]] [--db-pid PID] [--pprof-url URL --cpu-profile FILE]
  acpgw-load run --delegate --url URL --agent-key K --merchant ID [same flags]
  acpgw-load run --bare --url URL [--concurrency N] [--duration D] [--rate R] [--json]
  acpgw-load bare-server [--listen HOST:PORT]
  acpgw-load summary [--ceiling NAME] NAME=report.json ...
run "acpgw-load <command> -h" for a command's flags.
`

// realMain runs one subcommand and returns the process exit code.
func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runCommand(args[1:], stdout, stderr)
	case "bare-server":
		err = bareServerCommand(args[1:], stderr)
	case "summary":
		err = summaryCommand(args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "acpgw-load: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if err == errUsage {
			return 2
		}
		fmt.Fprintf(stderr, "acpgw-load %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
