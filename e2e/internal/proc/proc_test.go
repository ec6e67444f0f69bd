package proc

import (
	"strings"
	"testing"
)

func TestMissingCommandNamesTheSetupStep(t *testing.T) {
	_, err := Start(Spec{Command: "no-such-emulator-k8s-kms", InstalledBy: "scripts/setup-test-tools.sh", Ready: func(*Process) error { return nil }})
	if err == nil || !strings.Contains(err.Error(), "cannot start no-such-emulator-k8s-kms: it is not installed (run scripts/setup-test-tools.sh)") {
		t.Fatalf("got %v, want an error naming the set-up step", err)
	}
}

func TestEarlyExitShowsTheOutputRedacted(t *testing.T) {
	_, err := Start(Spec{
		Command:     "sh",
		Args:        []string{"-c", "echo root token s.TOPSECRET; exit 3"},
		InstalledBy: "Debian",
		Redact:      []string{"s.TOPSECRET"},
		Ready: func(*Process) error {
			return errNotYet
		},
	})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "<redacted>") || strings.Contains(err.Error(), "TOPSECRET") {
		t.Fatalf("got %v", err)
	}
}

var errNotYet = errorString("not yet")

type errorString string

func (e errorString) Error() string { return string(e) }
