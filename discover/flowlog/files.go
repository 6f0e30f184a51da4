package flowlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/flows"
)

// SourceFlows is the kind of source a flow log argument is.
const SourceFlows discover.SourceKind = "flows"

// ProblemCode marks problems with flow logs and with the inventories that
// name their ends.
const ProblemCode = "flow-log"

// maxBadLines is how many unusable lines a flow log may have before it is
// taken for something else and left out whole.
const maxBadLines = 10

const badLineAdvice = "; the line was left out (fix or delete it)"

// ReadPaths reads the flow logs each argument names: a file, or the
// *.jsonl and *.json files under a directory (as the observer DaemonSet
// exports them). It returns one source per argument. Lines and files that
// cannot be used become problems, with their file and line, and the rest is
// read; a file named twice (itself and through its directory) is read once.
func ReadPaths(args []string) (*flows.Log, []discover.Source, []discover.Problem) {
	all := &flows.Log{}
	var sources []discover.Source
	var problems []discover.Problem
	seen := map[string]bool{}
	for _, arg := range args {
		log, src, bad := readArg(arg, seen)
		all.Append(log)
		sources = append(sources, src)
		problems = append(problems, bad...)
	}
	return all, sources, problems
}

// readArg reads one argument of ReadPaths.
func readArg(arg string, seen map[string]bool) (*flows.Log, discover.Source, []discover.Problem) {
	src := discover.Source{Kind: SourceFlows, Path: arg}
	all := &flows.Log{}
	files, err := logFiles(arg)
	if err != nil {
		return all, src, []discover.Problem{Problem(arg, 0, err.Error()+"; it was left out")}
	}
	var problems []discover.Problem
	h := sha256.New()
	for _, f := range files {
		if abs, err := filepath.Abs(f); err == nil {
			if seen[abs] {
				continue
			}
			seen[abs] = true
		}
		b, err := os.ReadFile(f)
		if err != nil {
			problems = append(problems, Problem(f, 0, fmt.Sprintf("cannot be read: %v; it was left out", withoutPath(err))))
			continue
		}
		log, bad, ok := readFile(f, b)
		problems = append(problems, bad...)
		if !ok {
			continue
		}
		h.Write(b)
		all.Append(log)
		src.Files++
	}
	src.Objects, src.SHA256, src.Notes = len(all.Flows), hex.EncodeToString(h.Sum(nil)), all.MissingNotes()
	return all, src, problems
}

// logFiles lists the flow logs an argument names: itself, or the *.jsonl
// and *.json files under a directory, by path (the exports' names sort by
// time). Hidden files, such as an export being written, are not read.
func logFiles(arg string) ([]string, error) {
	info, err := os.Stat(arg)
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", withoutPath(err))
	}
	if !info.IsDir() {
		return []string{arg}, nil
	}
	var files []string
	err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch name := d.Name(); {
		case path != arg && strings.HasPrefix(name, "."):
			if d.IsDir() {
				return filepath.SkipDir
			}
		case d.Type().IsRegular() && (strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".json")):
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("directory holds no flow logs (*.jsonl, *.json)")
	}
	return files, nil
}

// readFile reads one flow log, leaving out the lines that are not flow log
// lines, each reported with its line number. Read stops at the first bad
// line, so that line is blanked (keeping the numbering) and the log read
// again. A file with too many bad lines is no flow log: it is left out
// whole (ok is false), with one problem.
func readFile(path string, b []byte) (log *flows.Log, problems []discover.Problem, ok bool) {
	for {
		log, err := Read(bytes.NewReader(b))
		if err == nil {
			return log, problems, true
		}
		var lineErr *LineError
		if !errors.As(err, &lineErr) {
			return nil, append(problems, Problem(path, 0, fmt.Sprintf("%v; the file was left out", err))), false
		}
		msg := lineErr.Message()
		if syntax := (*json.SyntaxError)(nil); errors.As(err, &syntax) {
			msg = "not JSON: " + msg
		}
		if len(problems) == maxBadLines {
			first := problems[0]
			first.Message = fmt.Sprintf("more than %d lines are not flow log lines, the first: %s; the file was left out: is it a stridemap-observer log or hubble observe -o json output?",
				maxBadLines, strings.TrimSuffix(first.Message, badLineAdvice))
			return nil, []discover.Problem{first}, false
		}
		problems = append(problems, Problem(path, lineErr.Line, msg+badLineAdvice))
		b = blankLine(b, lineErr.Line)
	}
}

// blankLine returns b with its nth line (1-based) emptied.
func blankLine(b []byte, n int) []byte {
	start := 0
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(b[start:], '\n')
		if j < 0 {
			return b
		}
		start += j + 1
	}
	end := len(b)
	if j := bytes.IndexByte(b[start:], '\n'); j >= 0 {
		end = start + j
	}
	return slices.Concat(b[:start], b[end:])
}

// Problem is an error about a flow log or inventory, at a line (0: the
// whole file).
func Problem(file string, line int, msg string) discover.Problem {
	return discover.Problem{Severity: discover.SeverityError, Code: ProblemCode, Location: discover.Location{File: file, Line: line}, Message: msg}
}

// withoutPath drops the path from a file error, which the problem names.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
