// Package standin starts the repository's TypeScript stand-ins (packages/<backend>/test/stand-in,
// built to dist/test/stand-in/main.js) for backends whose service cannot be installed here, and
// reads the one JSON line each prints when it is ready.
package standin

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"k8s-kms.dev/e2e/internal/pluginproc"
	"k8s-kms.dev/e2e/internal/proc"
)

// Start runs the stand-in of packages/<pkg> with args and decodes its ready line into ready.
func Start(pkg string, args []string, ready any) (*proc.Process, error) {
	main := filepath.Join(pluginproc.RepoRoot(), "packages", pkg, "dist", "test", "stand-in", "main.js")
	return proc.Start(proc.Spec{
		Command:     "node",
		Args:        append([]string{main}, args...),
		InstalledBy: fmt.Sprintf("scripts/setup.sh (it builds packages/%s and its stand-in)", pkg),
		Ready: func(p *proc.Process) error {
			line, _, found := strings.Cut(p.Output(), "\n")
			if !found {
				return fmt.Errorf("no ready line yet")
			}
			return json.Unmarshal([]byte(line), ready)
		},
	})
}
