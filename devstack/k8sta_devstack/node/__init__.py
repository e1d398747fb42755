"""The real node of the local stack (kubelet + containerd in namespaces of its own), what it runs and serves:
each part in a module of its own (docs/devstack-node.md)."""
