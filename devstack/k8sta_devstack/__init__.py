"""K8sTA's local real stack: etcd, kube-apiserver, redis and Argo CD (running our plugin) as processes.

No Docker exists on our machines, so the stack runs the pinned binaries that ``toolchain/build.sh``
builds into the cache. Used by humans (``python -m k8sta_devstack up|down``) and by the test suite
(the ``stack`` fixture in ``k8sta_devstack.pytest_plugin``). Layers, bottom up: ``binaries``
(where the pinned tools are), ``processes`` (start, readiness, logs, teardown), ``pki`` and ``kube``
(certificates, kube-apiserver, kubeconfig, server-side apply), ``argocd`` (Argo CD config, API token),
``stack`` (the order of it all), ``state`` and ``cli`` (the detached stack of ``up``/``down``).
"""
