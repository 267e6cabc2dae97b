"""Provisioning: from a fresh Debian / Raspberry Pi OS to an identified, hardened node (``edge provision``).

accounts.py      the ``edge`` system user and group (or, for --root, owners recorded in a manifest)
layout.py        where every file lives on the node, and who owns it
files.py         idempotent, atomic file operations under the target root
identity.py      device keys and CSR generated on the node; the fleet CA's certificate checked and installed
central_keys.py  the central system's public keys
technicians.py   technician credentials as scrypt hashes
node_config.py   /etc/edge/edge.yaml from a template, validated by the schema
units.py         systemd units installed and enabled
venv.py          the package in /opt/edge/venv
provisioner.py   the whole run, in order, and its manifest
dev_ca.py        a development CA for tests and the demo
cli.py           ``edge provision`` and ``edge provision dev-ca``

Nothing is imported here: the ``edge`` command builds its parser without loading cryptography.
"""
