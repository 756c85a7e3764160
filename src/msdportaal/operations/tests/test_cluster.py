"""The portal as a cluster: two nodes that share nothing but PostgreSQL, Redis and S3.

Two gunicorn web processes and two Celery workers, each node with its own ``MSD_VAR_DIR``,
one beat, tls_front round-robin in front of both web processes (the load balancer plus
nginx for RINIS), the RINIS/CBS simulator behind it (``cluster.py``). Between the steps
**every node's var dir is wiped** while the processes run, so anything a node kept on its
own disk for later (a staged file, a certificate, a download) makes a step fail.

1. IB uploads RINIS's client certificate, key and CA in the admin on node 1 and chooses
   them (no certificate in any node's environment: only those get a worker into RINIS).
2. A gemeente uploads on node 1 and confirms on node 2; node 1's worker sends it. A
   resumable (tus) upload is begun on node 1 and finished on node 2.
3. A worker is killed mid-send (RINIS holds its answer); node 2's worker, started after
   the upload on node 1's admin, takes over with the certificate node 1 stored.
4. A Grote Bericht is staged on node 1, node 1 goes down, it is confirmed on node 2, and
   RINIS pulls it from node 2 through the front.
5. RINIS delivers a report through the front to node 2; the gemeente downloads it from
   node 1 (restarted, empty var dir).

Runs with PostgreSQL, Redis and S3 only (the third run of ``.ci/run``): ``-m cluster``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user, restore_reference_data
from msdportaal.deliveries.models import Delivery
from msdportaal.deliveries.tests.factories import CURRENT, csv_bytes, random_bytes
from msdportaal.organisations.models import Municipality, User
from msdportaal.reports.models import Report
from msdportaal.transport.models import (
    AttemptOutcome,
    MessageState,
    OutboundMessage,
    TransportConfiguration,
    TrustedClient,
)
from msdportaal.transport.tests.conftest import worker_database_url
from rinis_simulator.devcerts import RINIS_OIN

from .cluster import Browser, Node, form_fields, wait_until

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),  # the nodes must see committed data
]

#: Generous: a process starts in a few seconds, but CI machines are shared and slow.
DEADLINE = 90.0
QUEUE = "msdportaal-cluster-test"
CHECK_PAGE = re.compile(r"^/aanleveren/([0-9a-f-]{36})/controleren/$")
GB_THRESHOLD = 100_000


@dataclass
class Cluster:
    node1: Node
    node2: Node
    front_url: str
    simulator: Any
    front_log: list[str]

    @property
    def nodes(self) -> list[Node]:
        return [self.node1, self.node2]

    def processes(self) -> list[Any]:
        return [p for node in self.nodes for p in node.processes()]

    def wipe(self) -> None:
        for node in self.nodes:
            node.wipe()

    def control(self, path: str, payload: dict | None = None) -> dict:
        url = f"{self.simulator.control_url}/{path}"
        if payload is None:
            response = requests.get(url, timeout=10)
        else:
            response = requests.post(url, json=payload, timeout=60)
        response.raise_for_status()
        return response.json()

    def at_rinis(self, message: OutboundMessage) -> dict | None:
        stored = self.control("messages")["messages"]
        return next((m for m in stored if m["referentienummer"] == message.referentienummer), None)


class _Lines(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def cluster_env(settings: Any, var_dir: Path, simulator: Any, front_url: str) -> dict[str, str]:
    """One node's environment: shared database, broker and bucket; its own var dir; no
    certificate files (the admin's are the only way into RINIS)."""
    return {
        **os.environ,  # MSD_S3_* (with this test's key prefix), the encryption key, ...
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[3])])),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
        "MSD_VAR_DIR": str(var_dir),
        "DATABASE_URL": worker_database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MSD_RINIS_URL": simulator.soap_url,
        "MSD_RINIS_CLIENT_CERT": "",
        "MSD_RINIS_CLIENT_KEY": "",
        "MSD_RINIS_CA_BUNDLE": "",
        "MSD_RINIS_CONNECT_TIMEOUT": "2",
        "MSD_RINIS_READ_TIMEOUT": "30",
        "MSD_RINIS_RETRY_BASE_SECONDS": "1",
        "MSD_RINIS_FACING_URL": front_url,
        "MSD_TRUST_CLIENT_CERT_HEADERS": "true",
        "MSD_OUTBOX_SWEEP_SECONDS": "1",
        "EMAIL_URL": f"smtp://{settings.EMAIL_HOST}:{settings.EMAIL_PORT}",
        "MSD_LOG_LEVEL": "INFO",
        "MSD_LOG_FORMAT": "json",
        "MSD_TEST_CELERY_QUEUE": QUEUE,
        # How far the test's clock is from the real one, at this moment.
        "MSD_TEST_CLOCK_OFFSET": repr(time.time() - time_machine.escape_hatch.time.time()),
    }


