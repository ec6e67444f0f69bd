// Package azurestandin runs the repository's Key Vault stand-in (packages/azure/test/stand-in,
// built to dist/test/stand-in/main.js; no Key Vault emulator can be installed here) on loopback
// for the e2e tests, and rotates its keys through its admin API.
package azurestandin

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"k8s-kms.dev/e2e/internal/proc"
	"k8s-kms.dev/e2e/internal/standin"
)

// Server is a running stand-in: its vault URL (also the authority host of its token endpoint),
// the tenant and client it registered, the client secret's file and the CA of its certificate.
type Server struct {
	VaultURL         string `json:"vaultUrl"`
	AuthorityHost    string `json:"authorityHost"`
	TenantID         string `json:"tenantId"`
	ClientID         string `json:"clientId"`
	ClientSecretFile string `json:"clientSecretFile"`
	CA               string `json:"ca"`
	p                *proc.Process
}

// Start runs the stand-in (a vault, RSA keys) with the keys named in keys, writing its files to dir.
func Start(dir string, keys ...string) (*Server, error) {
	args := []string{"--dir", dir}
	for _, k := range keys {
		args = append(args, "--key", k)
	}
	s := &Server{}
	var err error
	if s.p, err = standin.Start("azure", args, s); err != nil {
		return nil, err
	}
	return s, nil
}

// Stop ends the process.
func (s *Server) Stop() { _ = s.p.Stop() }

// PluginArgs are the flags that point kms-plugin-azure at the stand-in with its client secret.
func (s *Server) PluginArgs(key string) []string {
	return []string{
		"--vault-url", s.VaultURL, "--key-name", key,
		"--tenant-id", s.TenantID, "--client-id", s.ClientID, "--client-secret-file", s.ClientSecretFile,
		"--authority-host", s.AuthorityHost, "--disable-challenge-resource-verification",
	}
}

// Rotate makes a new current version of key, as a rotation policy does.
func (s *Server) Rotate(key string) error {
	pem, err := os.ReadFile(s.CA)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	body, _ := json.Marshal(map[string]string{"name": key})
	resp, err := client.Post(s.VaultURL+"/admin/rotate", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("stand-in rotate %s: HTTP %d", key, resp.StatusCode)
	}
	return nil
}
