package manifests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/stridemap/stridemap/discover"
)

// DefaultMaxFileBytes is the size limit for one file, or for standard input,
// when Request.MaxFileBytes is 0. Real manifests are far smaller; the limit
// keeps a stray disk image or log file from exhausting memory.
const DefaultMaxFileBytes = 64 << 20

// ErrNoSources is returned by Collect when the request names nothing to read.
var ErrNoSources = errors.New("no manifests to read: name files or directories, - for standard input, or kustomize directories")

// Request says which sources Collect reads.
type Request struct {
	Paths            []string          // files or directories; "-" means Stdin
	Kustomize        []string          // kustomization directories, rendered in-process
	Stdin            io.Reader         // read when Paths holds "-"
	DefaultNamespace string            // namespace for namespaced objects that have none; "" means "default"
	MaxFileBytes     int64             // 0 means DefaultMaxFileBytes; larger files/stdin are refused with a Problem
	Progress         func(path string) // optional, called as each file starts, from one goroutine at a time
}

// Collect reads every source. Problems with individual files, documents or
// objects go into Inventory.Problems and the rest is still read; the
// returned error is only for a cancelled context or a request naming no
// source at all (ErrNoSources).
//
// Directories are read recursively, following symlinks, for .yaml, .yml and
// .json files; hidden files and directories (.git) are skipped, and so are
// kustomization files, with a warning pointing to Request.Kustomize. A file
// named directly is read whatever its extension.
//
// Objects come in the order the sources were named, then file order (a
// directory's files sorted by path), then document order, whatever the
// number of workers. When the same object (group, kind, namespace, name) is
// defined twice the first definition is kept and the second reported.
// Kinds that a CustomResourceDefinition among the inputs declares
// cluster-scoped get no namespace, like the built-in cluster-scoped kinds.
//
// Each Source gets a SHA-256: of the bytes read for a file or standard
// input; for a directory or a kustomization, of the relative path and
// SHA-256 of every file read, in order, so renames count as changes.
func Collect(ctx context.Context, req Request) (*discover.Inventory, error) {
	if len(req.Paths) == 0 && len(req.Kustomize) == 0 {
		return nil, ErrNoSources
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading manifests: %w", err)
	}
	c := &collector{req: req, limit: req.MaxFileBytes, maps: NewSharedMaps()}
	if c.limit <= 0 {
		c.limit = DefaultMaxFileBytes
	}
	for _, p := range req.Paths {
		c.addPath(p)
	}
	if err := c.readFiles(ctx); err != nil {
		return nil, err
	}
	for _, dir := range req.Kustomize {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading manifests: %w", err)
		}
		c.kustomize(dir)
	}
	return c.inventory(), nil
}

// collector is the state of one Collect call.
type collector struct {
	req       Request
	limit     int64
	maps      *SharedMaps // shared by every object read
	sources   []*source
	jobs      []job
	stdinUsed bool
}

// source is one named input and what was read from it.
type source struct {
	discover.Source
	problems []discover.Problem // met before any file was read: walking, missing paths
	files    []int              // indexes into collector.jobs
	objs     []*discover.Object // rendered objects of a kustomize source
	later    []discover.Problem // problems met rendering a kustomize source
}

// job is one file (or standard input) to read and decode.
type job struct {
	path  string // as displayed: under the directory as the user named it
	rel   string // relative to the source directory, for the digest
	stdin bool

	objs   []*discover.Object
	probs  []discover.Problem
	sum    [sha256.Size]byte
	read   bool
	source int
}

func (c *collector) problem(s *source, sev discover.Severity, code, file, format string, args ...any) {
	for i, a := range args {
		if text, ok := a.(string); ok {
			args[i] = oneLine(text)
		}
	}
	s.problems = append(s.problems, discover.Problem{
		Severity: sev,
		Code:     code,
		Location: discover.Location{File: file},
		Message:  fmt.Sprintf(format, args...),
	})
}

// addPath turns one named path into a source and the files to read.
func (c *collector) addPath(p string) {
	s := &source{}
	c.sources = append(c.sources, s)
	idx := len(c.sources) - 1
	if p == "-" {
		s.Kind, s.Path = discover.SourceStdin, "-"
		if c.stdinUsed {
			c.problem(s, discover.SeverityWarning, CodeRead, "-", "standard input is named more than once; it is read only the first time")
			return
		}
		c.stdinUsed = true
		c.addJob(s, idx, job{path: "-", stdin: true})
		return
	}
	s.Path = p
	fi, err := os.Stat(p)
	if err != nil {
		s.Kind = discover.SourceFile
		c.problem(s, discover.SeverityError, CodeRead, p, "%s", describeReadError(err))
		return
	}
	if !fi.IsDir() {
		s.Kind = discover.SourceFile
		c.addJob(s, idx, job{path: p, rel: filepath.Base(p)})
		return
	}
	s.Kind = discover.SourceDir
	w := walker{c: c, s: s, idx: idx, root: p, seen: map[string]bool{}}
	if key, ok := fileKey(p, fi); ok {
		w.seen[key] = true
		w.walk(p, "", []string{key})
	} else {
		w.walk(p, "", nil)
	}
	w.addJobs()
}

