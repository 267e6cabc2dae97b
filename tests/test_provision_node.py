"""A provisioned node runs; real accounts and owners when provisioning an image root as root."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
from pathlib import Path

import pytest
import yaml

from tests.broker import Broker
from tests.mqtt_client import Subscriber
from tests.node_process import NodeProcess
from tests.provisioning import provision, snapshot


def test_provisioned_node_runs_and_says_online(tmp_path: Path, broker: Broker) -> None:
    root = tmp_path / "root"
    masks = tmp_path / "masks.yaml"
    masks.write_text(yaml.safe_dump({"masks": [{"name": "door", "polygon": [[0, 0], [0.3, 0], [0.3, 0.5]]}]}))
    run = provision(
        root,
        "--camera",
        "synthetic",
        "--camera-option",
        "width=320",
        "--camera-option",
        "height=180",
        "--camera-option",
        "fps=10",
        "--masks",
        str(masks),
        "--mqtt-host",
        broker.host,
        "--mqtt-port",
        str(broker.port),
        node_id="cam-run-01",
    )
    assert run.code == 0, run.err
    config = yaml.safe_load((root / "etc/edge/edge.yaml").read_text())
    # Two changes only: the state directory as seen from this machine (the node runs outside the root),
    # and health every second rather than every 10 s, to keep the test short.
    config["node"]["state_dir"] = str(root / "var/lib/edge")
    config["mqtt"]["health_interval_s"] = 1
    sub = Subscriber(broker.host, broker.port, "cams/cam-run-01/#")
    node = NodeProcess(tmp_path, config)
    try:
        status = sub.expect(lambda m: m.topic == "cams/cam-run-01/status", 20, "status").json()
        assert status["state"] == "online"
        health = sub.expect(
            lambda m: m.topic == "cams/cam-run-01/health" and m.json()["camera"]["state"] == "streaming",
            20,
            "health with the camera streaming",
        ).json()
        assert health["privacy"]["mode"] == "masking"
        node.signal(signal.SIGTERM)
        assert node.wait(10) == 0
    finally:
        node.close()
        sub.close()


def _image_root(root: Path) -> None:
    """The account files of a fresh Debian image: root, and the video group from base-passwd."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\nvideo:x:44:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\nvideo:*::\n")


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None, reason="creating accounts and chown need root"
)
def test_image_root_gets_real_accounts_and_owners(tmp_path: Path) -> None:
    root = tmp_path / "image"
    _image_root(root)
    run = provision(root, "--camera", "synthetic", "--accounts", "system")
    assert run.code == 0, run.err
    assert "created   user edge" in run.out
    users = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    groups = {line.split(":")[0]: line.split(":") for line in (root / "etc/group").read_text().splitlines()}
    edge_user = users["edge"]
    uid, gid = int(edge_user[2]), int(edge_user[3])
    assert uid < 1000, "a system user"
    assert edge_user[5:] == ["/var/lib/edge", "/usr/sbin/nologin"]
    assert int(groups["edge"][2]) == gid
    assert "edge" in groups["video"][3].split(",")
    assert "edge" not in {p.pw_name for p in pwd.getpwall()}, "the host's own accounts are untouched"

    def owner(path: str) -> tuple[int, int, int]:
        st = (root / path).lstat()
        return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)

    assert owner("var/lib/edge") == (uid, gid, 0o750)
    assert owner("etc/edge") == (0, gid, 0o750)
    assert owner("etc/edge/edge.yaml") == (0, gid, 0o640)
    assert owner("etc/edge/credentials") == (0, 0, 0o700)
    assert owner("etc/edge/credentials/tls.key") == (0, 0, 0o600)

    before = snapshot(root)
    again = provision(root, "--camera", "synthetic", "--accounts", "system")
    assert again.summary == "edge provision: unchanged", again.out
    assert snapshot(root) == before
