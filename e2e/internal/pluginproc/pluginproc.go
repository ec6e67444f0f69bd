// Package pluginproc runs the project's built plugin binaries (packages/<pkg>/bin/kms-plugin-<pkg>.js)
// for the e2e tests, each with a way to rotate its backend key. internal/backends says which
// flags and which emulator or stand-in each backend's plugin gets.
package pluginproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"k8s-kms.dev/e2e/internal/proc"
)

// RepoRoot is the repository's top folder.
func RepoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(here), "..", "..", ".."))
}

// Plugin is one plugin process with its socket in Dir.
type Plugin struct {
	// ProviderName is the kms provider name the tests use in EncryptionConfigurations (the
	// backend's e2e name).
	ProviderName string
	Dir, Socket  string
	bin          string
	args, env    []string
	rotate       func() error
	prepare      func() error // run before each start (e.g. create the local key file once)
	p            *proc.Process
	lastOutput   string // what the last process printed, kept after it stopped
}

// Binary is the launcher of packages/<pkg>: bin/kms-plugin-<pkg>.js.
func Binary(pkg string) string {
	return filepath.Join(RepoRoot(), "packages", pkg, "bin", "kms-plugin-"+pkg+".js")
}

// New is the plugin of package pkg, named providerName in EncryptionConfigurations, with its
// backend's flags and environment and a function that rotates its backend key.
func New(dir, providerName, pkg string, args, env []string, rotate func() error) *Plugin {
	return &Plugin{ProviderName: providerName, Dir: dir, Socket: filepath.Join(dir, "kms.sock"), bin: Binary(pkg), args: args, env: env, rotate: rotate}
}

// Endpoint is the socket as written in an EncryptionConfiguration.
func (p *Plugin) Endpoint() string { return "unix://" + p.Socket }

// Local is kms-plugin-local with a key file in dir, created by `kms-plugin-local init` before the
// first start; Rotate runs `kms-plugin-local rotate`.
func Local(dir string, extra ...string) *Plugin {
	keyFile := filepath.Join(dir, "local.key")
	p := New(dir, "local", "local", append([]string{"--key-file", keyFile}, extra...), nil, nil)
	p.rotate = func() error {
		out, err := exec.Command("node", p.bin, "rotate", "--key-file", keyFile).CombinedOutput()
		if err != nil {
			return fmt.Errorf("kms-plugin-local rotate: %v: %s", err, out)
		}
		return nil
	}
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
	return p
}

// Vault is kms-plugin-vault against a Vault or OpenBao transit key (an OpenBao dev server in
// the tests), authenticating with the token in tokenFile; rotate rotates the transit key.
func Vault(dir, address, keyName, tokenFile string, rotate func() error) *Plugin {
	return New(dir, "vault", "vault", []string{"--address", address, "--key-name", keyName, "--token-file", tokenFile}, nil, rotate)
}

// VaultKubernetes is kms-plugin-vault logging in with Vault's or OpenBao's Kubernetes auth
// method: role, and the service-account JWT in jwtFile. It has no rotate function.
func VaultKubernetes(dir, address, keyName, role, jwtFile string) *Plugin {
	args := []string{"--address", address, "--key-name", keyName, "--auth-method", "kubernetes", "--role", role, "--jwt-file", jwtFile}
	return New(dir, "vault", "vault", args, nil, func() error { return fmt.Errorf("kms-plugin-vault with Kubernetes auth: no rotate function") })
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
	var err error
	p.p, err = proc.Start(proc.Spec{
		Command:     "node",
		Args:        args,
		Env:         p.env,
		InstalledBy: "scripts/setup.sh (it builds the plugins)",
		Timeout:     20 * time.Second,
		Ready: func(*proc.Process) error {
			fi, err := os.Stat(p.Socket)
			if err != nil {
				return err
			}
			if fi.Mode()&os.ModeSocket == 0 {
				return fmt.Errorf("%s is not a socket", p.Socket)
			}
			return nil
		},
	})
	return err
}

// Stop sends SIGTERM and waits for the process to exit; it returns the exit error, if any.
func (p *Plugin) Stop() error {
	if p.p == nil {
		return nil
	}
	err := p.p.Stop()
	p.lastOutput, p.p = p.p.Output(), nil
	return err
}

// Output is what the running plugin printed (its log at warn level), or the last one once stopped.
func (p *Plugin) Output() string {
	if p.p == nil {
		return p.lastOutput
	}
	return p.p.Output()
}

// Rotate rotates the backend key; the running plugin picks it up at its next refresh.
func (p *Plugin) Rotate() error {
	if p.rotate == nil {
		return fmt.Errorf("%s: no rotate function", p.ProviderName)
	}
	return p.rotate()
}
