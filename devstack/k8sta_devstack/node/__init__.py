"""A real Kubernetes node for the devstack (kubelet + containerd) and the images it runs."""
