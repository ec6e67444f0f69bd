package controlplane_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s-kms.dev/e2e/clientharness"
	"k8s-kms.dev/e2e/controlplane"
	"k8s-kms.dev/e2e/internal/backends"
	"k8s-kms.dev/e2e/internal/pluginproc"
)

type written struct{ kind, name, value string }

// encryptionConfig returns an EncryptionConfiguration for secrets and configmaps. With v1 set,
// a KMS v1 provider writes and the v2 one still reads older data.
func encryptionConfig(t *testing.T, dir, provider, endpoint string, v1 bool) string {
	t.Helper()
	providers := fmt.Sprintf(`      - kms:
          apiVersion: v2
          name: %s
          endpoint: %s
          timeout: 3s
`, provider, endpoint)
	if v1 {
		providers = fmt.Sprintf(`      - kms:
          apiVersion: v1
          name: %s-v1
          endpoint: %s
          cachesize: 100
          timeout: 3s
`, provider, endpoint) + providers
	}
	body := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets, configmaps]\n    providers:\n" + providers + "      - identity: {}\n"
	path := filepath.Join(dir, fmt.Sprintf("encryption-v1-%t.yaml", v1))
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func eventually(t *testing.T, what string, timeout time.Duration, probe func() (bool, string)) {
	t.Helper()
	start := time.Now()
	var last string
	for {
		ok, detail := probe()
		if ok {
			t.Logf("%s: after %s", what, time.Since(start).Round(100*time.Millisecond))
			return
		}
		last = detail
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s (last: %s)", what, timeout, last)
		}
		time.Sleep(time.Second)
	}
}

// TestKubeAPIServerWithEveryBackend runs every control-plane scenario against each backend's
// plugin in the backends table.
func TestKubeAPIServerWithEveryBackend(t *testing.T) {
	backends.Run(t, func(t *testing.T) string { return filepath.Join(t.TempDir(), "plugin") }, runControlPlane)
}

// startControlPlane starts the plugin, etcd and a kube-apiserver that encrypts secrets and
// configmaps with the plugin (KMS v2), all stopped at the end of the test. dir holds their files.
func startControlPlane(t *testing.T, plugin *pluginproc.Plugin) (dir string, etcd *controlplane.Etcd, api *controlplane.APIServer) {
	t.Helper()
	bin := controlplane.Bin(pluginproc.RepoRoot())
	for _, b := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Fatalf("%s is not built in %s: run scripts/test.sh (it builds e2e/tools)", b, bin)
		}
	}
	dir = t.TempDir()
	t.Cleanup(func() { _ = plugin.Stop() })
	if err := plugin.Start(); err != nil {
		t.Fatal(err)
	}
	etcd, err := controlplane.StartEtcd(bin, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = etcd.Stop() })
	api, err = controlplane.NewAPIServer(bin, dir, etcd.URL, encryptionConfig(t, dir, plugin.ProviderName, plugin.Endpoint(), false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Stop() })
	if err := api.Start(); err != nil {
		t.Fatal(err)
	}
	return dir, etcd, api
}

