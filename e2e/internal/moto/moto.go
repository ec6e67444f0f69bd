// Package moto runs moto's AWS emulator on loopback for the e2e tests and makes the few KMS
// admin calls they need (CreateKey, CreateAlias, UpdateAlias) over the KMS JSON protocol.
package moto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"k8s-kms.dev/e2e/internal/proc"
)

// Server is a moto_server process.
type Server struct {
	URL string
	p   *proc.Process
}

// Start runs `moto_server` (installed by scripts/setup-test-tools.sh) on a free loopback port.
func Start() (*Server, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	s.p, err = proc.Start(proc.Spec{
		Command:     "moto_server",
		Args:        []string{"-H", "127.0.0.1", "-p", fmt.Sprint(port)},
		InstalledBy: "scripts/setup-test-tools.sh, with .cache/moto-venv/bin on PATH",
		Ready:       proc.HTTPReady(s.URL + "/moto-api/"),
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Stop ends the process.
func (s *Server) Stop() { _ = s.p.Stop() }

// call makes one KMS JSON-protocol call. moto routes by the signing scope, so the request
// carries a (dummy) SigV4 Authorization header for the kms service.
func (s *Server) call(target string, body map[string]any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Target", "TrentService."+target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDE2E/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto %s: HTTP %d", target, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// CreateKey makes a symmetric key and returns its ARN.
func (s *Server) CreateKey() (string, error) {
	var out struct{ KeyMetadata struct{ Arn string } }
	err := s.call("CreateKey", map[string]any{}, &out)
	return out.KeyMetadata.Arn, err
}

// CreateAlias points a new alias at a key.
func (s *Server) CreateAlias(alias, keyArn string) error {
	return s.call("CreateAlias", map[string]any{"AliasName": alias, "TargetKeyId": keyArn}, nil)
}

// UpdateAlias re-points an alias.
func (s *Server) UpdateAlias(alias, keyArn string) error {
	return s.call("UpdateAlias", map[string]any{"AliasName": alias, "TargetKeyId": keyArn}, nil)
}

// AliasedKey creates a key behind a new alias and returns the alias with a rotation function
// that re-points it at a fresh key.
func (s *Server) AliasedKey(alias string) (func() error, error) {
	arn, err := s.CreateKey()
	if err != nil {
		return nil, err
	}
	if err := s.CreateAlias(alias, arn); err != nil {
		return nil, err
	}
	return func() error {
		next, err := s.CreateKey()
		if err != nil {
			return err
		}
		return s.UpdateAlias(alias, next)
	}, nil
}
