// Package gcpstandin runs the repository's Cloud KMS stand-in (packages/gcp/test/stand-in, built
// to dist/test/stand-in/main.js; no Cloud KMS emulator can be installed here) on loopback for the
// e2e tests, and rotates its keys through its admin API.
package gcpstandin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"k8s-kms.dev/e2e/internal/proc"
	"k8s-kms.dev/e2e/internal/standin"
)

// Server is a running stand-in: its TLS gRPC endpoint, its token/admin URL, the CA of its
// certificate and a service account key file it trusts.
type Server struct {
	Endpoint    string `json:"endpoint"`
	TokenURL    string `json:"tokenUrl"`
	CA          string `json:"ca"`
	Credentials string `json:"credentials"`
	p           *proc.Process
}

// Start runs the stand-in with the crypto keys named in keys, writing its files to dir.
func Start(dir string, keys ...string) (*Server, error) {
	args := []string{"--dir", dir}
	for _, k := range keys {
		args = append(args, "--key", k)
	}
	s := &Server{}
	var err error
	if s.p, err = standin.Start("gcp", args, s); err != nil {
		return nil, err
	}
	return s, nil
}

// Stop ends the process.
func (s *Server) Stop() { _ = s.p.Stop() }

// Rotate makes a new version of key its primary, as a rotation schedule does.
func (s *Server) Rotate(key string) error {
	body, _ := json.Marshal(map[string]string{"key": key})
	resp, err := http.Post(s.TokenURL+"/admin/rotate", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("stand-in rotate %s: HTTP %d", key, resp.StatusCode)
	}
	return nil
}
