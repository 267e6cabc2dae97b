"""TLS with client certificates against mosquitto (require_certificate, identity as user name, ACL)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import queue
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.clock import SystemClock
from edge.config import MqttConfig, MqttTlsConfig
from edge.errors import UplinkError
from edge.provision.dev_ca import DevCA, ensure_dev_ca, sign_csr
from edge.provision.identity import make_csr
from edge.uplink import Uplink
from edge.uplink.outbox import Priority
from tests.broker import Broker
from tests.mqtt_client import wait_until

# `user root`: when the tests run as root, mosquitto would otherwise switch to its own user, which cannot
# read pytest's private temporary folders; as any other user the line has no effect.
CONF = """per_listener_settings false
user root
allow_anonymous false
persistence false
listener @PORT@ 127.0.0.1
cafile {ca}
certfile {cert}
keyfile {key}
require_certificate true
use_identity_as_username true
acl_file {acl}
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
"""

# Each node may publish only under its own root and read only its own command topic; the centre reads all.
ACL = """user central
topic readwrite cams/#

pattern write cams/%u/#
pattern read cams/%u/cmd
"""


@dataclass(frozen=True)
class Pki:
    ca: Path
    dir: Path

    def client(self, name: str) -> MqttTlsConfig:
        return MqttTlsConfig(
            ca_file=self.ca, cert_file=self.dir / f"{name}.crt", key_file=self.dir / f"{name}.key"
        )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _server_cert(ca: DevCA, directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test broker")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    _write_key(directory / "server.key", key)
    (directory / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Broker, Pki]]:
    certs = tmp_path / "pki"
    ca, _ = ensure_dev_ca(certs)
    _server_cert(ca, certs)
    for name in ("test-node", "other-node", "central"):
        key = ec.generate_private_key(ec.SECP256R1())
        _write_key(certs / f"{name}.key", key)
        (certs / f"{name}.crt").write_bytes(sign_csr(ca, make_csr(key, name), days=1))
    (certs / "acl").write_text(ACL)
    conf = CONF.format(
        ca=ca.cert_path, cert=certs / "server.crt", key=certs / "server.key", acl=certs / "acl"
    )
    broker = Broker(tmp_path, conf_template=conf)
    broker.start()
    yield broker, Pki(ca.cert_path, certs)
    broker.stop()


@dataclass
class Client:
    paho: mqtt.Client
    ready: queue.Queue[bool]
    """True on connect (and on subscribe); False when the broker refused the connection."""
    topics: queue.Queue[str]
    """Topics of the non-retained messages received."""

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


def _client(broker: Broker, tls: MqttTlsConfig | None, topic: str | None = None) -> Client:
    c = Client(mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311), queue.Queue(), queue.Queue())

    def on_connect(cl: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        if topic and not rc.is_failure:
            cl.subscribe(topic, qos=1)
        c.ready.put(not rc.is_failure)

    def on_message(_c: mqtt.Client, _u: object, m: mqtt.MQTTMessage) -> None:
        if not m.retain:
            c.topics.put(m.topic)

    if tls is not None:
        c.paho.tls_set(
            str(tls.ca_file), str(tls.cert_file), str(tls.key_file), tls_version=ssl.PROTOCOL_TLS_CLIENT
        )
    c.paho.on_connect = on_connect
    c.paho.on_subscribe = lambda *_: c.ready.put(True)
    c.paho.on_message = on_message
    c.paho.connect_async(broker.host, broker.port)
    c.paho.loop_start()
    return c


def test_node_talks_tls_with_its_certificate_and_is_confined_to_its_topics(
    tls_broker: tuple[Broker, Pki], tmp_path: Path
) -> None:
    broker, pki = tls_broker
    central = _client(broker, pki.client("central"), "cams/#")
    assert central.ready.get(timeout=10) and central.ready.get(timeout=10), "the centre is in, over TLS"
    cfg = MqttConfig(host=broker.host, port=broker.port, tls=pki.client("test-node"))
    up = Uplink(cfg, "test-node", SystemClock(), tmp_path / "o.sqlite")
    up.start()
    try:
        assert up.wait_connected(10), "the node connects with its client certificate"
        up.send("event", up.topics.event("alarm"), {"n": 1}, Priority.EVENT)
        topics = {central.topics.get(timeout=10) for _ in range(2)}
        assert topics == {"cams/test-node/status", "cams/test-node/event/alarm"}
        wait_until(lambda: up.state().outbox.depth == 0, 10, "the acknowledged event to leave the outbox")
    finally:
        up.stop()
    assert central.topics.get(timeout=10) == "cams/test-node/status"  # offline

    # Another node's certificate cannot publish into this node's topics (the broker drops it silently).
    intruder = _client(broker, pki.client("other-node"))
    assert intruder.ready.get(timeout=10)
    intruder.paho.publish("cams/test-node/cmd", b"{}", qos=1).wait_for_publish(5)
    intruder.paho.publish("cams/test-node/health", b"{}", qos=1).wait_for_publish(5)
    intruder.paho.publish("cams/other-node/health", b"{}", qos=1).wait_for_publish(5)
    assert central.topics.get(timeout=10) == "cams/other-node/health", "only its own topic got through"
    assert central.topics.empty()
    intruder.close()
    central.close()


def test_without_a_client_certificate_the_broker_refuses(tls_broker: tuple[Broker, Pki]) -> None:
    broker, pki = tls_broker
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    c.tls_set(ca_certs=str(pki.ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    refused = False
    try:
        c.connect(broker.host, broker.port, keepalive=5)
        # TLS 1.3 reports the missing certificate after the handshake: on the first read.
        for _ in range(20):
            if c.loop(0.1) != mqtt.MQTT_ERR_SUCCESS:
                refused = True
                break
            if c.is_connected():
                break
    except (ssl.SSLError, OSError):
        refused = True
    assert refused and not c.is_connected()


def test_unreadable_tls_files_are_a_clear_start_error(tmp_path: Path) -> None:
    tls = MqttTlsConfig(
        ca_file=tmp_path / "none.crt", cert_file=tmp_path / "c.crt", key_file=tmp_path / "c.key"
    )
    with pytest.raises(UplinkError, match="TLS"):
        Uplink(MqttConfig(tls=tls), "n", SystemClock(), tmp_path / "o.sqlite")
