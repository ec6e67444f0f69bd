// Package openbao runs an OpenBao dev server on loopback for the e2e tests of kms-plugin-vault
// and makes the few admin calls they need over OpenBao's HTTP API: mount transit, create and
// rotate a key, write the plugin's least-privilege policy and issue a token under it.
package openbao

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s-kms.dev/e2e/internal/pluginproc"
	"k8s-kms.dev/e2e/internal/proc"
)

// Server is a `bao server -dev` process: in-memory storage, unsealed, HTTP on loopback.
type Server struct {
	URL  string
	root string // the root token: sent to the server only, never logged or put in an error
	p    *proc.Process
	mu   sync.Mutex
	mnt  bool // transit is mounted
}

// Binary is the pinned `bao` that scripts/setup-test-tools.sh installs into the project's venv, else the
// one on PATH.
func Binary() string {
	venv := filepath.Join(pluginproc.RepoRoot(), ".cache", "openbao-venv", "bin", "bao")
	if _, err := os.Stat(venv); err == nil {
		return venv
	}
	return "bao"
}

// Start runs a dev server on a free loopback port and waits until /v1/sys/health answers 200
// (initialized, unsealed, active). The root token is random per server.
func Start() (*Server, error) {
	port, err := freePortPair()
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), root: "e2e-" + hex.EncodeToString(tok)}
	// -dev-no-store-token keeps the root token out of ~/.bao-token. A developer's BAO_ADDR,
	// VAULT_ADDR, BAO_API_ADDR and the like must not change how the dev server listens.
	s.p, err = proc.Start(proc.Spec{
		Command: Binary(),
		Args: []string{"server", "-dev", "-dev-no-store-token", "-log-level=warn",
			"-dev-root-token-id=" + s.root, fmt.Sprintf("-dev-listen-address=127.0.0.1:%d", port)},
		DropEnv:     []string{"BAO_", "VAULT_"},
		InstalledBy: "scripts/setup-test-tools.sh",
		Redact:      []string{s.root},
		Ready:       proc.HTTPReady(s.URL + "/v1/sys/health"),
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// freePortPair finds a loopback port whose successor is free too: a dev server also listens for
// cluster traffic on the port after its API port, and two servers may start at once.
func freePortPair() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		next, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+1))
		l.Close()
		if err == nil {
			next.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free pair of loopback ports for bao server -dev")
}

// Stop ends the server.
func (s *Server) Stop() { _ = s.p.Stop() }

// call makes one API request as root. Errors carry OpenBao's error messages, which never
// contain a token.
func (s *Server) call(method, path string, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequest(method, s.URL+"/v1/"+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", s.root)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		var e struct{ Errors []string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("openbao %s /v1/%s: HTTP %d %s", method, path, resp.StatusCode, strings.Join(e.Errors, "; "))
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// MountTransit enables the transit secrets engine at transit/ (once per server).
func (s *Server) MountTransit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mnt {
		return nil
	}
	if err := s.call(http.MethodPost, "sys/mounts/transit", map[string]any{"type": "transit"}, nil); err != nil {
		return err
	}
	s.mnt = true
	return nil
}

// CreateKey creates a transit key (aes256-gcm96, the default).
func (s *Server) CreateKey(name string) error {
	return s.call(http.MethodPost, "transit/keys/"+name, map[string]any{}, nil)
}

// RotateKey adds a new version to a transit key; new encryptions use it.
func (s *Server) RotateKey(name string) error {
	return s.call(http.MethodPost, "transit/keys/"+name+"/rotate", nil, nil)
}

// WritePluginPolicy writes an ACL policy granting exactly what kms-plugin-vault needs on one
// key: encrypt, decrypt, hmac (its key fingerprint) and reading the key's versions.
func (s *Server) WritePluginPolicy(policy, key string) error {
	hcl := fmt.Sprintf(`path "transit/encrypt/%[1]s" { capabilities = ["update"] }
path "transit/decrypt/%[1]s" { capabilities = ["update"] }
path "transit/hmac/%[1]s" { capabilities = ["update"] }
path "transit/keys/%[1]s" { capabilities = ["read"] }
`, key)
	return s.call(http.MethodPut, "sys/policies/acl/"+policy, map[string]any{"policy": hcl}, nil)
}

// CreateToken issues a one-hour token with the given policy (plus OpenBao's default policy,
// which lets a token look itself up and renew itself).
func (s *Server) CreateToken(policy string) (string, error) {
	var out struct {
		Auth struct {
			ClientToken string `json:"client_token"`
		}
	}
	if err := s.call(http.MethodPost, "auth/token/create", map[string]any{"policies": []string{policy}, "ttl": "1h"}, &out); err != nil {
		return "", err
	}
	if out.Auth.ClientToken == "" {
		return "", errors.New("openbao auth/token/create returned no client_token")
	}
	return out.Auth.ClientToken, nil
}

// PluginPolicy is the name of the policy PluginKey writes for a key.
func PluginPolicy(key string) string { return "kms-plugin-" + key }

// EnableKubernetesAuth mounts the Kubernetes auth method at kubernetes/ and points it at a
// kube-apiserver (host, and the PEM CA its serving certificate chains to). No reviewer JWT is
// configured and the local service-account files are not used: OpenBao sends each login's own
// JWT to the TokenReview API, so that service account needs system:auth-delegator.
func (s *Server) EnableKubernetesAuth(host string, caPEM []byte) error {
	if err := s.call(http.MethodPost, "sys/auth/kubernetes", map[string]any{"type": "kubernetes"}, nil); err != nil {
		return err
	}
	return s.call(http.MethodPost, "auth/kubernetes/config", map[string]any{
		"kubernetes_host":      host,
		"kubernetes_ca_cert":   string(caPEM),
		"disable_local_ca_jwt": true,
	}, nil)
}

// KubernetesRole writes a Kubernetes auth role that admits one service account and grants
// policy, with one-hour tokens.
func (s *Server) KubernetesRole(role, namespace, serviceAccount, policy string) error {
	return s.call(http.MethodPost, "auth/kubernetes/role/"+role, map[string]any{
		"bound_service_account_names":      []string{serviceAccount},
		"bound_service_account_namespaces": []string{namespace},
		"token_policies":                   []string{policy},
		"token_ttl":                        "1h",
	}, nil)
}

// PluginKey creates a transit key for kms-plugin-vault, writes a token limited to that key
// (not root) to tokenFile with mode 0600, and returns a function that rotates the key. The
// token goes straight to the file so no test code handles it.
func (s *Server) PluginKey(key, tokenFile string) (rotate func() error, err error) {
	if err := s.MountTransit(); err != nil {
		return nil, err
	}
	if err := s.CreateKey(key); err != nil {
		return nil, err
	}
	policy := PluginPolicy(key)
	if err := s.WritePluginPolicy(policy, key); err != nil {
		return nil, err
	}
	token, err := s.CreateToken(policy)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		return nil, err
	}
	return func() error { return s.RotateKey(key) }, nil
}

// VaultPlugin starts a dev server for t (stopped when t ends), creates transit key `key` with the
// plugin's policy, and returns the server and a kms-plugin-vault that uses a token under that
// policy; the token file is in dir, the plugin's socket in dir/plugin.
func VaultPlugin(t testing.TB, key, dir string) (*Server, *pluginproc.Plugin) {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	tokenFile := filepath.Join(dir, "vault-token")
	rotate, err := s.PluginKey(key, tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	return s, pluginproc.Vault(filepath.Join(dir, "plugin"), s.URL, key, tokenFile, rotate)
}
