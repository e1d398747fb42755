"""Entry point of ``python -m k8sta_devstack``."""

import sys

from k8sta_devstack.cli import main

sys.exit(main())
