"""``msd-aanlever send|status|reports|expected`` (docs/api.md, "De opdrachtregel").

Exit codes:
  0  gelukt
  1  een bestand is geweigerd (naam, inhoud, periode) of een aanlevering is mislukt
  2  verkeerd gebruik (opties, bestand niet gevonden)
  3  geen toegang: certificaat ontbreekt, is onbekend of ingetrokken
  4  het portaal is niet bereikbaar of gaf een serverfout: later opnieuw proberen
  5  niet gevonden (referentie, gemeente)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

OK, REFUSED, USAGE, ACCESS, UNAVAILABLE, NOT_FOUND = range(6)
#: Bytes per PATCH: what a dropped connection can cost at most (MSD_AANLEVER_CHUNK_MB).
CHUNK = int(float(os.environ.get("MSD_AANLEVER_CHUNK_MB", "8")) * 1024 * 1024)
TUS = {"Tus-Resumable": "1.0.0"}


class Failure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _env(name: str) -> str | None:
    return os.environ.get(f"MSD_AANLEVER_{name}") or None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="msd-aanlever",
        description="Lever bestanden aan bij MSD Portaal en haal rapporten op, zonder browser.",
        epilog=__doc__.split("\n", 2)[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--url", default=_env("URL"), help="adres van het portaal (MSD_AANLEVER_URL)"
    )
    parser.add_argument("--cert", default=_env("CERT"), help="certificaat, PEM (MSD_AANLEVER_CERT)")
    parser.add_argument("--key", default=_env("KEY"), help="privésleutel, PEM (MSD_AANLEVER_KEY)")
    parser.add_argument(
        "--ca", default=_env("CA"), help="CA-bundel om het portaal te controleren (MSD_AANLEVER_CA)"
    )
    parser.add_argument(
        "--gemeente",
        default=_env("GEMEENTE"),
        help="CBS-gemeentecode; nodig als het certificaat voor meer gemeenten mag handelen",
    )
    parser.add_argument(
        "--state-dir",
        default=_env("STATE_DIR") or str(Path.home() / ".cache" / "msd-aanlever"),
        help="waar onderbroken uploads worden onthouden om ze te hervatten",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send", help="bestanden aanleveren (hervat een onderbroken upload)")
    send.add_argument("files", nargs="+", type=Path)
    send.add_argument("--quiet", action="store_true", help="geen voortgangsbalk")
    status = commands.add_parser("status", help="de stand van een aanlevering")
    status.add_argument("reference")
    reports = commands.add_parser("reports", help="rapporten van CBS tonen of downloaden")
    reports.add_argument("--download", type=Path, metavar="MAP", help="download naar deze map")
    commands.add_parser("expected", help="wat er per open periode verwacht wordt")
    return parser


class Portal:
    def __init__(self, args: argparse.Namespace) -> None:
        if not args.url:
            raise Failure(USAGE, "Geef het adres van het portaal met --url of MSD_AANLEVER_URL.")
        if not args.cert or not args.key:
            raise Failure(
                USAGE, "Geef certificaat en sleutel met --cert/--key (of MSD_AANLEVER_*)."
            )
        self.base = args.url.rstrip("/")
        self.session = requests.Session()
        self.session.cert = (args.cert, args.key)
        self.verify: str | bool = args.ca or True
        self.gemeente = args.gemeente or self._only_gemeente()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else self.base + path
        try:
            response = self.session.request(
                method, url, verify=self.verify, timeout=(10, 300), **kwargs
            )
        except requests.RequestException as exc:
            raise Failure(UNAVAILABLE, f"Het portaal is niet bereikbaar: {exc}") from exc
        if response.status_code in (401, 403):
            raise Failure(ACCESS, _detail(response))
        if response.status_code == 404:
            raise Failure(NOT_FOUND, _detail(response))
        if response.status_code >= 500 or response.status_code == 429:
            raise Failure(UNAVAILABLE, _detail(response))
        return response

    def _only_gemeente(self) -> str:
        gemeenten = self.request("GET", "/api/v1/gemeenten/").json()
        if len(gemeenten) != 1:
            codes = ", ".join(f"{g['code']} ({g['naam']})" for g in gemeenten) or "geen"
            raise Failure(USAGE, f"Kies een gemeente met --gemeente; dit certificaat mag: {codes}.")
        return str(gemeenten[0]["code"])

    def path(self, rest: str) -> str:
        return f"/api/v1/gemeenten/{self.gemeente}/{rest}"


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail") or response.reason)
    except ValueError:
        return f"HTTP {response.status_code} {response.reason}"


def _progress(name: str, done: int, total: int, quiet: bool) -> None:
    if quiet or (not sys.stderr.isatty() and os.environ.get("MSD_AANLEVER_PROGRESS") != "1"):
        return
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "-" * (width - filled)
    sys.stderr.write(f"\r{name} [{bar}] {done * 100 // max(total, 1):3d}%")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _send_one(portal: Portal, path: Path, state_dir: Path, quiet: bool) -> list[str]:
    size = path.stat().st_size
    state_file = state_dir / f"{portal.gemeente}-{_sha256(path)}-{path.name}.json"
    upload_url: str | None = None
    offset = 0
    if state_file.exists():
        upload_url = json.loads(state_file.read_text())["url"]
        try:
            head = portal.request("HEAD", upload_url, headers=TUS)
            offset = int(head.headers["Upload-Offset"])
        except Failure as failure:
            if failure.code != NOT_FOUND:
                raise
            upload_url = None  # expired or removed: start again
    if upload_url is None:
        created = portal.request(
            "POST",
            portal.path("uploads/"),
            headers={
                **TUS,
                "Upload-Length": str(size),
                "Upload-Metadata": "filename " + base64.b64encode(path.name.encode()).decode(),
            },
        )
        if created.status_code != 201:
            raise Failure(REFUSED, f"{path.name}: {_detail(created)}")
        upload_url = portal.base + created.headers["Location"]
        state_dir.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps({"url": upload_url}))
    with path.open("rb") as f:
        f.seek(offset)
        while offset < size:
            _progress(path.name, offset, size, quiet)
            chunk = f.read(CHUNK)
            checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
            patched = portal.request(
                "PATCH",
                upload_url,
                data=chunk,
                headers={
                    **TUS,
                    "Upload-Offset": str(offset),
                    "Upload-Checksum": f"sha256 {checksum}",
                    "Content-Type": "application/offset+octet-stream",
                },
            )
            if patched.status_code == 409:  # the server knows better where we are
                offset = int(
                    portal.request("HEAD", upload_url, headers=TUS).headers["Upload-Offset"]
                )
                f.seek(offset)
                continue
            if patched.status_code != 204:
                raise Failure(REFUSED, f"{path.name}: {_detail(patched)}")
            offset = int(patched.headers["Upload-Offset"])
    _progress(path.name, size, size, quiet)
    checked = portal.request("GET", upload_url, headers=TUS).json()
    if checked["status"] == "geweigerd":
        state_file.unlink(missing_ok=True)
        reasons = "; ".join(r["melding"] for r in checked["weigeringen"])
        raise Failure(REFUSED, f"{path.name} is geweigerd: {reasons}")
    confirmed = portal.request("POST", upload_url + "bevestigen/").json()
    state_file.unlink(missing_ok=True)
    return list(confirmed["aanleveringen"])


def send(portal: Portal, args: argparse.Namespace) -> int:
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        raise Failure(USAGE, "Bestand niet gevonden: " + ", ".join(missing))
    worst = OK
    for path in args.files:
        try:
            for reference in _send_one(portal, path, Path(args.state_dir), args.quiet):
                print(f"{reference}\t{path.name}")
        except Failure as failure:
            if failure.code != REFUSED:
                raise
            print(str(failure), file=sys.stderr)
            worst = REFUSED
    return worst


def status(portal: Portal, args: argparse.Namespace) -> int:
    delivery = portal.request("GET", portal.path(f"aanleveringen/{args.reference}/")).json()
    print(f"{delivery['referentie']}\t{delivery['bestandsnaam']}\t{delivery['status']}")
    for event in delivery["tijdlijn"]:
        print(f"  {event['moment'] or '':32}  {event['stap']}  {event['toelichting']}".rstrip())
    for report in delivery["rapporten"]:
        print(f"  rapport {report['id']}: {report['soort']} {report['bestandsnaam']}")
    return REFUSED if delivery["status"] == "mislukt" else OK


def reports(portal: Portal, args: argparse.Namespace) -> int:
    listed = portal.request("GET", portal.path("rapporten/")).json()
    for report in listed:
        line = f"{report['id']}\t{report['soort']}\t{report['bestandsnaam']}"
        if args.download is not None:
            target = args.download / report["bestandsnaam"]
            if target.exists() and _sha256(target) == report["sha256"]:
                line += "\t(al aanwezig)"
            else:
                args.download.mkdir(parents=True, exist_ok=True)
                response = portal.request("GET", report["download"], stream=True)
                digest = hashlib.sha256()
                partial = target.with_suffix(target.suffix + ".deel")
                with partial.open("wb") as out:
                    for chunk in response.iter_content(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                if digest.hexdigest() != report["sha256"]:
                    partial.unlink()
                    raise Failure(UNAVAILABLE, f"{report['bestandsnaam']}: download onvolledig")
                partial.replace(target)
                line += f"\t{target}"
        print(line)
    return OK


def expected(portal: Portal, args: argparse.Namespace) -> int:
    for period in portal.request("GET", portal.path("verwacht/")).json():
        print(f"{period['periode']} {period['naam']}: deadline {period['deadline']}")
        for s in period["sets"]:
            state = (
                f"aangeleverd ({s['referentie']}, {s['doorsturen']})"
                if s["aangeleverd"]
                else (f"nog aanleveren als {s['voorbeeld_bestandsnaam']}")
            )
            print(f"  {s['naam']}: {state}")
        if period["volgende_stap"]:
            print(f"  → {period['volgende_stap']}")
    return OK


COMMANDS = {"send": send, "status": status, "reports": reports, "expected": expected}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        portal = Portal(args)
        return COMMANDS[args.command](portal, args)
    except Failure as failure:
        print(f"msd-aanlever: {failure}", file=sys.stderr)
        return failure.code
    except KeyboardInterrupt:
        print("\nmsd-aanlever: onderbroken; opnieuw starten hervat de upload.", file=sys.stderr)
        return UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