@pytest.fixture
def cluster(settings: Any, dev_certs: Any, tmp_path: Path) -> Iterator[Cluster]:
    from msdportaal.celery import app
    from rinis_simulator.config import SimulatorConfig
    from rinis_simulator.server import Simulator
    from tls_front.proxy import start_in_thread

    restore_reference_data()  # committed: an earlier transactional test flushed it
    nodes = [Node(name, tmp_path / name / "var", {}, tmp_path) for name in ("node1", "node2")]
    for node in nodes:
        node.var_dir.mkdir(parents=True)
    front_lines: list[str] = []
    handler = _Lines(front_lines)
    logging.getLogger("tls_front").addHandler(handler)
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = QUEUE
    purge_queue(QUEUE)
    front = start_in_thread(
        "127.0.0.1",
        0,
        [f"127.0.0.1:{node.web_port}" for node in nodes],
        dev_certs.portal_server.cert,
        dev_certs.portal_server.key,
        dev_certs.ca_cert,
        proxy_secret=settings.MSD_PROXY_SECRET,
    )
    simulator = Simulator(
        SimulatorConfig(
            port=0,
            control_port=0,
            certs_dir=dev_certs.directory,
            storage=tmp_path / "simulator",
            generate_certs=False,
            cert=dev_certs.simulator.cert,
            key=dev_certs.simulator.key,
            ca=dev_certs.ca_cert,
            gb_client_cert=dev_certs.rinis_client.cert,
            gb_client_key=dev_certs.rinis_client.key,
            gb_ca=dev_certs.ca_cert,
            portal_url=f"{front.url}/rinis/ggk/",
            auto_report="off",
        )
    ).start()
    for node in nodes:
        node.env = cluster_env(settings, node.var_dir, simulator, front.url)
    running = Cluster(nodes[0], nodes[1], front.url, simulator, front_lines)
    try:
        for node in nodes:
            node.start_web()
        running.node1.start_worker()
        running.node2.start_beat()  # exactly one beat in the cluster
        for node in nodes:
            node.wait_web()
        running.node1.wait_worker()
        yield running
    finally:
        for node in nodes:
            node.close()
        simulator.stop()
        front.stop()
        logging.getLogger("tls_front").removeHandler(handler)
        for node in nodes:
            for process in (node.web, node.worker, node.beat):
                if process is not None:
                    logging.getLogger(__name__).info("%s:\n%s", process, process.tail(60))
        app.conf.task_default_queue = previous_queue
        purge_queue(QUEUE)


def purge_queue(queue: str) -> None:
    """Drops what an earlier run left in *queue*, also the unacknowledged task of a killed
    worker (Redis would hand it out again after its visibility timeout)."""
    from msdportaal.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        channel.queue_purge(queue)
        client = channel.client
        for tag, payload in client.hgetall(channel.unacked_key).items():
            if json.loads(payload)[2] == queue:
                client.hdel(channel.unacked_key, tag)
                client.zrem(channel.unacked_index_key, tag)


