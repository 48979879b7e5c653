package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Secrets come from a file (--secret-file or EXPRESSBRIDGE_SECRET_FILE) or
// from SESSION_SECRET, never from a flag value: the command line is visible
// to every user in ps and stays in the shell history.

// maxSecretFile bounds what is read of a secret file. A real one is a few
// lines; a wrong path (a log, a disk image) is refused instead of read whole.
const maxSecretFile = 1 << 20

const noSecretMsg = "no secret: set " + envSecret + " or pass --secret-file FILE (one secret per line, the first signs)"

// verifier returns a verifier for the app's secrets, loading them on the
// first call. A secret file that every user can read is warned about once.
func (o *sessionOptions) verifier() (*connectsid.Verifier, error) {
	if o.v != nil {
		return o.v, nil
	}
	secrets, err := o.secrets()
	if err != nil {
		return nil, err
	}
	v, err := connectsid.NewVerifier(secrets...)
	if err != nil { // cannot happen: blank lines were dropped; the message holds no secret
		return nil, usageErrorf("%s: %v", o.secretSource, err)
	}
	o.v = v
	return v, nil
}

// secrets returns the app's secrets (cookie-session's keys) from
// --secret-file or the variable.
func (o *sessionOptions) secrets() ([]string, error) {
	var secrets []string
	switch {
	case o.secretFile != "":
		var err error
		if secrets, err = readSecretFile(o.secretFile, o.a.stderr); err != nil {
			return nil, err
		}
		o.secretSource = "--secret-file"
	case o.a.getenv(envSecret) != "":
		secrets = []string{o.a.getenv(envSecret)}
		o.secretSource = envSecret
	default:
		return nil, usageErrorf("%s", noSecretMsg)
	}
	return secrets, nil
}

// readSecretFile reads the secrets of path, one per line. Errors name the
// file, never its contents. A file that every user may read is used, with
// a warning on warn.
func readSecretFile(path string, warn io.Writer) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErrorf("cannot read the secret file: %v", err) // *PathError: op, path, cause
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, usageErrorf("cannot read the secret file: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, usageErrorf("secret file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o004 != 0 {
		fmt.Fprintf(warn, "expressbridge: warning: secret file %s is readable by every user (mode %04o); run: chmod 600 %s\n",
			path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, usageErrorf("cannot read the secret file %s: %v", path, err)
	}
	if len(data) > maxSecretFile {
		return nil, usageErrorf("secret file %s is over %d bytes; is it the right file?", path, maxSecretFile)
	}
	secrets := parseSecrets(string(data))
	if len(secrets) == 0 {
		return nil, usageErrorf("secret file %s holds no secret (one secret per line, the first signs)", path)
	}
	return secrets, nil
}

// parseSecrets splits a secret file into its secrets: one per line, "\n" or
// "\r\n" endings, blank lines ignored, a leading UTF-8 byte order mark
// dropped. Other spaces are part of the secret, as in the app's option.
func parseSecrets(s string) []string {
	s = strings.TrimPrefix(s, "\uFEFF")
	var secrets []string
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		secrets = append(secrets, line)
	}
	return secrets
}
