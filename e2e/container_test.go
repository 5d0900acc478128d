package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// imageConfig is what the test reads of `podman image inspect`.
type imageConfig struct {
	Config imageSettings
}

// imageSettings is an image's run configuration.
type imageSettings struct {
	User         string
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	ExposedPorts map[string]struct{}
	Volumes      map[string]struct{}
	Labels       map[string]string
	StopSignal   string
}

// containerImage returns the image to test: ACPGW_TEST_IMAGE (.ci/run
// builds it with deploy/container/build.sh), or one this test builds with
// that script and removes. Without podman the test is skipped loudly, or
// fails when CI is set.
func containerImage(t *testing.T) (podman, image string) {
	t.Helper()
	if os.Getenv("ACPGW_E2E") == "0" {
		t.Skip("ACPGW_E2E=0: end-to-end test skipped on request")
	}
	podman, err := exec.LookPath("podman")
	if err != nil {
		msg := "podman is not on PATH (Debian: apt-get install -y podman)"
		if os.Getenv("CI") != "" {
			t.Fatalf("%s; CI is set, so this test may not skip", msg)
		}
		t.Logf("SKIPPING: %s", msg)
		t.Skip(msg)
	}
	if image := os.Getenv("ACPGW_TEST_IMAGE"); image != "" {
		return podman, image
	}
	image = fmt.Sprintf("localhost/acpgw-test:%d", os.Getpid())
	build := exec.CommandContext(t.Context(), filepath.Join(repoRoot(t), "deploy", "container", "build.sh"), image)
	build.Env = append(os.Environ(), "VERSION=e2e-test")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deploy/container/build.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "--force", image).Run() })
	return podman, image
}

// TestContainerImage builds (or takes) the image, checks its configuration,
// exports its file system and runs the binary from it under chroot as the
// image's user: `version`, then the image's own command answering
// /healthz and /readyz and writing its data under the working directory.
// Running the image with podman itself is not tried: sandboxes and CI
// machines often refuse to start containers.
func TestContainerImage(t *testing.T) {
	podman, image := containerImage(t)

	out, err := exec.Command(podman, "image", "inspect", image).Output()
	if err != nil {
		t.Fatalf("podman image inspect %s: %v", image, err)
	}
	var inspected []imageConfig
	if err := json.Unmarshal(out, &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman image inspect: %v: %s", err, out)
	}
	cfg := inspected[0].Config
	uid, gid := checkImageConfig(t, cfg)

	root := exportImage(t, podman, image)
	checkImageFiles(t, root, cfg, uid)
	if os.Geteuid() != 0 {
		msg := "running the image's binary needs chroot, which needs root"
		if os.Getenv("CI") != "" {
			t.Fatalf("%s; CI is set, so this test may not skip it", msg)
		}
		t.Skip(msg)
	}
	runFromImage(t, root, cfg, uid, gid)
}

// checkImageConfig checks the image's user, command, port, volume and
// working directory, and returns the user's numeric ids.
func checkImageConfig(t *testing.T, cfg imageSettings) (uid, gid int) {
	t.Helper()
	u, g, ok := strings.Cut(cfg.User, ":")
	var err1, err2 error
	uid, err1 = strconv.Atoi(u)
	gid, err2 = strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil || uid == 0 || gid == 0 {
		t.Errorf("User %q, want numeric non-root uid:gid (Kubernetes' runAsNonRoot can only check a number)", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/usr/local/bin/acpgw"}) {
		t.Errorf("Entrypoint %q, want [/usr/local/bin/acpgw]", cfg.Entrypoint)
	}
	listen := flagValue(cfg.Cmd, "listen")
	host, port, err := net.SplitHostPort(listen)
	if len(cfg.Cmd) == 0 || cfg.Cmd[0] != "serve" || err != nil || host != "0.0.0.0" {
		t.Errorf("Cmd %q, want serve --listen 0.0.0.0:PORT (acpgw listens on loopback by default, unreachable from outside a container)", cfg.Cmd)
	}
	if want := map[string]struct{}{port + "/tcp": {}}; len(cfg.ExposedPorts) != 1 || cfg.ExposedPorts[port+"/tcp"] != want[port+"/tcp"] {
		t.Errorf("ExposedPorts %v, want only the port the command listens on, %s/tcp", cfg.ExposedPorts, port)
	}
	if _, ok := cfg.Volumes[cfg.WorkingDir]; !ok || cfg.WorkingDir == "" || cfg.WorkingDir == "/" {
		t.Errorf("WorkingDir %q, Volumes %v: the working directory (where ./data/ goes) must be the data volume", cfg.WorkingDir, cfg.Volumes)
	}
	if cfg.Labels["org.opencontainers.image.version"] == "" || cfg.Labels["org.opencontainers.image.licenses"] != "Apache-2.0" {
		t.Errorf("Labels %v, want the OCI version and licenses labels", cfg.Labels)
	}
	return uid, gid
}

// flagValue returns the value of --name in args ("--name v" or
// "--name=v"), "" when absent.
func flagValue(args []string, name string) string {
	for i, a := range args {
		for _, p := range []string{"-" + name, "--" + name} {
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v
			}
		}
	}
	return ""
}

// exportImage unpacks the file system of a container created (not started)
// from image into a temporary directory, ownership and modes kept.
func exportImage(t *testing.T, podman, image string) string {
	t.Helper()
	out, err := exec.Command(podman, "create", image).Output()
	if err != nil {
		t.Fatalf("podman create: %v", err)
	}
	id := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command(podman, "rm", "--force", id).Run() })
	export := exec.Command(podman, "export", id)
	stdout, err := export.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	export.Stderr = &stderr
	if err := export.Start(); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := untar(stdout, root); err != nil {
		t.Fatalf("unpacking the image: %v", err)
	}
	if err := export.Wait(); err != nil {
		t.Fatalf("podman export: %v: %s", err, stderr.String())
	}
	return root
}

