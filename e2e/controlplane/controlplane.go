// Package controlplane runs a real etcd and kube-apiserver on loopback, with an
// EncryptionConfiguration pointing at a KMS plugin, and drives them with kubectl.
package controlplane

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"k8s-kms.dev/e2e/internal/proc"
)

// Bin is the folder scripts/build-e2e-tools.sh builds kube-apiserver, etcd and kubectl into.
func Bin(repoRoot string) string { return filepath.Join(repoRoot, "e2e", ".bin") }

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) { return proc.FreePort() }

// Process is a started server with its log file.
type Process = proc.Process

// start runs a server of the e2e tools with its output in logPath; callers wait for it to answer.
func start(bin string, logPath string, args ...string) (*Process, error) {
	return proc.Start(proc.Spec{
		Command:     bin,
		Args:        args,
		LogFile:     logPath,
		InstalledBy: "scripts/build-e2e-tools.sh",
		Ready:       func(*proc.Process) error { return nil },
	})
}

// Etcd is a single-member etcd on loopback.
type Etcd struct {
	*Process
	URL string
}

// StartEtcd starts etcd with its data in dir and waits until it answers.
func StartEtcd(bin, dir string) (*Etcd, error) {
	cport, err := FreePort()
	if err != nil {
		return nil, err
	}
	pport, err := FreePort()
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", cport)
	p, err := start(filepath.Join(bin, "etcd"), filepath.Join(dir, "etcd.log"), "--data-dir", filepath.Join(dir, "etcd-data"),
		"--listen-client-url", url, "--listen-peer-url", fmt.Sprintf("http://127.0.0.1:%d", pport))
	if err != nil {
		return nil, err
	}
	e := &Etcd{Process: p, URL: url}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := e.Get(context.Background(), "/health-probe"); err == nil {
			return e, nil
		}
		if time.Now().After(deadline) {
			_ = p.Stop()
			return nil, fmt.Errorf("etcd did not answer on %s:\n%s", url, p.Tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Get reads a raw value from etcd: what is at rest on disk (nil if absent).
func (e *Etcd) Get(ctx context.Context, key string) ([]byte, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.URL}, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0].Value, nil
}

// APIServer is a kube-apiserver on loopback with a static admin token.
type APIServer struct {
	*Process
	Bin, Dir, EtcdURL, Kubeconfig, Token string
	Port                                 int
	EncryptionConfig                     string
	FeatureGates                         string
}

// NewAPIServer writes the service-account key, token file and kubeconfig the server needs.
func NewAPIServer(bin, dir, etcdURL, encryptionConfig string) (*APIServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &APIServer{Bin: bin, Dir: dir, EtcdURL: etcdURL, Port: port, EncryptionConfig: encryptionConfig, Token: randomToken()}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv": []byte(fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", s.Token)),
		"kubeconfig": []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:%d
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: %s
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
`, port, s.Token)),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
			return nil, err
		}
	}
	s.Kubeconfig = filepath.Join(dir, "kubeconfig")
	return s, nil
}

// Start runs kube-apiserver and waits for /readyz.
func (s *APIServer) Start() error {
	args := []string{
		"--etcd-servers=" + s.EtcdURL,
		"--encryption-provider-config=" + s.EncryptionConfig,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(s.Port),
		"--cert-dir=" + filepath.Join(s.Dir, "certs"),
		"--service-account-key-file=" + filepath.Join(s.Dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(s.Dir, "sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--token-auth-file=" + filepath.Join(s.Dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/24",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}
	if s.FeatureGates != "" {
		args = append(args, "--feature-gates="+s.FeatureGates)
	}
	p, err := start(filepath.Join(s.Bin, "kube-apiserver"), filepath.Join(s.Dir, fmt.Sprintf("kube-apiserver-%d.log", time.Now().UnixNano())), args...)
	if err != nil {
		return err
	}
	s.Process = p
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if code, _, err := s.Get("/readyz"); err == nil && code == http.StatusOK {
			return nil
		}
		if p.Exited() || time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver did not become ready:\n%s", p.Tail())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// Get performs an authenticated GET against the server (e.g. /healthz/kms-providers).
func (s *APIServer) Get(path string) (int, string, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback test server with a self-signed certificate
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d%s", s.Port, path), nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// URL is the server's HTTPS address.
func (s *APIServer) URL() string { return fmt.Sprintf("https://127.0.0.1:%d", s.Port) }

// ServingCertPEM is the certificate kube-apiserver generated for itself in --cert-dir (no
// --tls-cert-file is given): its serving certificate followed by the self-signed CA that signs it.
func (s *APIServer) ServingCertPEM() ([]byte, error) {
	return os.ReadFile(filepath.Join(s.Dir, "certs", "apiserver.crt"))
}

// WriteServiceAccountToken has kube-apiserver issue a token for a service account
// (`kubectl create token`) and writes it to path with mode 0600. The token goes straight from
// kubectl's stdout to the file: it is never returned, logged or put in an error.
func (s *APIServer) WriteServiceAccountToken(namespace, name, duration, path string) error {
	cmd := exec.Command(filepath.Join(s.Bin, "kubectl"), "--kubeconfig", s.Kubeconfig, "create", "token", name, "-n", namespace, "--duration", duration)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("kubectl create token %s -n %s: %w: %s", name, namespace, err, stderr.String())
	}
	token := strings.TrimSpace(string(out))
	if token == "" {
		return fmt.Errorf("kubectl create token %s -n %s printed no token", name, namespace)
	}
	return os.WriteFile(path, []byte(token+"\n"), 0o600)
}

// Kubectl runs the e2e kubectl against this server.
func (s *APIServer) Kubectl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(s.Bin, "kubectl"), append([]string{"--kubeconfig", s.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Shell runs a shell pipeline with KUBECONFIG set and the e2e kubectl first on PATH.
func (s *APIServer) Shell(script string) (string, error) {
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig, "PATH="+s.Bin+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", script, err, out)
	}
	return string(out), nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
