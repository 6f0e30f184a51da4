package resolve

import "testing"

func TestDeclaredPod(t *testing.T) {
	workloads := map[string][]string{
		"shop/web": {"Deployment"}, "shop/web-api": {"Deployment"}, "shop/db": {"StatefulSet"}, "shop/agent": {"DaemonSet"},
		"shop/report": {"CronJob"}, "shop/debug": {"Pod"}, "shop/migrate": {"Job"},
	}
	for _, tc := range []struct {
		pod, want string
	}{
		{"shop/web-5d8f9c7b6-x2x4p", "ReplicaSet web-5d8f9c7b6"},
		{"shop/web-api-5d8f9c7b6-x2x4p", "ReplicaSet web-api-5d8f9c7b6"},
		{"shop/db-12", "StatefulSet db"},
		{"shop/agent-k2x4p", "DaemonSet agent"},
		{"shop/report-29012345-q8w2z", "Job report-29012345"},
		{"shop/migrate-q8w2z", "Job migrate"},
		{"shop/debug", "bare"},
		{"shop/web", ""},
		{"shop/db-x", ""},
		{"other/web-5d8f9c7b6-x2x4p", ""},
		{"no-namespace", ""},
	} {
		t.Run(tc.pod, func(t *testing.T) {
			got := ""
			if p := declaredPod(tc.pod, workloads); p != nil {
				got = "bare"
				if len(p.OwnerReferences) == 1 {
					got = p.OwnerReferences[0].Kind + " " + p.OwnerReferences[0].Name
				}
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
