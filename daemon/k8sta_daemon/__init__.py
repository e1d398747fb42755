"""K8sTA daemon: the controller and the web app (see issue 4)."""
