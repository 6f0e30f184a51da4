package manifests_test

import (
	"fmt"

	"github.com/stridemap/stridemap/discover/manifests"
)

func ExampleDecode() {
	objs, probs := manifests.Decode("app.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: cart
spec:
  template:
    spec:
      containers:
      - name: cart
        image: cart:1.4
        env:
        - name: REDIS_ADDR
          value: redis:6379
---
apiVersion: v1
kind: Secret
metadata:
  name: cart-db
stringData:
  password: not-in-the-inventory
---
apiVersion: v1
kind: Deploymnt
metadata:
  name: typo
`), "shop")
	for _, o := range objs {
		fmt.Println(o.Ref(), "at", o.Location)
	}
	fmt.Println("REDIS_ADDR set at", objs[0].At("spec.template.spec.containers[0].env[0].value"))
	for _, p := range probs {
		fmt.Println(p.Code, p)
	}
	// Output:
	// Deployment shop/cart at app.yaml:1
	// Secret shop/cart-db at app.yaml:15
	// REDIS_ADDR set at app.yaml:13
	// unknown-kind app.yaml:22: Deploymnt shop/typo: apiVersion v1 has no kind Deploymnt, so the object is skipped; check the spelling of kind and apiVersion
}