def logged_in(user: User, *, otp: bool = False, backend: str = MUNICIPAL_BACKEND) -> Browser:
    """A browser with a session in the database (the development login is not needed)."""
    client = Client()
    client.force_login(user, backend=backend)
    if otp:
        device = TOTPDevice.objects.create(user=user, name="default", confirmed=True)
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return Browser(client.cookies["sessionid"].value)


def upload(browser: Browser, node: Node, name: str, content: bytes) -> str:
    """The upload form on *node*; returns the check page's path."""
    page = browser.get(node, "/aanleveren/")
    assert page.status_code == 200, page.text[:500]
    response = browser.post(node, "/aanleveren/", files={"files": (name, content, "text/csv")})
    assert response.status_code == 302, response.text[:2000]
    path = response.headers["Location"]
    assert CHECK_PAGE.match(path), path
    return path


def confirm(browser: Browser, node: Node, check_path: str) -> Delivery:
    page = browser.get(node, check_path)
    assert page.status_code == 200, page.text[:500]
    response = browser.post(node, check_path, {"confirm": "1"})
    assert response.status_code == 302, response.text[:2000]
    assert response.headers["Location"].endswith("/bevestiging/")
    batch_id = CHECK_PAGE.match(check_path).group(1)  # type: ignore[union-attr]
    return Delivery.objects.select_related("outbound_message").get(batch_id=batch_id)


def state_of(message: OutboundMessage) -> str:
    return OutboundMessage.objects.values_list("state", flat=True).get(pk=message.pk)


def tus_name(name: str) -> str:
    import base64

    return "filename " + base64.b64encode(name.encode()).decode()


