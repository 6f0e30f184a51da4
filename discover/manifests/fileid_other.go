//go:build !unix

package manifests

import (
	"io/fs"
	"path/filepath"
)

// fileKey identifies a file by its path with every symlink resolved, where
// the platform offers no device and inode numbers.
func fileKey(path string, _ fs.FileInfo) (string, bool) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", false
	}
	abs, err := filepath.Abs(real)
	if err != nil {
		return "", false
	}
	return abs, true
}
