// Package clientharness drives a KMS plugin with the code kube-apiserver runs: it loads an
// EncryptionConfiguration with k8s.io/apiserver's encryptionconfig.LoadEncryptionConfig and uses the
// resulting KMS health check and envelope transformers, exactly as the apiserver's storage layer
// does. It works with any plugin: give it the socket and the provider name.
package clientharness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
	"k8s.io/apiserver/pkg/storage/value"
	kmstypes "k8s.io/apiserver/pkg/storage/value/encrypt/envelope/kmsv2/v2"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	kmsapi "k8s.io/kms/apis/v2"
)

// Options says which plugin to drive and how.
type Options struct {
	// Endpoint is the plugin socket, unix:///path or unix:///@name.
	Endpoint string
	// ProviderName is the kms provider's name in the EncryptionConfiguration.
	ProviderName string
	// Objects is how many objects to write per scenario (default 5).
	Objects int
	// Rotate, if set, rotates the backend key; the harness then checks the new key_id reaches the transformer.
	Rotate func(ctx context.Context) error
	// V1 also runs the KMS v1 (v1beta1) path, with the KMSv1 feature gate on.
	V1 bool
	// HealthTimeout bounds the wait for the KMS health check (default 60s).
	HealthTimeout time.Duration
	// RotationTimeout bounds the wait for a new key_id (default 90s: the apiserver re-checks Status
	// at most every 20s while healthy).
	RotationTimeout time.Duration
	// Logf reports progress (default: discard).
	Logf func(format string, args ...any)
}

type object struct {
	key, stored, plain []byte
}

// Run performs every scenario and returns the first failure, described for a person.
func Run(ctx context.Context, o Options) error {
	o.defaults()
	dir, err := os.MkdirTemp("", "kms-client-harness-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	if err := runV2(ctx, o, dir); err != nil {
		return fmt.Errorf("KMS v2: %w", err)
	}
	if o.V1 {
		if err := runV1(ctx, o, dir); err != nil {
			return fmt.Errorf("KMS v1: %w", err)
		}
	}
	return nil
}