// untar unpacks a tar stream of regular files, directories and symbolic
// links under dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	type dirMode struct {
		path string
		mode os.FileMode
	}
	var dirs []dirMode
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := path.Clean("/" + h.Name)
		if name == "/" {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		mode := h.FileInfo().Mode()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, dirMode{p, mode})
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if err := os.Chmod(p, mode.Perm()|mode&(os.ModeSticky|os.ModeSetuid|os.ModeSetgid)); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
			continue
		default:
			continue
		}
		if os.Geteuid() == 0 {
			if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
				return err
			}
		}
	}
	// Directory modes last, so that a read-only directory was still
	// writable while its files were unpacked.
	for _, d := range slices.Backward(dirs) {
		if err := os.Chmod(d.path, d.mode.Perm()|d.mode&os.ModeSticky); err != nil {
			return err
		}
	}
	return nil
}

// checkImageFiles checks what the image holds: the static binary, the CA
// bundle, the user's passwd entry, and the data directory writable by that
// user only.
func checkImageFiles(t *testing.T, root string, cfg imageSettings, uid int) {
	t.Helper()
	bin := filepath.Join(root, cfg.Entrypoint[0])
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the entrypoint is not an ELF binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a dynamic loader: the image has no libc, so the binary must be static (CGO_ENABLED=0)", cfg.Entrypoint[0])
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", cfg.Entrypoint[0], libs)
	}

	pem, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil || !x509.NewCertPool().AppendCertsFromPEM(pem) {
		t.Errorf("no CA certificates at /etc/ssl/certs/ca-certificates.crt (%v): TLS to processors would fail", err)
	}

	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil || !strings.Contains("\n"+string(passwd), fmt.Sprintf("\nacpgw:x:%d:", uid)) {
		t.Errorf("/etc/passwd has no entry for uid %d: %v\n%s", uid, err, passwd)
	}

	st, err := os.Stat(filepath.Join(root, cfg.WorkingDir))
	if err != nil {
		t.Fatalf("no working directory %s: %v", cfg.WorkingDir, err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != uid || st.Mode().Perm()&0o007 != 0 {
		t.Errorf("%s: mode %v owner %v, want owned by uid %d and closed to others", cfg.WorkingDir, st.Mode(), st.Sys(), uid)
	}
	if st, err := os.Stat(filepath.Join(root, "tmp")); err != nil || st.Mode()&os.ModeSticky == 0 || st.Mode().Perm() != 0o777 {
		t.Errorf("/tmp: %v %v, want a sticky world-writable directory", st, err)
	}
}

// runFromImage runs the image's binary in its file system as its user:
// `version`, then the image's command (its port swapped for a free one, as
// the host's network is shared) until /healthz and /readyz answer, then
// SIGTERM, which must end it cleanly.
func runFromImage(t *testing.T, root string, cfg imageSettings, uid, gid int) {
	t.Helper()
	command := func(args ...string) *exec.Cmd {
		c := exec.Command(cfg.Entrypoint[0], append(cfg.Entrypoint[1:], args...)...)
		c.Env = cfg.Env
		c.Dir = cfg.WorkingDir // after the chroot
		c.SysProcAttr = &syscall.SysProcAttr{
			Chroot:     root,
			Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
			Setpgid:    true,
		}
		return c
	}
	out, err := command("version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "acpgw ") {
		t.Fatalf("acpgw version in the image: %v: %s", err, out)
	}
	t.Logf("in the image: %s", strings.TrimSpace(string(out)))
	if v := cfg.Labels["org.opencontainers.image.version"]; !strings.Contains(string(out), " "+v+" ") {
		t.Errorf("acpgw version says %q; the image's version label is %q", strings.TrimSpace(string(out)), v)
	}

	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	args := slices.Clone(cfg.Cmd)
	for i, a := range args {
		if a == "0.0.0.0:8080" || strings.HasPrefix(a, "0.0.0.0:") {
			args[i] = "0.0.0.0:" + port
		}
	}
	serve := command(args...)
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	serve.Stderr = stderr
	if err := serve.Start(); err != nil {
		t.Fatalf("starting %v: %v", args, err)
	}
	exited := make(chan error, 1)
	listening := make(chan struct{})
	logs := &lockedBuffer{}
	go func() {
		sc := bufio.NewScanner(stdout)
		said := false
		for sc.Scan() {
			_, _ = fmt.Fprintln(logs, sc.Text())
			if !said && strings.Contains(sc.Text(), `"msg":"acpgw listening"`) {
				said = true
				close(listening)
			}
		}
		exited <- serve.Wait()
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-serve.Process.Pid, syscall.SIGKILL)
	})
	select {
	case <-listening:
	case err := <-exited:
		t.Fatalf("serve in the image exited before listening: %v\n%s%s", err, logs, stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("serve in the image did not listen within 60s\n%s%s", logs, stderr)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, probe := range []string{"/healthz", "/readyz"} {
		resp, err := client.Get("http://127.0.0.1:" + port + probe)
		if err != nil {
			t.Fatalf("%s: %v", probe, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", probe, resp.StatusCode)
		}
	}
	t.Logf("serve %v in the image answered the probes", args)
	if _, err := os.Stat(filepath.Join(root, cfg.WorkingDir, "data", "acpgw.db")); err != nil {
		t.Errorf("the demo store is not under the working directory's data/: %v", err)
	}
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s%s", err, logs, stderr)
		}
	case <-time.After(60 * time.Second):
		t.Errorf("serve did not stop within 60s of SIGTERM")
	}
}

// lockedBuffer is a bytes.Buffer that a process's output goroutine writes
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
