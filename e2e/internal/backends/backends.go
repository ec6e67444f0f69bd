// Package backends is the table of backends both e2e suites run: each entry starts what its
// plugin talks to (an emulator or a stand-in, stopped when the test ends) and returns the plugin
// with its flags and a function that rotates its backend key. Adding a backend to the e2e tests
// is one entry here.
package backends

import (
	"os"
	"testing"

	"k8s-kms.dev/e2e/internal/azurestandin"
	"k8s-kms.dev/e2e/internal/gcpstandin"
	"k8s-kms.dev/e2e/internal/moto"
	"k8s-kms.dev/e2e/internal/openbao"
	"k8s-kms.dev/e2e/internal/pluginproc"
)

// Backend is one row of the table.
type Backend struct {
	// Name is the backend's e2e name, also its kms provider name in EncryptionConfigurations
	// (docs/backend-guide.md has the naming table).
	Name string
	// Plugin starts what the backend's plugin needs for t and returns the plugin, not yet started,
	// with its socket and files under dir.
	Plugin func(t testing.TB, dir string) *pluginproc.Plugin
}

// All is every backend the e2e suites run, in the order they run.
var All = []Backend{
	{Name: "local", Plugin: func(_ testing.TB, dir string) *pluginproc.Plugin { return pluginproc.Local(dir) }},
	{Name: "aws", Plugin: awsOnMoto},
	{Name: "vault", Plugin: vaultOnOpenBao},
	{Name: "gcp", Plugin: gcpOnStandIn},
	{Name: "azure", Plugin: azureOnStandIn},
}

// awsOnMoto is kms-plugin-aws against moto behind an alias, with dummy credentials from the
// environment; rotation re-points the alias at a new key.
func awsOnMoto(t testing.TB, dir string) *pluginproc.Plugin {
	t.Helper()
	m, err := moto.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	const alias = "alias/k8s-kms-e2e"
	rotate, err := m.AliasedKey(alias)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--key", alias, "--endpoint", m.URL, "--region", "us-east-1"}
	return pluginproc.New(dir, "aws", "aws", args, []string{"AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret"}, rotate)
}

// vaultOnOpenBao is kms-plugin-vault on an OpenBao dev server, with a token limited to its one
// transit key; rotation rotates the transit key.
func vaultOnOpenBao(t testing.TB, dir string) *pluginproc.Plugin {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil { // the token file goes there
		t.Fatal(err)
	}
	_, plugin := openbao.VaultPlugin(t, "k8s-kms-e2e", dir)
	return plugin
}

// gcpOnStandIn is kms-plugin-gcp against the repository's Cloud KMS stand-in (TLS, its own CA),
// authenticating with a service account key the stand-in made; rotation makes a new version primary.
func gcpOnStandIn(t testing.TB, dir string) *pluginproc.Plugin {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil { // the stand-in's CA and key file go there
		t.Fatal(err)
	}
	const key = "projects/stand-in-project/locations/europe-west1/keyRings/k8s/cryptoKeys/e2e"
	s, err := gcpstandin.Start(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	args := []string{"--key", key, "--endpoint", s.Endpoint, "--tls-ca-file", s.CA, "--credentials-file", s.Credentials}
	return pluginproc.New(dir, "gcp", "gcp", args, nil, func() error { return s.Rotate(key) })
}

// azureOnStandIn is kms-plugin-azure against the repository's Key Vault stand-in (HTTPS with its
// own certificate, trusted through NODE_EXTRA_CA_CERTS as an operator would), authenticating with
// a client secret the stand-in issued; rotation makes a new current key version.
func azureOnStandIn(t testing.TB, dir string) *pluginproc.Plugin {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil { // the stand-in's CA and secret file go there
		t.Fatal(err)
	}
	const key = "e2e"
	s, err := azurestandin.Start(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	env := []string{"NODE_EXTRA_CA_CERTS=" + s.CA}
	return pluginproc.New(dir, "azure", "azure", s.PluginArgs(key), env, func() error { return s.Rotate(key) })
}

// Run runs fn against every backend, a subtest each, with the plugin's log shown when one fails.
func Run(t *testing.T, dir func(t *testing.T) string, fn func(t *testing.T, plugin *pluginproc.Plugin)) {
	for _, b := range All {
		t.Run(b.Name, func(t *testing.T) {
			plugin := b.Plugin(t, dir(t))
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("%s plugin output:\n%s", b.Name, plugin.Output())
				}
			})
			fn(t, plugin)
		})
	}
}
