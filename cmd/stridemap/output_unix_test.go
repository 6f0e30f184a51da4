//go:build unix

package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteOutputKeepsWhatIsNotAFile: -o writes a regular file through a
// temporary file renamed over it, but a named pipe (like /dev/null or
// /dev/stdout, which as root a rename would replace by a file) is written
// in place, and a symlink keeps pointing at the file it names.
func TestWriteOutputKeepsWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	write := func(w io.Writer) error { _, err := io.WriteString(w, "report\n"); return err }

	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	read := make(chan string, 1)
	go func() {
		data, _ := os.ReadFile(fifo)
		read <- string(data)
	}()
	if err := writeOutput(nil, fifo, write); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Lstat(fifo); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the pipe was replaced by a file: %v", err) // and its reader waits for ever
	}
	if got := <-read; got != "report\n" {
		t.Errorf("read from the pipe %q", got)
	}

	target := filepath.Join(dir, "real.md")
	writeFile(t, target, "old\n")
	link := filepath.Join(dir, "link.md")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := writeOutput(nil, link, write); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "report\n" {
		t.Errorf("the symlink's target holds %q", data)
	}

	if err := writeOutput(nil, dir, write); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("writing to a directory: %v", err)
	}
}