// kubectlOf runs kubectl against api and fails the test on an error.
func kubectlOf(t *testing.T, api *controlplane.APIServer) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, err := api.Kubectl(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// runControlPlane runs every scenario against one plugin: encryption at rest, rotation and
// migration, an apiserver restart, a plugin outage and recovery, and the KMS v1 path.
func runControlPlane(t *testing.T, plugin *pluginproc.Plugin) {
	dir, etcd, api := startControlPlane(t, plugin)
	ctx := context.Background()
	provider := plugin.ProviderName
	kubectl := kubectlOf(t, api)
	raw := func(kind, name string) []byte {
		t.Helper()
		v, err := etcd.Get(ctx, fmt.Sprintf("/registry/%s/default/%s", kind, name))
		if err != nil || v == nil {
			t.Fatalf("etcd value of %s/%s: %v (absent: %t)", kind, name, err, v == nil)
		}
		return v
	}
	prefix := []byte("k8s:enc:kms:v2:" + provider + ":")
	keyIDOf := func(kind, name string) string {
		t.Helper()
		id, err := clientharness.StoredKeyIDOf(raw(kind, name), prefix)
		if err != nil {
			t.Fatalf("etcd value of %s/%s: %v", kind, name, err)
		}
		return id
	}
	var objects []written
	readAllBack := func(stage string) {
		t.Helper()
		for _, o := range objects {
			field := "{.data.value}"
			out := kubectl("get", o.kind, o.name, "-o", "jsonpath="+field)
			if o.kind == "secrets" {
				dec, err := base64.StdEncoding.DecodeString(out)
				if err != nil {
					t.Fatalf("%s: secret %s: %v", stage, o.name, err)
				}
				out = string(dec)
			}
			if out != o.value {
				t.Fatalf("%s: %s/%s reads back %q, want %q", stage, o.kind, o.name, out, o.value)
			}
		}
	}

	// 1. Secrets and ConfigMaps are encrypted at rest and read back through the API.
	for i := 0; i < 3; i++ {
		for _, kind := range []string{"secrets", "configmaps"} {
			o := written{kind: kind, name: fmt.Sprintf("e2e-%d", i), value: fmt.Sprintf("plaintext-marker-%s-%d-%d", kind, i, time.Now().UnixNano())}
			if kind == "secrets" {
				kubectl("create", "secret", "generic", o.name, "--from-literal=value="+o.value)
			} else {
				kubectl("create", "configmap", o.name, "--from-literal=value="+o.value)
			}
			stored := raw(kind, o.name)
			if !bytes.HasPrefix(stored, prefix) {
				t.Fatalf("etcd value of %s/%s begins %q, want %q", kind, o.name, stored[:min(len(stored), 40)], prefix)
			}
			if bytes.Contains(stored, []byte(o.value)) {
				t.Fatalf("etcd value of %s/%s contains the plaintext", kind, o.name)
			}
			objects = append(objects, o)
		}
	}
	readAllBack("after create")
	oldKeyID := keyIDOf("secrets", "e2e-0")
	t.Logf("stored under key_id %s", oldKeyID)

	// 2. Rotate the backend key; kube-apiserver moves to the new key_id; rewriting migrates data.
	if err := plugin.Rotate(); err != nil {
		t.Fatal(err)
	}
	probe := 0
	var newKeyID string
	eventually(t, "kube-apiserver writes under the new key_id", 3*time.Minute, func() (bool, string) {
		_, _, _ = api.Get("/healthz/kms-providers") // the health check is what re-reads Status
		probe++
		name := fmt.Sprintf("probe-%d", probe)
		if _, err := api.Kubectl("create", "secret", "generic", name, "--from-literal=value=x"); err != nil {
			return false, err.Error()
		}
		newKeyID = keyIDOf("secrets", name)
		return newKeyID != oldKeyID, "still " + newKeyID
	})
	if _, err := api.Shell("kubectl get secrets -A -o json | kubectl replace -f -"); err != nil {
		t.Fatal(err)
	}
	for _, o := range objects {
		if o.kind != "secrets" {
			continue
		}
		if got := keyIDOf("secrets", o.name); got != newKeyID {
			t.Fatalf("after the rewrite, secret %s is stored under key_id %q, want %q", o.name, got, newKeyID)
		}
	}
	if got := keyIDOf("configmaps", "e2e-0"); got != oldKeyID {
		t.Fatalf("configmap e2e-0 (not rewritten) is stored under key_id %q, want the old %q", got, oldKeyID)
	}
	t.Logf("every secret rewritten under key_id %s; configmaps, not rewritten, still under the old one", newKeyID)
	readAllBack("after rotation and rewrite")

	// 3. A restarted kube-apiserver reads everything back.
	api.Stop()
	if err := api.Start(); err != nil {
		t.Fatal(err)
	}
	readAllBack("after kube-apiserver restart")

	// 4. The plugin stops: reads keep working from kube-apiserver's DEK cache, the KMS health
	// check reports the failure; the plugin comes back and kube-apiserver recovers unrestarted.
	if err := plugin.Stop(); err != nil {
		t.Fatalf("plugin exit after SIGTERM: %v", err)
	}
	readAllBack("with the plugin stopped")
	eventually(t, "/healthz/kms-providers reports the stopped plugin", 2*time.Minute, func() (bool, string) {
		code, body, err := api.Get("/healthz/kms-providers")
		return err == nil && code != http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	if err := plugin.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "/healthz/kms-providers recovers", 2*time.Minute, func() (bool, string) {
		code, body, err := api.Get("/healthz/kms-providers")
		return err == nil && code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	kubectl("create", "secret", "generic", "after-recovery", "--from-literal=value=recovered")
	objects = append(objects, written{kind: "secrets", name: "after-recovery", value: "recovered"})
	readAllBack("after the plugin came back")

	// 5. The KMS v1 path once, with the (deprecated) KMSv1 feature gate on.
	api.Stop()
	api.EncryptionConfig = encryptionConfig(t, dir, provider, plugin.Endpoint(), true)
	api.FeatureGates = "KMSv1=true"
	if err := api.Start(); err != nil {
		t.Fatal(err)
	}
	kubectl("create", "secret", "generic", "v1-secret", "--from-literal=value=through-kms-v1")
	v1Prefix := []byte("k8s:enc:kms:v1:" + provider + "-v1:")
	if stored := raw("secrets", "v1-secret"); !bytes.HasPrefix(stored, v1Prefix) || bytes.Contains(stored, []byte("through-kms-v1")) {
		t.Fatalf("KMS v1 secret stored as %q…, want prefix %q and no plaintext", stored[:min(len(stored), 40)], v1Prefix)
	}
	objects = append(objects, written{kind: "secrets", name: "v1-secret", value: "through-kms-v1"})
	readAllBack("with KMS v1 writing and v2 reading")
	if strings.Contains(api.Tail(), "panic") {
		t.Fatalf("kube-apiserver log shows a panic:\n%s", api.Tail())
	}
}
