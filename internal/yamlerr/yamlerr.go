// Package yamlerr makes the YAML decoder's errors fit on one line: a
// decoder reporting several fields at once writes one per line, which a
// problem list, a log line or a CI annotation would split.
package yamlerr

import (
	"errors"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// OneLine returns err with its message on one line: the lines of a
// *yaml.TypeError joined with "; ", an unknown field named as such rather
// than by the Go type it is missing from. errors.Is and errors.As still
// see err. A nil err gives nil.
func OneLine(err error) error {
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		parts := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			parts[i] = notFound.ReplaceAllString(e, "unknown field $1")
		}
		return &oneLine{msg: "yaml: " + flatten(strings.Join(parts, "; ")), err: err}
	}
	return &oneLine{msg: flatten(err.Error()), err: err}
}

var notFound = regexp.MustCompile(`field (.*?) not found in type .*$`)

type oneLine struct {
	msg string
	err error
}

func (e *oneLine) Error() string { return e.msg }
func (e *oneLine) Unwrap() error { return e.err }

// flatten joins lines with "; " and drops the indentation that followed.
func flatten(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
	}
	return strings.Join(lines, "; ")
}
