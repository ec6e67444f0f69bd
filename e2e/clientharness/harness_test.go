package clientharness_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	kmsapi "k8s.io/kms/apis/v2"

	"k8s-kms.dev/e2e/clientharness"
	"k8s-kms.dev/e2e/internal/backends"
	"k8s-kms.dev/e2e/internal/pluginproc"
)

func runHarness(t *testing.T, p *pluginproc.Plugin) {
	t.Helper()
	t.Cleanup(func() { _ = p.Stop() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := clientharness.Run(ctx, clientharness.Options{
		Endpoint:     p.Endpoint(),
		ProviderName: p.ProviderName,
		Rotate:       func(context.Context) error { return p.Rotate() },
		V1:           true,
		Logf:         t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHarnessPassesAgainstEveryBackend runs kube-apiserver's KMS client code against each
// backend's plugin in the backends table.
func TestHarnessPassesAgainstEveryBackend(t *testing.T) {
	backends.Run(t, func(t *testing.T) string { return t.TempDir() }, runHarness)
}

// FakeBrokenPlugin is a deliberately broken KMS v2 plugin double: it breaks one rule of the
// contract kube-apiserver enforces, to show the harness reports it.
type FakeBrokenPlugin struct {
	kmsapi.UnimplementedKeyManagementServiceServer
	mode string
}

func (f *FakeBrokenPlugin) Status(context.Context, *kmsapi.StatusRequest) (*kmsapi.StatusResponse, error) {
	return &kmsapi.StatusResponse{Version: "v2", Healthz: "ok", KeyId: "status-key"}, nil
}

func (f *FakeBrokenPlugin) Encrypt(_ context.Context, req *kmsapi.EncryptRequest) (*kmsapi.EncryptResponse, error) {
	resp := &kmsapi.EncryptResponse{Ciphertext: append([]byte("x"), req.Plaintext...), KeyId: "status-key"}
	switch f.mode {
	case "key-id-mismatch":
		resp.KeyId = "another-key"
	case "non-fqdn-annotation":
		resp.Annotations = map[string][]byte{"not_a_domain": []byte("v")}
	}
	return resp, nil
}

func (f *FakeBrokenPlugin) Decrypt(_ context.Context, req *kmsapi.DecryptRequest) (*kmsapi.DecryptResponse, error) {
	return &kmsapi.DecryptResponse{Plaintext: req.Ciphertext[1:]}, nil
}

func serveBroken(t *testing.T, mode string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "broken.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	kmsapi.RegisterKeyManagementServiceServer(srv, &FakeBrokenPlugin{mode: mode})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return "unix://" + sock
}

func TestHarnessReportsABrokenPlugin(t *testing.T) {
	for _, tc := range []struct{ mode, want string }{
		{"key-id-mismatch", "failed to rotate DEK"},
		{"non-fqdn-annotation", "failed to validate annotations"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := clientharness.Run(ctx, clientharness.Options{
				Endpoint:      serveBroken(t, tc.mode),
				ProviderName:  "broken",
				HealthTimeout: 5 * time.Second,
			})
			if err == nil {
				t.Fatalf("the harness passed a plugin with %s", tc.mode)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			t.Logf("reported: %v", err)
		})
	}
}