func (c *collector) addJob(s *source, idx int, j job) {
	j.source = idx
	s.files = append(s.files, len(c.jobs))
	c.jobs = append(c.jobs, j)
}

// describeReadError says what went wrong opening or reading a path, and
// what to do about it.
func describeReadError(err error) string {
	var pe *fs.PathError
	detail := err.Error()
	if errors.As(err, &pe) {
		detail = pe.Err.Error()
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "cannot read: no such file or directory; check the path"
	case errors.Is(err, fs.ErrPermission):
		return "cannot read: permission denied; check the file's permissions"
	case errors.Is(err, syscall.ELOOP):
		return "cannot read: its symbolic links lead round in a loop; fix or remove the link"
	}
	return "cannot read: " + detail
}

// goneWhileRead is the problem of a file or directory that was listed,
// then gone before it could be read.
const goneWhileRead = "was there when the scan listed its directory, then gone: the files were changing during the scan; scan again once they are still"

// exists reports whether path names anything, a broken symbolic link
// included.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// walker lists the manifest files under one directory, following symlinks
// and refusing loops.
type walker struct {
	c    *collector
	s    *source
	idx  int
	root string
	seen map[string]bool // device+inode of every directory and file met
	// files are the manifest files found, added as jobs once the walk
	// knows which of them kustomizations name as patches.
	files          []job
	kustomizations []string
}

func isManifestFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// walk adds the files under dir (displayed as dir, rel to the root) in
// sorted order. ancestors holds the keys of the directories above, so a
// symlink back to one of them is reported as a loop.
func (w *walker) walk(dir, rel string, ancestors []string) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// It was there a moment ago: the caller found it.
		w.c.problem(w.s, discover.SeverityError, discover.CodeChangedWhileRead, dir, "%s", goneWhileRead)
		return
	}
	if err != nil {
		w.c.problem(w.s, discover.SeverityError, CodeRead, dir, "%s", describeReadError(err))
		return
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue // .git, editor swap files and the like
		}
		path := filepath.Join(dir, name)
		relPath := filepath.Join(rel, name)
		fi, err := os.Stat(path) // follows symlinks
		if errors.Is(err, fs.ErrNotExist) && !exists(path) {
			// Listed, then gone: an editor's or a checkout's file that
			// came and went does not matter unless it held manifests.
			if e.IsDir() || isManifestFile(name) {
				w.c.problem(w.s, discover.SeverityError, discover.CodeChangedWhileRead, path, "%s", goneWhileRead)
			}
			continue
		}
		if err != nil {
			// A link that loops, or a manifest that cannot be read, may
			// hold objects the scan then lacks: the scan is partial.
			severity := discover.SeverityWarning
			if errors.Is(err, syscall.ELOOP) || isManifestFile(name) {
				severity = discover.SeverityError
			}
			w.c.problem(w.s, severity, CodeRead, path, "%s", describeReadError(err))
			continue
		}
		key, hasKey := fileKey(path, fi)
		if fi.IsDir() {
			if hasKey {
				if contains(ancestors, key) {
					w.c.problem(w.s, discover.SeverityWarning, CodeSymlinkLoop, path,
						"symbolic link leads back to a directory above it, so it is skipped; remove the link to silence this")
					continue
				}
				if w.seen[key] {
					continue // reached before through another link
				}
				w.seen[key] = true
			}
			w.walk(path, relPath, append(ancestors, key))
			continue
		}
		if fi.Mode().IsRegular() && name == "Kustomization" {
			w.kustomizations = append(w.kustomizations, path)
			continue
		}
		if !fi.Mode().IsRegular() || !isManifestFile(name) {
			continue
		}
		if hasKey {
			if w.seen[key] {
				continue // the same file through a symlink
			}
			w.seen[key] = true
		}
		if isKustomizationFile(name) {
			w.kustomizations = append(w.kustomizations, path)
			continue
		}
		w.files = append(w.files, job{path: path, rel: relPath})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// readFiles reads and decodes every job on a pool of GOMAXPROCS workers.
// Each result lands in its job, so the order of the output does not depend
// on which worker finished first.
func (c *collector) readFiles(ctx context.Context) error {
	if len(c.jobs) == 0 {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), len(c.jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := decoder{maps: c.maps}
			for i := range next {
				if ctx.Err() != nil {
					continue
				}
				c.readJob(&d, &c.jobs[i])
			}
		}()
	}
	for i := range c.jobs {
		if ctx.Err() != nil {
			break
		}
		if c.req.Progress != nil {
			c.req.Progress(c.jobs[i].path)
		}
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reading manifests: %w", err)
	}
	return nil
}

func (c *collector) readJob(d *decoder, j *job) {
	data, p := c.readInput(j)
	if p != nil {
		j.probs = []discover.Problem{*p}
		return
	}
	j.read = true
	j.sum = sha256.Sum256(data)
	j.objs, j.probs = d.decode(j.path, data, c.req.DefaultNamespace)
}

