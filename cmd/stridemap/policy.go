package main

import "github.com/spf13/cobra"

// policyCommand groups the commands about NetworkPolicies: what the flows
// call for and how it compares with what exists.
func (a *app) policyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Suggest least-privilege NetworkPolicies from the flows and compare them with today's",
		Args:  unknownCommand,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.newPolicyDiffCmd())
	return cmd
}
