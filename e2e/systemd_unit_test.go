package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unitService reads the [Service] settings of contrib/deskmail.service
// (the last value of each key, and every Environment= line).
func unitService(t *testing.T) (map[string]string, []string) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "contrib", "deskmail.service"))
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string]string{}
	var env []string
	section := ""
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			section = l
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if section != "[Service]" || !ok || strings.HasPrefix(l, "#") {
			continue
		}
		if k == "Environment" {
			env = append(env, v)
		}
		kv[k] = v
	}
	return kv, env
}

// TestUnitStartsAsItsUserAndReadsItsConfig does what systemd does for
// contrib/deskmail.service, under a temporary root: it creates the unit's
// user with the shipped sysusers file, the ConfigurationDirectory= (owned
// by root, with its mode) and the StateDirectory= (owned by the user), puts
// a TOML there as the install notes say, and starts the unit's ExecStart
// as the unit's user with runuser. The daemon must read the TOML (its
// ready line names the domain configured there) and run.
func TestUnitStartsAsItsUserAndReadsItsConfig(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (runuser, chown); CI runs as root")
		}
		t.Skip("needs root to start the unit's ExecStart as its user with runuser; CI=true makes this a failure")
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		t.Fatal("runuser not found (util-linux)")
	}
	svc, env := unitService(t)
	name := svc["User"]
	if _, err := user.Lookup(name); err != nil {
		// What a package does on install: create the user from the
		// shipped sysusers.d file.
		root, _ := repoRoot()
		out, err := exec.Command("systemd-sysusers", filepath.Join(root, "contrib", "deskmail.sysusers")).CombinedOutput()
		if err != nil {
			t.Fatalf("systemd-sysusers: %v\n%s", err, out)
		}
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	// The temporary root must be searchable by the user, as / is.
	top, err := os.MkdirTemp("", "deskmail-unit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	mode := func(key string) os.FileMode {
		m, err := strconv.ParseUint(svc[key], 8, 32)
		if err != nil {
			t.Fatalf("%s=%q: %v", key, svc[key], err)
		}
		return os.FileMode(m)
	}
	mkdir := func(dir string, m os.FileMode, uid, gid int) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, m); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	confDir := filepath.Join(top, "etc", svc["ConfigurationDirectory"])
	stateDir := filepath.Join(top, "var/lib", svc["StateDirectory"])
	binDir := filepath.Join(top, "usr/local/bin")
	mkdir(confDir, mode("ConfigurationDirectoryMode"), 0, 0) // systemd leaves it to root
	mkdir(stateDir, mode("StateDirectoryMode"), uid, gid)
	mkdir(binDir, 0o755, 0, 0)
	copyFile(t, binary, filepath.Join(binDir, "deskmail"), 0o755)
	toml := "smtp-addr = \"127.0.0.1:0\"\nhttp-addr = \"off\"\ndomain = [\"unit-config.test\"]\n"
	if err := os.WriteFile(filepath.Join(confDir, "deskmail.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}

	// ExecStart and Environment= with their paths under the temporary root.
	remap := strings.NewReplacer("/usr/local/bin/", binDir+"/", "/etc/deskmail", confDir, "/var/lib/deskmail", stateDir)
	args := strings.Fields(remap.Replace(svc["ExecStart"]))
	cmd := exec.Command("runuser", append([]string{"-u", name, "--"}, args...)...)
	cmd.Env = cleanEnv()
	for _, e := range env {
		cmd.Env = append(cmd.Env, remap.Replace(e))
	}
	um, _ := strconv.ParseUint(svc["UMask"], 8, 32)
	old := syscall.Umask(int(um))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Start()
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }() // a second Wait returns at once
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	timeout := time.After(lineTimeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before it was ready:\n%s", strings.Join(args, " "), strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.Contains(l, "deskmail ready") {
				if !strings.Contains(l, "unit-config.test") {
					t.Fatalf("ready, but not with the TOML's domain: %s", l)
				}
				// runuser passes SIGTERM on to the daemon and exits after
				// it; the deferred SIGKILL would reach runuser alone and
				// leave the daemon running, so wait for the exit here.
				_ = cmd.Process.Signal(syscall.SIGTERM)
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				select {
				case <-exited:
				case <-time.After(lineTimeout):
					t.Errorf("%s still running %v after SIGTERM", strings.Join(args, " "), lineTimeout)
				}
				return
			}
		case <-timeout:
			t.Fatalf("not ready after %v:\n%s", lineTimeout, strings.Join(seen, "\n"))
		}
	}
}

func copyFile(t *testing.T, from, to string, m os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(fmt.Errorf("copy %s: %w", from, err))
	}
}