func (o *Options) defaults() {
	if o.Objects == 0 {
		o.Objects = 5
	}
	if o.HealthTimeout == 0 {
		o.HealthTimeout = 60 * time.Second
	}
	if o.RotationTimeout == 0 {
		o.RotationTimeout = 90 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

func runV2(ctx context.Context, o Options, dir string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the apiserver code's background probes
	cfg, err := load(ctx, dir, "v2", o)
	if err != nil {
		return err
	}
	if err := waitHealthy(ctx, cfg, o.HealthTimeout); err != nil {
		return err
	}
	o.Logf("v2: KMS health check passed")
	tr := cfg.Transformers[schema.GroupResource{Resource: "secrets"}]
	prefix := []byte("k8s:enc:kms:v2:" + o.ProviderName + ":")

	statusKeyID, err := pluginStatusKeyID(ctx, o.Endpoint)
	if err != nil {
		return err
	}
	var objects []object
	for i := 0; i < o.Objects; i++ {
		obj, err := write(ctx, tr, prefix, fmt.Sprintf("/registry/secrets/harness/v2-%d", i))
		if err != nil {
			return err
		}
		got, err := StoredKeyIDOf(obj.stored, prefix)
		if err != nil {
			return fmt.Errorf("stored value of %s: %w", obj.key, err)
		}
		if got != statusKeyID {
			return fmt.Errorf("stored key_id %q differs from the plugin's Status key_id %q", got, statusKeyID)
		}
		objects = append(objects, obj)
	}
	if err := readBack(ctx, tr, objects); err != nil {
		return err
	}
	o.Logf("v2: wrote and read %d objects under key_id %s", len(objects), statusKeyID)

	if o.Rotate == nil {
		return nil
	}
	if err := o.Rotate(ctx); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	start := time.Now()
	var newKeyID string
	for i := 0; ; i++ {
		// The health check is what makes kube-apiserver poll Status and re-seed on a key_id change.
		_ = checkAll(cfg)
		obj, err := write(ctx, tr, prefix, fmt.Sprintf("/registry/secrets/harness/v2-rotated-%d", i))
		if err == nil {
			var id string
			if id, err = StoredKeyIDOf(obj.stored, prefix); err == nil && id != statusKeyID {
				newKeyID = id
				objects = append(objects, obj)
				break
			}
		}
		if time.Since(start) > o.RotationTimeout {
			return fmt.Errorf("after rotation the transformer still writes key_id %q after %s (last error: %v)", statusKeyID, o.RotationTimeout, err)
		}
		time.Sleep(time.Second)
	}
	if current, err := pluginStatusKeyID(ctx, o.Endpoint); err != nil || current != newKeyID {
		return fmt.Errorf("after rotation the transformer writes key_id %q but Status reports %q (%v)", newKeyID, current, err)
	}
	o.Logf("v2: rotation reached the transformer in %s: new key_id %s", time.Since(start).Round(time.Second), newKeyID)
	if err := readBack(ctx, tr, objects); err != nil {
		return fmt.Errorf("after rotation: %w", err)
	}
	o.Logf("v2: data written before the rotation still reads")
	return nil
}

func runV1(ctx context.Context, o Options, dir string) error {
	if err := utilfeature.DefaultMutableFeatureGate.Set("KMSv1=true"); err != nil {
		return fmt.Errorf("enable the KMSv1 feature gate: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg, err := load(ctx, dir, "v1", o)
	if err != nil {
		return err
	}
	if err := waitHealthy(ctx, cfg, o.HealthTimeout); err != nil {
		return err
	}
	tr := cfg.Transformers[schema.GroupResource{Resource: "secrets"}]
	prefix := []byte("k8s:enc:kms:v1:" + o.ProviderName + ":")
	var objects []object
	for i := 0; i < o.Objects; i++ {
		obj, err := write(ctx, tr, prefix, fmt.Sprintf("/registry/secrets/harness/v1-%d", i))
		if err != nil {
			return err
		}
		objects = append(objects, obj)
	}
	if err := readBack(ctx, tr, objects); err != nil {
		return err
	}
	o.Logf("v1: wrote and read %d objects", len(objects))
	return nil
}

// load writes an EncryptionConfiguration for the plugin and loads it with the apiserver's code.
func load(ctx context.Context, dir, apiVersion string, o Options) (*encryptionconfig.EncryptionConfiguration, error) {
	extra := ""
	if apiVersion == "v1" {
		extra = "\n          cachesize: 100"
	}
	path := filepath.Join(dir, "encryption-"+apiVersion+".yaml")
	yaml := fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - kms:
          apiVersion: %s
          name: %s
          endpoint: %s
          timeout: 3s%s
`, apiVersion, o.ProviderName, o.Endpoint, extra)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	cfg, err := encryptionconfig.LoadEncryptionConfig(ctx, path, false, "k8s-kms-client-harness")
	if err != nil {
		return nil, fmt.Errorf("LoadEncryptionConfig: %w", err)
	}
	if cfg.Transformers[schema.GroupResource{Resource: "secrets"}] == nil {
		return nil, errors.New("LoadEncryptionConfig gave no transformer for secrets")
	}
	return cfg, nil
}

func checkAll(cfg *encryptionconfig.EncryptionConfiguration) error {
	req, _ := http.NewRequest(http.MethodGet, "/healthz/kms-providers", nil)
	var errs []error
	for _, h := range cfg.HealthChecks {
		if err := h.Check(req); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// waitHealthy polls the KMS health check kube-apiserver serves on /healthz/kms-providers.
func waitHealthy(ctx context.Context, cfg *encryptionconfig.EncryptionConfiguration, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := checkAll(cfg)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the KMS health check kube-apiserver runs did not pass within %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func write(ctx context.Context, tr value.Transformer, prefix []byte, key string) (object, error) {
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	plain := []byte(`{"kind":"Secret","data":{"password":"` + hex.EncodeToString(secret) + `"}}`)
	stored, err := tr.TransformToStorage(ctx, plain, value.DefaultContext(key))
	if err != nil {
		return object{}, fmt.Errorf("TransformToStorage(%s): %w", key, err)
	}
	if !bytes.HasPrefix(stored, prefix) {
		return object{}, fmt.Errorf("stored bytes of %s begin %q, want prefix %q", key, truncate(stored, len(prefix)), prefix)
	}
	if bytes.Contains(stored, plain) || bytes.Contains(stored, []byte(hex.EncodeToString(secret))) {
		return object{}, fmt.Errorf("stored bytes of %s contain the plaintext", key)
	}
	return object{key: []byte(key), stored: stored, plain: plain}, nil
}

func readBack(ctx context.Context, tr value.Transformer, objects []object) error {
	for _, obj := range objects {
		out, _, err := tr.TransformFromStorage(ctx, obj.stored, value.DefaultContext(obj.key))
		if err != nil {
			return fmt.Errorf("TransformFromStorage(%s): %w", obj.key, err)
		}
		if !bytes.Equal(out, obj.plain) {
			return fmt.Errorf("TransformFromStorage(%s) returned different bytes than were written", obj.key)
		}
	}
	return nil
}

// StoredKeyIDOf decodes the key_id of a value with the given KMS v2 prefix, or says why it cannot.
func StoredKeyIDOf(stored, prefix []byte) (string, error) {
	if !bytes.HasPrefix(stored, prefix) {
		return "", fmt.Errorf("value does not begin %q", prefix)
	}
	var eo kmstypes.EncryptedObject
	if err := proto.Unmarshal(stored[len(prefix):], &eo); err != nil {
		return "", fmt.Errorf("not a KMS v2 EncryptedObject: %w", err)
	}
	if eo.KeyID == "" {
		return "", errors.New("KMS v2 EncryptedObject without a key_id")
	}
	return eo.KeyID, nil
}

func pluginStatusKeyID(ctx context.Context, endpoint string) (string, error) {
	conn, err := grpc.NewClient(dialTarget(endpoint), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := kmsapi.NewKeyManagementServiceClient(conn).Status(ctx, &kmsapi.StatusRequest{})
	if err != nil {
		return "", fmt.Errorf("plugin Status: %w", err)
	}
	return st.KeyId, nil
}

func dialTarget(endpoint string) string {
	if name, ok := strings.CutPrefix(endpoint, "unix:///@"); ok {
		return "unix-abstract:" + name
	}
	return endpoint
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
