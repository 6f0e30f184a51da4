//go:build unix

package manifests

import (
	"io/fs"
	"strconv"
	"syscall"
)

// fileKey identifies a file by device and inode, so a directory reached
// again through a symlink is recognised whatever path led to it.
func fileKey(_ string, fi fs.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(uint64(st.Ino), 10), true
}
