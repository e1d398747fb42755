"""K8sTA's local real stack: etcd, kube-apiserver, redis and Argo CD (running our plugin) as processes.

No Docker exists on our machines, so the stack runs the pinned binaries that ``toolchain/build.sh``
builds into the cache. Used by humans (``python -m k8sta_devstack up|down|status``) and by the test
suite (the fixtures in ``k8sta_devstack.pytest_plugin``). Layers, bottom up:

- ``binaries``: where the pinned tools and Argo CD's module sources are;
- ``processes``: start with readiness checks, one log and one process group each, stop;
- ``pki``, ``kube``: certificates, etcd, kube-apiserver, kubeconfig, server-side apply;
- ``argocd_config``, ``argocd``: Argo CD's CRDs/config/token, and its processes;
- ``stack``: the start order and the running stack's description; ``cli``: ``up``/``down``;
- test tooling: ``gitrepo`` (file:// config repos), ``appbranch`` (app-branch commits via the
  plugin's own contract), ``pytest_plugin`` (fixtures).
See docs/devstack.md.
"""
