package model

// addRBAC resolves RoleBindings and ClusterRoleBindings to the workloads
// whose service accounts they bind, filling Workload.Permissions.
func (b *builder) addRBAC() {}
