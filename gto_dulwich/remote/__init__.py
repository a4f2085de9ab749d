"""Everything that talks to a remote git repository, through dulwich's own clients.

``connection`` (URLs, credentials, timeouts, transport errors), ``reader`` (a remote read
through a lazily filled temporary store), ``push`` (pushing and fetching tags) and ``guard``
(one deadline and capped answers per network command).  Nothing is imported here: a local
command never loads the network code.
"""
