"""Tests of the `k8sta` CLI: pure renderers and rules, and commands through `main([...])`."""
