// kms-client-harness drives any KMS plugin with kube-apiserver's own KMS client code.
//
//	kms-client-harness --endpoint unix:///run/kms.sock --provider-name aws \
//	  [--rotate-command "kms-plugin-local rotate --key-file /etc/kms/local.key"] [--v1]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"

	"k8s-kms.dev/e2e/clientharness"
)

func main() {
	endpoint := flag.String("endpoint", "", "plugin socket, unix:///path or unix:///@name (required)")
	name := flag.String("provider-name", "k8s-kms", "kms provider name in the EncryptionConfiguration")
	objects := flag.Int("objects", 5, "objects to write per scenario")
	rotate := flag.String("rotate-command", "", "shell command that rotates the backend key (skip rotation if empty)")
	v1 := flag.Bool("v1", false, "also run the KMS v1 path (KMSv1 feature gate on)")
	flag.Parse()
	if *endpoint == "" {
		fmt.Fprintln(os.Stderr, "kms-client-harness: --endpoint is required")
		os.Exit(2)
	}
	opts := clientharness.Options{Endpoint: *endpoint, ProviderName: *name, Objects: *objects, V1: *v1, Logf: log.Printf}
	if *rotate != "" {
		opts.Rotate = func(ctx context.Context) error {
			cmd := exec.CommandContext(ctx, "sh", "-c", *rotate)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			return cmd.Run()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := clientharness.Run(ctx, opts); err != nil {
		log.Printf("FAIL: %v", err)
		os.Exit(1)
	}
	log.Print("PASS")
}
