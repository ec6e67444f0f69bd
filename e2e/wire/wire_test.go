// Package wire checks that kms-plugin-local speaks the KMS v2 and v1beta1 protocols on the wire,
// using the clients generated from the upstream k8s.io/kms protos (the ones kube-apiserver
// links), not the project's own protos or grpc-js.
package wire

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	kmsv1 "k8s.io/kms/apis/v1beta1"
	kmsv2 "k8s.io/kms/apis/v2"

	"k8s-kms.dev/e2e/internal/pluginproc"
)

// startPlugin runs the built kms-plugin-local binary on a socket in a temp dir and dials it.
func startPlugin(t *testing.T) (*grpc.ClientConn, *pluginproc.Plugin) {
	t.Helper()
	p := pluginproc.Local(t.TempDir())
	t.Cleanup(func() { _ = p.Stop() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(p.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, p
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKMSv2WithUpstreamClient(t *testing.T) {
	conn, _ := startPlugin(t)
	client := kmsv2.NewKeyManagementServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	st, err := client.Status(ctx, &kmsv2.StatusRequest{})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st.Version != "v2" || st.Healthz != "ok" || st.KeyId == "" {
		t.Fatalf("Status = %+v, want version v2, healthz ok, a key_id", st)
	}
	seed := randomBytes(t, 32)
	enc, err := client.Encrypt(ctx, &kmsv2.EncryptRequest{Plaintext: seed, Uid: "go-client-1"})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if enc.KeyId != st.KeyId {
		t.Fatalf("Encrypt key_id %q differs from Status key_id %q", enc.KeyId, st.KeyId)
	}
	if len(enc.Ciphertext) == 0 || len(enc.Ciphertext) > 1024 || bytes.Contains(enc.Ciphertext, seed) {
		t.Fatalf("bad ciphertext of %d bytes", len(enc.Ciphertext))
	}
	if len(enc.Annotations) != 1 {
		t.Fatalf("annotations = %v, want the wrapped local KEK", enc.Annotations)
	}
	dec, err := client.Decrypt(ctx, &kmsv2.DecryptRequest{Ciphertext: enc.Ciphertext, KeyId: enc.KeyId, Annotations: enc.Annotations, Uid: "go-client-2"})
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if !bytes.Equal(dec.Plaintext, seed) {
		t.Fatal("Decrypt returned a different plaintext")
	}
	tampered := append([]byte(nil), enc.Ciphertext...)
	tampered[len(tampered)-1] ^= 1
	_, err = client.Decrypt(ctx, &kmsv2.DecryptRequest{Ciphertext: tampered, KeyId: enc.KeyId, Annotations: enc.Annotations})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("tampered Decrypt: got %v, want InvalidArgument", err)
	}
}

func TestKMSv1beta1WithUpstreamClient(t *testing.T) {
	conn, _ := startPlugin(t)
	client := kmsv1.NewKeyManagementServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	v, err := client.Version(ctx, &kmsv1.VersionRequest{Version: "v1beta1"})
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if v.Version != "v1beta1" || v.RuntimeName != "k8s-kms-local" || v.RuntimeVersion == "" {
		t.Fatalf("Version = %+v", v)
	}
	dek := randomBytes(t, 32)
	enc, err := client.Encrypt(ctx, &kmsv1.EncryptRequest{Version: "v1beta1", Plain: dek})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	dec, err := client.Decrypt(ctx, &kmsv1.DecryptRequest{Version: "v1beta1", Cipher: enc.Cipher})
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if !bytes.Equal(dec.Plain, dek) {
		t.Fatal("Decrypt returned a different plaintext")
	}
}

func TestSIGTERMExitsCleanlyAndRemovesTheSocket(t *testing.T) {
	_, p := startPlugin(t)
	if err := p.Stop(); err != nil {
		t.Fatalf("plugin exit after SIGTERM: %v", err)
	}
	if _, err := os.Stat(p.Socket); !os.IsNotExist(err) {
		t.Fatalf("socket %s still exists after SIGTERM (%v)", p.Socket, err)
	}
}
