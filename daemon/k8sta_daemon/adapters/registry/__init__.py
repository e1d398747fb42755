"""Image registries over the OCI distribution API (python-dxf): tags, manifests and image indexes,
config blobs; anonymous, basic and bearer-token auth. See ``client``."""

from .client import Credentials, Registry, Resolved, credentials_from_dockerconfigjson, split_repository
from .errors import (
    PlatformNotFound,
    RegistryError,
    RegistryUnavailable,
    RepositoryNotFound,
    TagNotFound,
    Unauthorized,
)

__all__ = ["Credentials", "PlatformNotFound", "Registry", "RegistryError", "RegistryUnavailable",
           "RepositoryNotFound", "Resolved", "TagNotFound", "Unauthorized", "credentials_from_dockerconfigjson",
           "split_repository"]
