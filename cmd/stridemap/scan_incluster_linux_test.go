//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	"k8s.io/client-go/rest"

	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/cluster/clustertest"
	"github.com/stridemap/stridemap/discover/flows/flowstest"
	"github.com/stridemap/stridemap/model"
)

// podFilesEnv names, for this test binary run again as a "pod" (asPod),
// the directory whose files it mounts where a pod finds its ServiceAccount's;
// podExecEnv names the program it then becomes.
const (
	podFilesEnv = "STRIDEMAP_TEST_POD_FILES"
	podExecEnv  = "STRIDEMAP_TEST_POD_EXEC"
)

// TestScanInCluster runs the CronJob of deploy/ as its pod would: the real
// stridemap binary, with no kubeconfig anywhere, finds the token, CA and
// namespace of the ServiceAccount that deploy/stridemap-reader.yaml binds,
// at the path every pod has them, and the API server in its environment.
// The files are mounted in a mount namespace of the child's own, so the
// host's filesystem never holds them.
func TestScanInCluster(t *testing.T) {
	flowstest.NeedRoot(t)
	hostSecrets := existing(filepath.Dir(cluster.ServiceAccountTokenFile))
	t.Cleanup(func() {
		if after := existing(filepath.Dir(cluster.ServiceAccountTokenFile)); after != hostSecrets {
			t.Errorf("the test changed the host: %s", after)
		}
	})

	srv := clustertest.Start(t)
	reader, err := os.ReadFile(filepath.Join("..", "..", "deploy", "stridemap-reader.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, skipped := srv.Apply(t, "", reader); len(skipped) != 0 {
		t.Fatalf("stridemap-reader.yaml was not applied: %v", skipped)
	}
	srv.Apply(t, "shop", []byte(liveShop+"---\n"+liveDebug))
	const namespace, account = "stridemap", "stridemap" // the CronJob's
	token := srv.ServiceAccountToken(t, namespace, account)
	clustertest.WaitForAccess(t, &rest.Config{Host: srv.URL, BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{CAData: srv.CA()}}, "secrets", true)

	bin := filepath.Join(t.TempDir(), "stridemap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build stridemap: %v\n%s", err, out)
	}
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	inPod := []string{"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=" + port}
	mounted := map[string]string{"token": token, "ca.crt": string(srv.CA()), "namespace": namespace}

	c := newCLI(t)
	args := cronJobArgs(t)
	for i, a := range args {
		if a == "/data/stridemap.db" {
			args[i] = c.db
		}
	}
	r := runAsPod(t, bin, mounted, inPod, args...)
	if r.code != exitOK || !strings.Contains(r.stdout, "from the cluster at "+srv.URL) || strings.Contains(r.stdout, "Coverage gaps") {
		t.Fatalf("the CronJob's stridemap %s in a pod: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	var g model.Graph
	if err := json.Unmarshal([]byte(c.mustRun("graph", "--format", "json").stdout), &g); err != nil {
		t.Fatal(err)
	}
	if g.Node("workload:shop/web") == nil || g.Node("workload:shop/debug") == nil {
		t.Errorf("the store lacks the shop's workloads: %d nodes", len(g.Nodes))
	}

	// Neither a kubeconfig nor a pod's files: one line each, saying which
	// was looked for and what to do.
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"not in a pod", nil, []string{"not in a pod", "pass --kubeconfig FILE"}},
		{"token not mounted", inPod, []string{"no ServiceAccount token at " + cluster.ServiceAccountTokenFile, "automountServiceAccountToken: true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "stridemap.db")
			r := runAsPod(t, bin, nil, tc.env, "--db", db, "scan", "--live")
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != exitUsage || len(lines) != 1 || !strings.Contains(r.stderr, "no kubeconfig at ") {
				t.Fatalf("exit %d, want %d and one line:\n%s", r.code, exitUsage, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("error lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}

// existing says what is at path, so a test can tell it left it as found.
func existing(path string) string {
	info, err := os.Lstat(path)
	if err != nil {
		return path + ": " + err.Error()
	}
	return fmt.Sprintf("%s: %s", path, info.Mode())
}

// runAsPod runs bin with args in a mount namespace of its own where files
// are the ServiceAccount directory's content (none when nil), with env and
// an empty $HOME as its whole environment: no kubeconfig can be found.
func runAsPod(t *testing.T, bin string, files map[string]string, env []string, args ...string) result {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), podFilesEnv + "=" + dir, podExecEnv + "=" + bin}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// asPod is this test binary run again by runAsPod, in its new mount
// namespace: it puts the ServiceAccount's files where a pod has them and
// becomes the program named, with its arguments. It returns only when the
// binary was not run for that.
func asPod() {
	files, bin := os.Getenv(podFilesEnv), os.Getenv(podExecEnv)
	if files == "" || bin == "" {
		return
	}
	err := mountServiceAccount(files)
	if err == nil {
		env := make([]string, 0, len(os.Environ()))
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, podFilesEnv+"=") && !strings.HasPrefix(kv, podExecEnv+"=") {
				env = append(env, kv)
			}
		}
		err = syscall.Exec(bin, append([]string{bin}, os.Args[1:]...), env)
	}
	fmt.Fprintf(os.Stderr, "pod: %v\n", err)
	os.Exit(125)
}

// mountServiceAccount copies the files of dir into the ServiceAccount
// directory, on a tmpfs mounted over the deepest part of its path that
// exists, after making every mount private: neither the mount nor the
// directories it creates reach the host's mount namespace.
func mountServiceAccount(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	contents := map[string][]byte{}
	for _, e := range entries {
		if contents[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	target := filepath.Dir(cluster.ServiceAccountTokenFile)
	at := target
	for {
		if _, err := os.Stat(at); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		at = filepath.Dir(at)
	}
	if at, err = filepath.EvalSymlinks(at); err != nil { // /var/run is /run on most systems
		return err
	}
	if at == "/" {
		return fmt.Errorf("no part of %s exists to mount a tmpfs on", target)
	}
	if err := unix.Mount("tmpfs", at, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mount a tmpfs on %s: %w", at, err)
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	for name, data := range contents {
		if err := os.WriteFile(filepath.Join(target, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
