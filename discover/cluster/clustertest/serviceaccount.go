package clustertest

import (
	"context"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// CA is the certificate, in PEM, of the authority that signed the server's
// certificate: what a pod finds in its ca.crt.
func (s *Server) CA() []byte { return s.ca.certPEM }

// ServiceAccountToken is a token the server issues for a ServiceAccount
// (TokenRequest): the kind a pod running as it is given.
func (s *Server) ServiceAccountToken(t testing.TB, namespace, name string) string {
	t.Helper()
	token, err := s.Client(t).CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("clustertest: token for ServiceAccount %s/%s: %v", namespace, name, err)
	}
	return token.Status.Token
}

// WaitForAccess waits until the server's authorizer, which learns of RBAC
// changes a moment after they are stored, says whether cfg's identity may
// list the core resource in every namespace.
func WaitForAccess(t testing.TB, cfg *rest.Config, resource string, allowed bool) {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Version: "v1", Resource: resource},
	}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		answer, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), review, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("clustertest: may %s be listed: %v", resource, err)
		}
		if answer.Status.Allowed == allowed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("clustertest: 30 s after the change, list %s is still allowed=%v", resource, answer.Status.Allowed)
		}
	}
}