// readInput reads a job's bytes, refusing more than the limit. The size of
// a file is checked before anything is read.
func (c *collector) readInput(j *job) ([]byte, *discover.Problem) {
	fail := func(code, format string, args ...any) *discover.Problem {
		sev := discover.SeverityError
		return &discover.Problem{Severity: sev, Code: code, Location: discover.Location{File: j.path}, Message: fmt.Sprintf(format, args...)}
	}
	tooLarge := func() *discover.Problem {
		return fail(CodeTooLarge, "input is larger than the %s limit and is skipped; split it, or raise the limit (stridemap scan --max-file-size SIZE, such as 400MB)", mib(c.limit))
	}
	var r io.Reader
	var buf bytes.Buffer
	if j.stdin {
		if c.req.Stdin == nil {
			return nil, fail(CodeRead, "standard input was named but none is available")
		}
		r = c.req.Stdin
	} else {
		f, err := os.Open(j.path)
		if errors.Is(err, fs.ErrNotExist) {
			// The file was found when its source was listed.
			return nil, fail(discover.CodeChangedWhileRead, "%s", goneWhileRead)
		}
		if err != nil {
			return nil, fail(CodeRead, "%s", describeReadError(err))
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, fail(CodeRead, "%s", describeReadError(err))
		}
		if fi.Size() > c.limit {
			return nil, tooLarge()
		}
		buf.Grow(int(fi.Size()) + bytes.MinRead)
		r = f
	}
	if _, err := buf.ReadFrom(io.LimitReader(r, c.limit+1)); err != nil {
		return nil, fail(CodeRead, "%s", describeReadError(err))
	}
	if int64(buf.Len()) > c.limit {
		return nil, tooLarge()
	}
	return buf.Bytes(), nil
}

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// inventory assembles the results in source, file and document order and
// drops duplicate objects.
func (c *collector) inventory() *discover.Inventory {
	inv := &discover.Inventory{Objects: []*discover.Object{}}
	seen := map[string]discover.Location{}
	clusterKinds := c.clusterScopedCRDs()
	for _, s := range c.sources {
		inv.Problems = append(inv.Problems, s.problems...)
		add := func(objs []*discover.Object, probs []discover.Problem) {
			inv.Problems = append(inv.Problems, probs...)
			for _, o := range objs {
				if clusterKinds[o.Group()+"/"+o.Kind] {
					makeClusterScoped(o)
				}
				key := o.Group() + "/" + o.Kind + "/" + o.Namespace + "/" + o.Name
				if first, dup := seen[key]; dup {
					inv.Problems = append(inv.Problems, discover.Problem{
						Severity: discover.SeverityError,
						Code:     CodeDuplicate,
						Location: o.Location,
						Object:   oneLine(o.Ref()),
						Message:  fmt.Sprintf("defined again; the first definition, at %s, is kept — remove or rename one of them", first),
					})
					continue
				}
				seen[key] = o.Location
				inv.Objects = append(inv.Objects, o)
				s.Objects++
			}
		}
		var sums []byte
		for _, i := range s.files {
			j := &c.jobs[i]
			add(j.objs, j.probs)
			if j.read {
				s.Files++
				if s.Kind == discover.SourceDir {
					sums = append(sums, filepath.ToSlash(j.rel)...)
					sums = append(sums, 0)
					sums = hex.AppendEncode(sums, j.sum[:])
					sums = append(sums, '\n')
				} else {
					s.SHA256 = hex.EncodeToString(j.sum[:])
				}
			}
			j.objs, j.probs = nil, nil
		}
		if s.Kind == discover.SourceDir {
			sum := sha256.Sum256(sums)
			s.SHA256 = hex.EncodeToString(sum[:])
		}
		if s.Kind == discover.SourceKustomize {
			add(s.objs, s.later)
			s.objs, s.later = nil, nil
		}
		inv.Sources = append(inv.Sources, s.Source)
	}
	return inv
}

// clusterScopedCRDs lists, as "group/Kind", the kinds that the
// CustomResourceDefinitions among the objects declare cluster-scoped, so
// their objects lose the default namespace they were given.
func (c *collector) clusterScopedCRDs() map[string]bool {
	var kinds map[string]bool
	visit := func(objs []*discover.Object) {
		for _, o := range objs {
			if o.Kind != "CustomResourceDefinition" || o.Group() != "apiextensions.k8s.io" {
				continue
			}
			spec, _ := o.Fields["spec"].(map[string]any)
			names, _ := spec["names"].(map[string]any)
			group, _ := spec["group"].(string)
			kind, _ := names["kind"].(string)
			if scope, _ := spec["scope"].(string); scope == "Cluster" && kind != "" {
				if kinds == nil {
					kinds = map[string]bool{}
				}
				kinds[group+"/"+kind] = true
			}
		}
	}
	for _, j := range c.jobs {
		visit(j.objs)
	}
	for _, s := range c.sources {
		visit(s.objs)
	}
	return kinds
}

// makeClusterScoped removes the namespace of an object whose kind turned
// out to be cluster-scoped.
func makeClusterScoped(o *discover.Object) {
	o.Namespace = ""
	if md, ok := o.Fields["metadata"].(map[string]any); ok {
		delete(md, "namespace")
	}
}
