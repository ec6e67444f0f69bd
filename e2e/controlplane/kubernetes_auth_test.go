package controlplane_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	kmsv2 "k8s.io/kms/apis/v2"

	"k8s-kms.dev/e2e/internal/openbao"
	"k8s-kms.dev/e2e/internal/pluginproc"
)

// TestKubernetesAuthThroughRealTokenReview runs kms-plugin-vault with --auth-method kubernetes
// against OpenBao's Kubernetes auth method, which checks the plugin's service-account JWT with
// the TokenReview API of a real kube-apiserver. kube-apiserver itself encrypts with a second
// kms-plugin-vault (token auth) on the same transit key, so data one plugin seals the other opens.
// Refused: the JWT of a service account the role does not bind, and a JWT naming the right
// service account (its real uid) but signed by another key, which only TokenReview can tell.
func TestKubernetesAuthThroughRealTokenReview(t *testing.T) {
	const (
		key       = "k8s-kms-kubernetes-auth"
		role      = "kms-plugin"
		namespace = "kube-system"
	)
	base := t.TempDir()
	b, apiPlugin := openbao.VaultPlugin(t, key, base) // transit key, its policy, a token-auth plugin
	_, _, api := startControlPlane(t, apiPlugin)
	kubectl := kubectlOf(t, api)

	// Two service accounts allowed to call TokenReview (OpenBao reviews each login with the
	// login's own JWT); only kms-plugin is bound to the OpenBao role.
	jwtOf := map[string]string{}
	for _, sa := range []string{"kms-plugin", "intruder"} {
		kubectl("create", "serviceaccount", sa, "-n", namespace)
		kubectl("create", "clusterrolebinding", "e2e-"+sa+"-auth-delegator", "--clusterrole=system:auth-delegator", "--serviceaccount="+namespace+":"+sa)
		jwtOf[sa] = filepath.Join(base, sa+".jwt")
		if err := api.WriteServiceAccountToken(namespace, sa, "1h", jwtOf[sa]); err != nil {
			t.Fatal(err)
		}
	}
	jwtOf["forged"] = filepath.Join(base, "forged.jwt")
	uid := kubectl("get", "serviceaccount", "kms-plugin", "-n", namespace, "-o", "jsonpath={.metadata.uid}")
	writeForgedServiceAccountJWT(t, jwtOf["forged"], namespace, "kms-plugin", uid)

	ca, err := api.ServingCertPEM()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EnableKubernetesAuth(api.URL(), ca); err != nil {
		t.Fatal(err)
	}
	if err := b.KubernetesRole(role, namespace, "kms-plugin", openbao.PluginPolicy(key)); err != nil {
		t.Fatal(err)
	}

	start := func(name string) kmsv2.KeyManagementServiceClient {
		t.Helper()
		p := pluginproc.VaultKubernetes(filepath.Join(base, "k8s-auth-"+name), b.URL, key, role, jwtOf[name])
		t.Cleanup(func() { _ = p.Stop() })
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		return dialKMSv2(t, p.Endpoint())
	}

	// kube-apiserver's own counters show which logins reached it: TokenReviews it answered, and
	// bearer tokens it refused (OpenBao calls TokenReview with the login's JWT as credential).
	counter := func(name, match string) float64 {
		t.Helper()
		code, body, err := api.Get("/metrics")
		if err != nil || code != http.StatusOK {
			t.Fatalf("kube-apiserver /metrics: %d %v", code, err)
		}
		sum := 0.0
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, name+"{") && strings.Contains(line, match) {
				v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				if err != nil {
					t.Fatalf("metric line %q: %v", line, err)
				}
				sum += v
			}
		}
		return sum
	}
	reviews := func() float64 {
		return counter("apiserver_request_total", `code="201",component="apiserver",dry_run="",group="authentication.k8s.io",resource="tokenreviews"`)
	}
	refusedTokens := func() float64 { return counter("authentication_attempts", `result="error"`) }

	// The bound service account logs in, and the plugin encrypts and decrypts with the key.
	reviewsBefore := reviews()
	plugin := start("kms-plugin")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var st *kmsv2.StatusResponse
	eventually(t, "kms-plugin-vault logged in with its service-account JWT", 20*time.Second, func() (bool, string) {
		st, err = plugin.Status(ctx, &kmsv2.StatusRequest{})
		if err != nil {
			return false, err.Error()
		}
		return st.Healthz == "ok" && st.KeyId != "", "healthz " + st.Healthz
	})
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	enc, err := plugin.Encrypt(ctx, &kmsv2.EncryptRequest{Plaintext: seed, Uid: "kubernetes-auth-1"})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if enc.KeyId != st.KeyId || len(enc.Ciphertext) == 0 || bytes.Contains(enc.Ciphertext, seed) {
		t.Fatalf("Encrypt: key_id %q (Status %q), %d bytes of ciphertext", enc.KeyId, st.KeyId, len(enc.Ciphertext))
	}
	dec, err := plugin.Decrypt(ctx, &kmsv2.DecryptRequest{Ciphertext: enc.Ciphertext, KeyId: enc.KeyId, Annotations: enc.Annotations, Uid: "kubernetes-auth-2"})
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if !bytes.Equal(dec.Plaintext, seed) {
		t.Fatal("Decrypt returned a different plaintext")
	}
	// The token-auth plugin kube-apiserver uses opens it too: the same transit key.
	dec, err = dialKMSv2(t, apiPlugin.Endpoint()).Decrypt(ctx, &kmsv2.DecryptRequest{Ciphertext: enc.Ciphertext, KeyId: enc.KeyId, Annotations: enc.Annotations, Uid: "kubernetes-auth-3"})
	if err != nil || !bytes.Equal(dec.Plaintext, seed) {
		t.Fatalf("the token-auth plugin's Decrypt: %v (same plaintext: %t)", err, err == nil && bytes.Equal(dec.Plaintext, seed))
	}
	if n := reviews() - reviewsBefore; n < 1 {
		t.Fatalf("the login did not reach kube-apiserver's TokenReview API (%v TokenReviews created)", n)
	}
	t.Logf("logged in through TokenReview: key_id %s, Encrypt and Decrypt round-trip", st.KeyId)

	// Refused logins: the plugin never becomes healthy, and says why. OpenBao turns the intruder
	// away itself (the role binds another name); kube-apiserver refuses the forged JWT.
	refusedBefore := refusedTokens()
	var wg sync.WaitGroup
	for _, name := range []string{"intruder", "forged"} {
		client := start(name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := ""
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
				st, err := client.Status(ctx, &kmsv2.StatusRequest{})
				if err != nil {
					t.Errorf("%s: Status: %v", name, err)
					return
				}
				if st.Healthz == "ok" || st.KeyId != "" {
					t.Errorf("%s: Status healthz %q key_id %q: the login was accepted", name, st.Healthz, st.KeyId)
					return
				}
				last = st.Healthz
			}
			if !strings.Contains(last, "auth/kubernetes/login") || !strings.Contains(last, "403") {
				t.Errorf("%s: healthz %q does not name the refused login (auth/kubernetes/login, HTTP 403)", name, last)
				return
			}
			t.Logf("%s: refused for 5s: healthz %q", name, last)
		}()
	}
	wg.Wait()
	if refusedTokens() == refusedBefore {
		t.Fatal("kube-apiserver refused no token: the forged JWT never reached it")
	}
}

func dialKMSv2(t *testing.T, endpoint string) kmsv2.KeyManagementServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", endpoint, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return kmsv2.NewKeyManagementServiceClient(conn)
}

// writeForgedServiceAccountJWT writes a JWT with the claims kube-apiserver puts in a
// service-account token (issuer, audience, the service account's name, namespace and uid) but
// signed by a key of its own: only its signature, which TokenReview checks, gives it away.
func writeForgedServiceAccountJWT(t *testing.T, path, namespace, name, uid string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const issuer = "https://kubernetes.default.svc.cluster.local" // controlplane.APIServer's --service-account-issuer
	now := time.Now().Unix()
	segment := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := segment(map[string]any{"alg": "RS256", "kid": "forged", "typ": "JWT"}) + "." + segment(map[string]any{
		"iss": issuer, "aud": []string{issuer}, "sub": "system:serviceaccount:" + namespace + ":" + name,
		"iat": now, "nbf": now, "exp": now + 3600,
		"kubernetes.io": map[string]any{"namespace": namespace, "serviceaccount": map[string]any{"name": name, "uid": uid}},
	})
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(signed+"."+base64.RawURLEncoding.EncodeToString(sig)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}
