//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nobody is the conventional unprivileged user and group id.
const nobody = 65534

// dropPrivileges gives up what attaching needed. As root it switches the
// whole process to the user who ran sudo (SUDO_UID, SUDO_GID) or else to
// nobody. Either way it then clears every capability (those a non-root
// user got from file capabilities included) and sets no_new_privs, on all
// threads. The attached program, its maps and the ring buffer stay usable
// through the file descriptors already open. It returns who the process
// now is.
func dropPrivileges() (string, error) {
	if os.Geteuid() == 0 {
		uid, gid := unprivilegedIDs()
		// Go applies these to every thread of the process.
		if err := syscall.Setgroups(nil); err != nil {
			return "", fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setgid(gid); err != nil {
			return "", fmt.Errorf("setgid %d: %w", gid, err)
		}
		if err := syscall.Setuid(uid); err != nil {
			return "", fmt.Errorf("setuid %d: %w", uid, err)
		}
		if os.Geteuid() == 0 || os.Getegid() == 0 {
			return "", fmt.Errorf("still root after setuid(%d)", uid)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // all zero: no capability at all
	if _, _, errno := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); errno != 0 {
		return "", fmt.Errorf("clear capabilities: %w (build stridemap-observer with CGO_ENABLED=0)", errno)
	}
	if _, _, errno := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); errno != 0 {
		return "", fmt.Errorf("set no_new_privs: %w", errno)
	}
	return fmt.Sprintf("uid %d, gid %d, no capabilities", os.Getuid(), os.Getgid()), nil
}

// unprivilegedIDs are the user and group root switches to once attached:
// the user who ran sudo, else nobody.
func unprivilegedIDs() (uid, gid int) {
	uid, gid = nobody, nobody
	if id, err := strconv.Atoi(os.Getenv("SUDO_UID")); err == nil && id > 0 {
		uid, gid = id, id
		if g, err := strconv.Atoi(os.Getenv("SUDO_GID")); err == nil && g > 0 {
			gid = g
		}
	}
	return uid, gid
}

// prepareExportDir makes the export directory, while still root, for the
// user the observer becomes once attached: a directory it creates is
// handed to that user; one that exists must be writable by them already,
// as nothing that exists is handed over.
func prepareExportDir(dir string, dropping bool) error {
	if os.Geteuid() != 0 || !dropping {
		return os.MkdirAll(dir, 0o755)
	}
	uid, gid := unprivilegedIDs()
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.Chown(dir, uid, gid)
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("--export-dir %s is not a directory", dir)
	}
	st, _ := info.Sys().(*syscall.Stat_t)
	perm := info.Mode().Perm()
	switch {
	case st == nil,
		int(st.Uid) == uid && perm&0o300 == 0o300,
		int(st.Gid) == gid && perm&0o030 == 0o030,
		perm&0o003 == 0o003:
		return nil
	}
	return fmt.Errorf("--export-dir %s is not writable by uid %d, which the observer runs as once attached: "+
		"chown %d:%d %s, or name a directory that does not exist yet (it is created for that user)", dir, uid, uid, gid, dir)
}

// createOutput creates the flow log file. When running under sudo it hands
// the file to the invoking user, who will read it.
func createOutput(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		uid, errU := strconv.Atoi(os.Getenv("SUDO_UID"))
		gid, errG := strconv.Atoi(os.Getenv("SUDO_GID"))
		if errU == nil && errG == nil {
			_ = f.Chown(uid, gid)
		}
	}
	return f, nil
}
