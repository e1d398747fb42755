"""Shared fixtures. The real-stack ones (stack, kube_api, argocd, config_repo, kustomize) live in
k8sta_devstack.pytest_plugin so humans' tooling and the tests start the stack the same way."""

pytest_plugins = ["k8sta_devstack.pytest_plugin"]
