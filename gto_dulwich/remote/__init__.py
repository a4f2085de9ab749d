"""Everything that talks to a remote git repository, through dulwich's own clients.

``connection`` (URLs, credentials, timeouts, transport errors), ``reader`` (a remote read
through a lazily filled temporary store), ``fetching`` (its protocol-v2 fetch over git://
and ssh), ``packindex`` (indexing a received pack), ``inplace`` (a ``file://`` read in
place), ``push`` (pushing and fetching tags) and ``guard`` (one deadline and capped answers
per network command).  Nothing is imported here, and only :func:`is_url` lives here: every
command asks it of its ``--repo``, and a local one never loads the network code.
"""

from __future__ import annotations

import os
import re

__all__ = ["is_url"]

SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?[^/:]+:")
WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def is_url(location: str) -> bool:
    """Whether ``location`` names a remote repository rather than a local path.

    ``scheme://...`` always does; ``[user@]host:path`` does when no local path
    of that name exists (git's rule: a colon before the first slash).
    """
    if SCHEME.match(location):
        return True
    if WINDOWS_DRIVE.match(location) or os.path.exists(location):
        return False
    return bool(SCP_LIKE.match(location))
