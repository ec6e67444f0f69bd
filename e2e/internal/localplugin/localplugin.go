// Package localplugin runs the built kms-plugin-local binary for the e2e tests.
package localplugin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// RepoRoot is the repository's top folder.
func RepoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(here), "..", "..", ".."))
}

// Plugin is one kms-plugin-local process with its socket and key file in Dir.
type Plugin struct {
	Dir     string
	Socket  string // the socket file path
	KeyFile string
	Extra   []string
	cmd     *exec.Cmd
}

// New prepares a plugin in dir (nothing runs until Start).
func New(dir string, extra ...string) *Plugin {
	return &Plugin{Dir: dir, Socket: filepath.Join(dir, "kms.sock"), KeyFile: filepath.Join(dir, "local.key"), Extra: extra}
}

// Endpoint is the socket as written in an EncryptionConfiguration.
func (p *Plugin) Endpoint() string { return "unix://" + p.Socket }

func bin() string {
	return filepath.Join(RepoRoot(), "packages", "local", "bin", "kms-plugin-local.js")
}

// Start runs the plugin and waits for its socket.
func (p *Plugin) Start() error {
	args := append([]string{bin(), "--listen-addr", p.Endpoint(), "--health-addr", "off", "--key-file", p.KeyFile,
		"--log-level", "warn", "--refresh-interval", "1s"}, p.Extra...)
	p.cmd = exec.Command("node", args...)
	p.cmd.Stdout, p.cmd.Stderr = os.Stderr, os.Stderr
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start kms-plugin-local: %w", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if fi, err := os.Stat(p.Socket); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kms-plugin-local did not create %s", p.Socket)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for the process to exit; it returns the exit error, if any.
func (p *Plugin) Stop() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		p.cmd = nil
		return err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		p.cmd = nil
		return fmt.Errorf("kms-plugin-local did not exit within 20s of SIGTERM")
	}
}

// Rotate adds a key version with `kms-plugin-local rotate`; the running plugin picks it up at its
// next refresh.
func (p *Plugin) Rotate() error {
	out, err := exec.Command("node", bin(), "rotate", "--key-file", p.KeyFile).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kms-plugin-local rotate: %v: %s", err, out)
	}
	return nil
}