def common_name(cert: Path) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    subject = x509.load_pem_x509_certificate(cert.read_bytes()).subject
    return str(subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def admin_upload(browser: Browser, node: Node, label: str, cert: Path, key: Path | None) -> int:
    add = "/beheer/simple_certmanager/certificate/add/"
    assert browser.get(node, add).status_code == 200
    files = {"public_certificate": (cert.name, cert.read_bytes(), "application/x-pem-file")}
    if key is not None:
        files["private_key"] = (key.name, key.read_bytes(), "application/x-pem-file")
    response = browser.post(
        node,
        add,
        {"label": label, "type": "key_pair" if key else "cert_only", "_save": "Opslaan"},
        files=files,
    )
    assert response.status_code == 302, response.text[:3000]
    from simple_certmanager.models import Certificate

    return Certificate.objects.get(label=label).pk


def test_two_nodes_share_nothing_but_the_database_the_broker_and_the_bucket(
    cluster: Cluster, dev_certs: Any, settings: Any
):
    node1, node2 = cluster.node1, cluster.node2
    amsterdam = Municipality.objects.get(code="0363")
    TrustedClient.objects.create(name="RINIS", oin=RINIS_OIN, purposes="gb,inbound")
    gemeente = logged_in(make_municipal_user(amsterdam, username="medewerker-cluster"))
    admin = User.objects.create_superuser("ib-cluster", "ib@example.org", "x" * 16)
    ib = logged_in(admin, otp=True, backend="django.contrib.auth.backends.ModelBackend")

    # 1. IB uploads RINIS's certificates in the admin on node 1 and chooses them there.
    pair = dev_certs.portal_client
    client_pk = admin_upload(ib, node1, "RINIS-client", Path(pair.cert), Path(pair.key))
    ca_pk = admin_upload(ib, node1, "RINIS-CA", Path(dev_certs.ca_cert), None)
    settings_page = "/beheer/transport/transportconfiguration/"
    fields = form_fields(ib.get(node1, settings_page).text, "transportconfiguration_form")
    assert "application_name" in fields
    fields.update(
        client_certificate=str(client_pk),
        server_ca_certificate=str(ca_pk),
        gb_threshold_bytes=str(GB_THRESHOLD),
        _save="Opslaan",
    )
    fields.pop("csrfmiddlewaretoken", None)
    saved = ib.post(node1, settings_page, fields)
    assert saved.status_code == 302, re.findall(r'class="errorlist[^>]*>(.*?)</ul>', saved.text)
    config = TransportConfiguration.get_solo()
    assert (config.client_certificate_id, config.server_ca_certificate_id) == (client_pk, ca_pk)
    cluster.wipe()

    # 2. Staged on node 1, confirmed on node 2, sent by node 1's worker (the only one yet).
    first = csv_bytes(200)
    check = upload(gemeente, node1, f"MSD_WMO-BASIS_0363_{CURRENT}.csv", first)
    cluster.wipe()
    delivery = confirm(gemeente, node2, check)
    message = delivery.outbound_message
    wait_until(
        lambda: state_of(message) == MessageState.DELIVERED,
        timeout=DEADLINE,
        what="the first delivery at RINIS",
        processes=cluster.processes(),
    )
    stored = cluster.at_rinis(message)
    assert stored is not None
    assert stored["sha256"] == hashlib.sha256(first).hexdigest()
    # RINIS saw the certificate uploaded in the admin (no node has one in its environment).
    assert stored["client_certificate"]["subject"]["commonName"] == common_name(
        Path(dev_certs.portal_client.cert)
    )
    first_delivery = delivery
    cluster.wipe()

    # 2b. A resumable upload, as the upload page sends it (tus): begun and half sent on
    #     node 1, resumed on node 2, checked on node 1, confirmed on node 2.
    resumable = csv_bytes(400)
    name = f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
    tus = {"Tus-Resumable": "1.0.0"}
    assert gemeente.get(node1, "/aanleveren/").status_code == 200
    begun = gemeente.send(
        node1,
        "POST",
        "/aanleveren/hervatbaar/",
        {**tus, "Upload-Length": str(len(resumable)), "Upload-Metadata": tus_name(name)},
    )
    assert begun.status_code == 201, begun.text[:1000]
    location = begun.headers["Location"]
    half = len(resumable) // 2
    part = {**tus, "Content-Type": "application/offset+octet-stream"}
    sent = gemeente.send(node1, "PATCH", location, {**part, "Upload-Offset": "0"}, resumable[:half])
    assert (sent.status_code, sent.headers["Upload-Offset"]) == (204, str(half)), sent.text
    cluster.wipe()
    assert gemeente.send(node2, "HEAD", location, tus).headers["Upload-Offset"] == str(half)
    sent = gemeente.send(
        node2, "PATCH", location, {**part, "Upload-Offset": str(half)}, resumable[half:]
    )
    assert (sent.status_code, sent.headers["Upload-Offset"]) == (204, str(len(resumable)))
    cluster.wipe()
    checked = gemeente.post(
        node1, "/aanleveren/hervatbaar/klaar/", {"uploads": location.rstrip("/").split("/")[-1]}
    )
    assert checked.status_code == 302, checked.text[:2000]
    delivery = confirm(gemeente, node2, checked.headers["Location"])
    message = delivery.outbound_message
    wait_until(
        lambda: state_of(message) == MessageState.DELIVERED,
        timeout=DEADLINE,
        what="the resumable upload at RINIS",
        processes=cluster.processes(),
    )
    assert cluster.at_rinis(message)["sha256"] == hashlib.sha256(resumable).hexdigest()  # type: ignore[index]
    cluster.wipe()

    # 3. RINIS holds back its answer; node 1's worker dies mid-send; node 2's finishes.
    cluster.control("fail", {"mode": "slow", "count": 1, "delay_seconds": 45})
    second = csv_bytes(300)
    check = upload(gemeente, node2, f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv", second)
    delivery = confirm(gemeente, node1, check)
    message = delivery.outbound_message
    wait_until(
        lambda: cluster.at_rinis(message) and state_of(message) == MessageState.SENDING,
        timeout=DEADLINE,
        what="the second Di01 at RINIS, its answer held back",
        processes=cluster.processes(),
    )
    node2.start_worker()
    node2.wait_worker()
    node1.worker.kill()  # type: ignore[union-attr]
    cluster.wipe()
    message.refresh_from_db()
    assert message.state == MessageState.SENDING  # the dead worker still holds the lease
    # Time passes until the dead worker's lease has run out (connect + read time-out + 60 s
    # on the nodes' clock, which is the test's); beat's sweeper hands it to node 2's worker.
    OutboundMessage.objects.filter(pk=message.pk).update(
        lease_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    wait_until(
        lambda: state_of(message) == MessageState.DELIVERED,
        timeout=DEADLINE,
        what="the second delivery finished by node 2's worker",
        processes=cluster.processes(),
    )
    outcomes = list(message.attempt_log.values_list("outcome", "detail"))
    assert [outcome for outcome, _detail in outcomes] == [
        AttemptOutcome.ERROR,
        AttemptOutcome.ACCEPTED,
    ]
    assert "worker gestopt" in outcomes[0][1]
    assert f"message {message.referentienummer} attempt 2: delivered" in node2.worker.log()  # type: ignore[union-attr]
    status = cluster.control("status")
    assert status["counters"]["duplicates"] == 1  # the same message again, recognised
    cluster.wipe()

    # 4. A Grote Bericht staged on node 1; node 1 goes down; confirmed on node 2; RINIS
    #    pulls it through the front, which can only reach node 2.
    large = random_bytes(GB_THRESHOLD * 3)
    check = upload(gemeente, node1, f"MSD_WMO-FACULTATIEF_0363_{CURRENT}.csv", large)
    node1.web.terminate()  # type: ignore[union-attr]
    cluster.wipe()
    delivery = confirm(gemeente, node2, check)
    message = delivery.outbound_message
    assert message.uses_grote_berichten
    wait_until(
        lambda: (cluster.at_rinis(message) or {}).get("complete"),
        timeout=DEADLINE,
        what="the Grote Bericht downloaded by RINIS",
        processes=cluster.processes(),
    )
    stored = cluster.at_rinis(message)
    assert stored["sha256"] == hashlib.sha256(large).hexdigest()  # type: ignore[index]
    served = [
        json.loads(line)
        for line in node2.web.log().splitlines()  # type: ignore[union-attr]
        if line.startswith("{") and '"/rinis/gb/' in line
    ]
    assert [(line["method"], line["status"]) for line in served][-1] == ("GET", 200)
    assert all("***" in line["path"] for line in served)
    wait_until(
        lambda: state_of(message) == MessageState.DELIVERED,
        timeout=DEADLINE,
        what="the Grote Bericht's Di01 accepted",
        processes=cluster.processes(),
    )
    cluster.wipe()

    # 5. RINIS delivers CBS's report through the front (node 2 only); node 1 comes back
    #    with an empty var dir, and the gemeente downloads the report there.
    answer = cluster.control(
        "report",
        {
            "referentienummer": first_delivery.outbound_message.referentienummer,
            "kind": "op_orde",
        },
    )
    assert answer["status"] == "bv03", answer
    report = Report.objects.get()
    node1.start_web()
    node1.wait_web()
    cluster.wipe()
    download = gemeente.get(node1, f"/rapporten/{report.pk}/download/")
    assert download.status_code == 200, download.text[:500]
    assert hashlib.sha256(download.content).hexdigest() == report.sha256
    assert any(f"upstream=127.0.0.1:{node2.web_port}" in line for line in cluster.front_log)

    # Nothing any node wrote stayed on its disk, but beat's schedule.
    assert [node.left_behind() for node in cluster.nodes] == [[], []]
