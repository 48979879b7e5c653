package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Exit statuses, the same for every command so that scripts can rely on them.
const (
	exitOK          = 0
	exitRefused     = 1 // the cookie was refused, or the session is missing or expired
	exitUsage       = 2 // the command line or the configuration is wrong
	exitUnavailable = 3 // the store could not be asked; the same command may work later
)

// Codes of failures that are not connectsid's, in the same place as its
// codes (connectsid.ErrorCode) in human and JSON output.
const (
	codeUsage = "usage" // exit 2
	codeError = "error" // exit 1: anything else, e.g. stdin could not be read
)

func init() {
	// go-redis logs failed dials to stderr by itself; the command reports
	// store failures once, in its own words (and in JSON with --json).
	redis.SetLogger(quietLogger{})
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// app is one run of the command: its streams, its environment and the
// global flags. Nothing in the package is global, so tests call run
// concurrently.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	json           bool // --json
}

// run executes the command line args and returns the exit status. main
// passes the process's streams and os.Getenv; tests pass their own.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	return a.report(cmd, err)
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "expressbridge",
		Short: "Verify Express session cookies and manage their sessions in Redis",
		Long: `expressbridge works with the sessions of an unmodified Express app that uses
express-session and connect-redis: it verifies and signs connect.sid cookies
with the app's secrets and reads, lists, touches and destroys the session
records in Redis exactly as the app stores them.

Secrets are never given on the command line, where ps and the shell history
would show them: set SESSION_SECRET (one secret) or pass --secret-file FILE
(one secret per line, in the order of the app's secret option; the first
signs).

Every flag that describes the app can also be set from the environment; the
flag wins over the variable, the variable over the default. Each flag's help
names its variable.

When the bridge refuses a user, 'expressbridge doctor' walks the same steps
for their cookie and says which one fails, why, and what to try next.

Exit status: 0 success, 1 cookie refused or session missing or expired,
2 usage error, 3 session store unavailable.`,
		Example: `  export SESSION_SECRET='keyboard cat'
  expressbridge doctor 'theme=dark; connect.sid=s%3Ad-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR.rPdcmAd8H7LnDrih7JlnEAc5ob49dAfrkjmDX6FZaPs'
  expressbridge unsign 's%3Ad-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR.rPdcmAd8H7LnDrih7JlnEAc5ob49dAfrkjmDX6FZaPs'
  expressbridge session list --redis-url redis://127.0.0.1:6379`,
		Args:          cobra.ArbitraryArgs,
		RunE:          runGroup,
		Version:       versionString(),
		SilenceErrors: true, // run reports errors, in human or JSON form
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.applyEnv(cmd.Flags())
		},
	}
	root.CompletionOptions.HiddenDefaultCmd = false // "expressbridge completion bash|zsh|fish|powershell"
	root.SetVersionTemplate(versionLine() + "\n")
	root.PersistentFlags().BoolVar(&a.json, "json", false, "print results and errors as JSON on stdout")
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newServeCmd(a), newDoctorCmd(a), newUnsignCmd(a), newSignCmd(a), newSessionCmd(a), newStoreCmd(a), newVersionCmd(a))
	return root
}

// flagError turns a flag parsing error into a usage error with a hint.
func flagError(cmd *cobra.Command, err error) error {
	e := usageErrorf("%v", err)
	var notExist *pflag.NotExistError
	if errors.As(err, &notExist) && notExist.GetSpecifiedName() == "secret" {
		e.hint = "secrets never go on the command line, where ps and the shell history show them: " +
			"set SESSION_SECRET or pass --secret-file FILE"
	} else {
		e.hint = fmt.Sprintf("run '%s --help'", cmd.CommandPath())
	}
	return e
}

// runGroup runs a command that only groups others: without arguments it
// shows the help; with one it fails naming it shortened, since it may be a
// cookie pasted in the wrong place. (cobra's own check quotes it whole, and
// a group without RunE would show the help and exit 0.)
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	name := args[0]
	if len(name) > maxShownArg {
		name = connectsid.Redact(name)
	}
	e := usageErrorf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which it sets only for its own check
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		e.hint = fmt.Sprintf("did you mean '%s %s'?", cmd.CommandPath(), s[0])
	}
	return e
}

