// Package pluginproc runs the project's built plugin binaries (kms-plugin-local, kms-plugin-aws,
// kms-plugin-vault) for the e2e tests, each with a way to rotate its backend key.
package pluginproc

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

// Plugin is one plugin process with its socket in Dir.
type Plugin struct {
	// ProviderName is the kms provider name the tests use in EncryptionConfigurations.
	ProviderName string
	Dir, Socket  string
	bin          string
	args, env    []string
	rotate       func() error
	prepare      func() error // run before each start (e.g. create the local key file once)
	cmd          *exec.Cmd
	done         chan error // receives the process's exit once
}

// Endpoint is the socket as written in an EncryptionConfiguration.
func (p *Plugin) Endpoint() string { return "unix://" + p.Socket }

func binary(pkg, name string) string {
	return filepath.Join(RepoRoot(), "packages", pkg, "bin", name+".js")
}

func newPlugin(dir, provider, pkg, bin string) *Plugin {
	return &Plugin{ProviderName: provider, Dir: dir, Socket: filepath.Join(dir, "kms.sock"), bin: binary(pkg, bin)}
}

// Local is kms-plugin-local with a key file in dir, created by `kms-plugin-local init` before the
// first start; Rotate runs `kms-plugin-local rotate`.
func Local(dir string, extra ...string) *Plugin {
	p := newPlugin(dir, "local", "local", "kms-plugin-local")
	keyFile := filepath.Join(dir, "local.key")
	p.args = append([]string{"--key-file", keyFile}, extra...)
	p.prepare = func() error {
		if _, err := os.Stat(keyFile); err == nil {
			return nil
		}
		out, err := exec.Command("node", p.bin, "init", "--key-file", keyFile).CombinedOutput()
		if err != nil {
			return fmt.Errorf("kms-plugin-local init: %v: %s", err, out)
		}
		return nil
	}
	p.rotate = func() error {
		out, err := exec.Command("node", p.bin, "rotate", "--key-file", keyFile).CombinedOutput()
		if err != nil {
			return fmt.Errorf("kms-plugin-local rotate: %v: %s", err, out)
		}
		return nil
	}
	return p
}

// AWS is kms-plugin-aws against an AWS KMS endpoint (moto in the tests), with dummy credentials
// from the environment; rotate re-points the alias.
func AWS(dir, endpoint, alias string, rotate func() error) *Plugin {
	p := newPlugin(dir, "aws", "aws", "kms-plugin-aws")
	p.args = []string{"--key", alias, "--endpoint", endpoint, "--region", "us-east-1"}
	p.env = []string{"AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret"}
	p.rotate = rotate
	return p
}

// Vault is kms-plugin-vault against a Vault or OpenBao transit key (an OpenBao dev server in
// the tests), authenticating with the token in tokenFile; rotate rotates the transit key.
func Vault(dir, address, keyName, tokenFile string, rotate func() error) *Plugin {
	p := newPlugin(dir, "vault", "vault", "kms-plugin-vault")
	p.args = []string{"--address", address, "--key-name", keyName, "--token-file", tokenFile}
	p.rotate = rotate
	return p
}

// VaultKubernetes is kms-plugin-vault logging in with Vault's or OpenBao's Kubernetes auth
// method: role, and the service-account JWT in jwtFile. It has no rotate function.
func VaultKubernetes(dir, address, keyName, role, jwtFile string) *Plugin {
	p := newPlugin(dir, "vault", "vault", "kms-plugin-vault")
	p.args = []string{"--address", address, "--key-name", keyName, "--auth-method", "kubernetes", "--role", role, "--jwt-file", jwtFile}
	p.rotate = func() error { return fmt.Errorf("kms-plugin-vault with Kubernetes auth: no rotate function") }
	return p
}

// Start runs the plugin and waits for its socket.
func (p *Plugin) Start() error {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	if p.prepare != nil {
		if err := p.prepare(); err != nil {
			return err
		}
	}
	args := append([]string{p.bin, "--listen-addr", p.Endpoint(), "--health-addr", "off", "--log-level", "warn", "--refresh-interval", "1s"}, p.args...)
	p.cmd = exec.Command("node", args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = os.Stderr, os.Stderr
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", filepath.Base(p.bin), err)
	}
	p.done = make(chan error, 1)
	go func(cmd *exec.Cmd, done chan<- error) { done <- cmd.Wait() }(p.cmd, p.done)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if fi, err := os.Stat(p.Socket); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		select {
		case err := <-p.done:
			p.cmd = nil
			return fmt.Errorf("%s exited before creating its socket: %v", filepath.Base(p.bin), err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.Stop()
			return fmt.Errorf("%s did not create %s within 20s", filepath.Base(p.bin), p.Socket)
		}
	}
}

// Stop sends SIGTERM and waits for the process to exit; it returns the exit error, if any.
func (p *Plugin) Stop() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	defer func() { p.cmd = nil }()
	select {
	case err := <-p.done:
		return err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within 20s of SIGTERM", filepath.Base(p.bin))
	}
}

// Rotate rotates the backend key; the running plugin picks it up at its next refresh.
func (p *Plugin) Rotate() error { return p.rotate() }
