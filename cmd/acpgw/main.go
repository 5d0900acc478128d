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
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand as the usage lists it. Commands of two words
// ("fees report") form a group under their first word.
type command struct {
	name     string
	synopsis string
	about    string
}

// commands lists every subcommand in usage order. Those that read the store
// take the embedded demo config when --config is absent, as serve does.
var commands = []command{
	{"serve", "[--config FILE] [--listen ADDR] [--debug-listen ADDR]",
		"run the gateway (no --config: the embedded demo config; --debug-listen: net/http/pprof on that address only)"},
	{"config check", "--config FILE", "validate a config file"},
	{"route explain", "--config FILE --merchant M --amount N --currency C [--card-country US ...]",
		"print a routing decision without charging anything"},
	{"fees report", "[--config FILE] [--from --to --group-by processor,day --format csv|json]",
		"fee report from the payments ledger (no --config: the demo's store)"},
	{"fees import-adyen", "[--config FILE] --processor NAME REPORT.csv",
		"import actual fees from an Adyen Settlement details report"},
	{"simulate", "--config FILE --traffic FILE.csv", "what each routing strategy would cost on a traffic mix"},
	{"migrate", "[--config FILE]", "apply the store's schema migrations (no --config: the demo's store)"},
	{"events tail", "--merchant ID [--config FILE] [--n 10] [--follow=false]",
		"a merchant's events and their deliveries, as they happen (no --config: the demo's store)"},
	{"mock-server", "[--listen ADDR] [--config FILE --processor NAME] [--public-url URL] [--events-secret S]",
		"the mock processor over HTTP (tests: one ledger for many acpgw), with its 3-D Secure server and pages " +
			"(under --public-url, default http://LISTEN, plus /3ds); with --events-secret, also a merchant " +
			"events receiver at /merchant/events that verifies signatures"},
	{"version", "", "print the version"},
}

// writeUsage lists the commands whose name starts with prefix ("" for all).
func writeUsage(w io.Writer, prefix string) {
	if prefix == "" {
		fmt.Fprint(w, "usage: acpgw <command> [flags]\n\ncommands:\n")
	} else {
		fmt.Fprintf(w, "usage: acpgw %s<command> [flags]\n\ncommands:\n", prefix)
	}
	for _, c := range commands {
		if !strings.HasPrefix(c.name, prefix) {
			continue
		}
		fmt.Fprintf(w, "  %s %s\n      %s\n", c.name, c.synopsis, c.about)
	}
	fmt.Fprintln(w, "\n`acpgw <command> --help` lists a command's flags.")
}

func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "-help" || arg == "--help"
}

// resolve finds the command args names: one word, or a group and a word.
// It returns the command's name and its arguments, or ok false with the
// exit code after printing what was wrong (or the asked-for usage).
func resolve(args []string, stdout, stderr io.Writer) (name string, rest []string, code int, ok bool) {
	word := args[0]
	for _, c := range commands {
		if c.name == word {
			return word, args[1:], 0, true
		}
	}
	group := word + " "
	isGroup := false
	for _, c := range commands {
		isGroup = isGroup || strings.HasPrefix(c.name, group)
	}
	if !isGroup {
		fmt.Fprintf(stderr, "acpgw: unknown command %q\n\n", word)
		writeUsage(stderr, "")
		return "", nil, 2, false
	}
	if len(args) < 2 {
		fmt.Fprintf(stderr, "acpgw %s: which one?\n\n", word)
		writeUsage(stderr, group)
		return "", nil, 2, false
	}
	if isHelp(args[1]) {
		writeUsage(stdout, group)
		return "", nil, 0, false
	}
	for _, c := range commands {
		if c.name == group+args[1] {
			return c.name, args[2:], 0, true
		}
	}
	fmt.Fprintf(stderr, "acpgw: unknown %s command %q\n\n", word, args[1])
	writeUsage(stderr, group)
	return "", nil, 2, false
}

// run dispatches a command line and returns the exit code. Every error is
// printed once: usage errors by the flag parsing that found them (exit 2),
// others here (exit 1).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeUsage(stderr, "")
		return 2
	}
	switch {
	case isHelp(args[0]):
		writeUsage(stdout, "")
		return 0
	case args[0] == "--version" || args[0] == "-v":
		args = []string{"version"}
	}
	name, rest, code, ok := resolve(args, stdout, stderr)
	if !ok {
		return code
	}
	var err error
	switch name {
	case "serve":
		err = serveCmd(ctx, rest, stdout, stderr)
	case "config check":
		err = configCheckCmd(rest, stdout, stderr)
	case "route explain":
		err = routeExplainCmd(rest, stdout, stderr)
	case "fees report":
		err = feesReportCmd(ctx, rest, stdout, stderr)
	case "fees import-adyen":
		err = importAdyenCmd(ctx, rest, stdout, stderr)
	case "events tail":
		err = eventsTailCmd(ctx, rest, stdout, stderr)
	case "simulate":
		err = simulateCmd(rest, stdout, stderr)
	case "migrate":
		err = migrateCmd(ctx, rest, stdout, stderr)
	case "mock-server":
		err = mockServerCmd(ctx, rest, stdout, stderr)
	case "version":
		err = versionCmd(rest, stdout, stderr)
	default:
		err = fmt.Errorf("command %q is listed but not wired", name)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "acpgw: %v\n", err)
		return 1
	}
	return 0
}

func versionCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stdout, stderr)
	if err := fs.parse(args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "acpgw %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// errUsage means the command line was wrong and the problem is already
// printed, with the command's usage.
var errUsage = errors.New("usage")

// flags is a subcommand's flag set. It prints its own usage: to stdout when
// asked for with --help, to stderr after a mistake.
type flags struct {
	*flag.FlagSet
	cmd            command
	stdout, stderr io.Writer
	// args names the positional arguments the command takes, in order;
	// none by default.
	args []string
}

func newFlags(name string, stdout, stderr io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := &flags{FlagSet: fs, cmd: command{name: name}, stdout: stdout, stderr: stderr}
	for _, c := range commands {
		if c.name == name {
			f.cmd = c
		}
	}
	return f
}

func (f *flags) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: acpgw %s %s\n\n%s\n", f.cmd.name, f.cmd.synopsis, f.cmd.about)
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nflags:")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
}

// parse parses args and refuses positional arguments other than f.args
// (flags go before them): `acpgw serve my.yaml` must not start the demo.
func (f *flags) parse(args []string) error {
	err := f.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		f.usage(f.stdout)
		return err
	}
	if err != nil {
		return f.fail("%v", err)
	}
	if f.NArg() == len(f.args) {
		return nil
	}
	if len(f.args) == 0 {
		stray := f.Arg(0)
		hint := ""
		if strings.HasSuffix(stray, ".yaml") || strings.HasSuffix(stray, ".yml") {
			hint = fmt.Sprintf(" (did you mean --config %s?)", stray)
		}
		return f.fail("unexpected argument %q%s; this command takes flags only", stray, hint)
	}
	return f.fail("want %s after the flags, got %d argument(s): %q", strings.Join(f.args, " "), f.NArg(), f.Args())
}

// fail prints a usage error and the command's usage to stderr.
func (f *flags) fail(format string, args ...any) error {
	fmt.Fprintf(f.stderr, "acpgw %s: %s\n\n", f.cmd.name, fmt.Sprintf(format, args...))
	f.usage(f.stderr)
	return errUsage
}