// maxShownArg is the longest unknown command quoted whole in an error.
const maxShownArg = 16

// Failures -----------------------------------------------------------------

// cliError is a failure as the user sees it: a machine-readable code, a
// message that holds no secret and no whole cookie, a hint of what to try
// next, and the exit status.
type cliError struct {
	code string // a connectsid code, codeUsage or codeError
	msg  string
	hint string
	exit int
	// For JSON output only: the session ID and the record of an expired
	// session, which session get prints along with the failure.
	sid    string
	record json.RawMessage
	// quiet: the command has printed its own report (doctor); run only
	// returns the exit status.
	quiet bool
}

func (e *cliError) Error() string { return e.code + ": " + e.msg }

func usageErrorf(format string, args ...any) *cliError {
	return &cliError{code: codeUsage, msg: fmt.Sprintf(format, args...), exit: exitUsage}
}

// exitStatus returns the exit status for a connectsid error code.
func exitStatus(code string) int {
	switch code {
	case connectsid.CodeStoreUnavailable:
		return exitUnavailable
	case codeUsage:
		return exitUsage
	}
	return exitRefused
}

// failureJSON is the JSON form of every failure.
type failureJSON struct {
	OK      bool            `json:"ok"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Hint    string          `json:"hint,omitempty"`
	SID     string          `json:"sid,omitempty"`
	Session json.RawMessage `json:"session,omitempty"`
}

// report prints err and returns the exit status. Errors that are not
// cliErrors come from cobra itself (unknown command, wrong number of
// arguments) and are usage errors.
func (a *app) report(cmd *cobra.Command, err error) int {
	var e *cliError
	if !errors.As(err, &e) {
		e = &cliError{code: connectsid.ErrorCode(err), msg: err.Error()}
		if e.code == "" {
			e.code = codeUsage
		}
		e.exit = exitStatus(e.code)
	}
	if e.quiet {
		return e.exit
	}
	if e.hint == "" && e.code == codeUsage && cmd != nil {
		e.hint = fmt.Sprintf("run '%s --help'", cmd.CommandPath())
	}
	if a.json {
		a.writeJSON(failureJSON{Error: e.code, Message: e.msg, Hint: e.hint, SID: e.sid, Session: e.record})
		return e.exit
	}
	fmt.Fprintf(a.stderr, "expressbridge: %s: %s\n", e.code, e.msg)
	if e.hint != "" {
		fmt.Fprintf(a.stderr, "hint: %s\n", e.hint)
	}
	return e.exit
}

// Output --------------------------------------------------------------------

// writeJSON prints v as one line of JSON, without the HTML escaping that
// JSON.stringify does not do either.
func (a *app) writeJSON(v any) {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a closed stdout has nobody left to tell
}

// note prints one line for the operator on stderr.
func (a *app) note(format string, args ...any) {
	fmt.Fprintf(a.stderr, "note: "+format+"\n", args...)
}

// Environment ---------------------------------------------------------------

// envAnnotation marks a flag that an environment variable can set.
const envAnnotation = "expressbridge_env"

// bindEnv lets the variable env set flag name when the command line does not,
// and names the variable in the flag's help.
func bindEnv(fs *pflag.FlagSet, name, env string) {
	f := fs.Lookup(name)
	f.Usage += " (env " + env + ")"
	if err := fs.SetAnnotation(name, envAnnotation, []string{env}); err != nil {
		panic(err) // the flag was just looked up
	}
}

// applyEnv sets every bound flag that the command line left alone from its
// variable, when that is set and not empty: the flag wins over the
// variable, the variable over the default. A flag set from its variable
// counts as Changed, as one given on the command line does: a command that
// asks whether the user chose a value (serve's --revalidate-interval on
// PostgreSQL) must hear yes for either.
func (a *app) applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		names := f.Annotations[envAnnotation]
		if err != nil || f.Changed || len(names) == 0 {
			return
		}
		v := a.getenv(names[0])
		if v == "" {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = usageErrorf("%s is not a valid --%s: %v", names[0], f.Name, e)
			return
		}
		f.Changed = true
	})
	return err
}
