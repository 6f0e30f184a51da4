package cluster

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// connection is a loaded client configuration and what errors should say
// about it.
type connection struct {
	config  *rest.Config
	server  string // the API server's URL
	context string // the kubeconfig context; empty in a cluster
	// namespace is the context's namespace (or the pod's, in a cluster):
	// where a live scan reads when it may not read every namespace.
	namespace string
	source    string // where the configuration came from
}

// connect loads the client configuration as kubectl does: an explicit file
// alone, else $KUBECONFIG's files merged, else ~/.kube/config, else the
// in-cluster service account.
func connect(req Request) (*connection, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = req.Kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: req.Context})
	source := configFiles(req.Kubeconfig)
	config, err := loader.ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, noConfiguration(source)
	}
	if err != nil {
		if raw, rawErr := loader.RawConfig(); rawErr == nil && req.Context != "" && raw.Contexts[req.Context] == nil {
			names := make([]string, 0, len(raw.Contexts))
			for name := range raw.Contexts {
				names = append(names, name)
			}
			slices.Sort(names)
			return nil, fmt.Errorf("kubeconfig %s has no context %q; it has: %s", source, req.Context, strings.Join(names, ", "))
		}
		return nil, fmt.Errorf("kubeconfig %s: %w", source, err)
	}
	conn := &connection{config: config, server: strings.TrimSuffix(config.Host, "/"), context: req.Context, source: "kubeconfig " + source}
	if raw, err := loader.RawConfig(); err == nil && len(raw.Contexts) == 0 {
		conn.source = "in-cluster service account"
	} else if conn.context == "" && err == nil {
		conn.context = raw.CurrentContext
	}
	if ns, _, err := loader.Namespace(); err == nil {
		conn.namespace = ns
	}
	switch {
	case req.Timeout > 0:
		config.Timeout = req.Timeout
	case config.Timeout == 0:
		config.Timeout = DefaultTimeout
	}
	config.QPS, config.Burst = DefaultQPS, DefaultBurst
	if req.QPS > 0 {
		config.QPS = req.QPS
	}
	if req.Burst > 0 {
		config.Burst = req.Burst
	}
	return conn, nil
}

// ServiceAccountTokenFile is where a pod finds its ServiceAccount's token,
// which client-go's in-cluster configuration reads.
const ServiceAccountTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// noConfiguration says which of the two places kubectl looks was empty: a
// pod whose token is not mounted needs another fix than a laptop.
func noConfiguration(kubeconfig string) error {
	if os.Getenv("KUBERNETES_SERVICE_HOST") == "" || os.Getenv("KUBERNETES_SERVICE_PORT") == "" {
		return fmt.Errorf("no Kubernetes configuration: no kubeconfig at %s, and not in a pod ($KUBERNETES_SERVICE_HOST or _PORT unset): pass --kubeconfig FILE, or set $KUBECONFIG to the file kubectl uses", kubeconfig)
	}
	return fmt.Errorf("no Kubernetes configuration: no kubeconfig at %s, and no ServiceAccount token at %s though $KUBERNETES_SERVICE_HOST is set: mount the pod's token (automountServiceAccountToken: true), or pass --kubeconfig FILE", kubeconfig, ServiceAccountTokenFile)
}

// configFiles names the kubeconfig files that are read, for errors.
func configFiles(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
		return "$KUBECONFIG (" + env + ")"
	}
	return clientcmd.RecommendedHomeFile
}
