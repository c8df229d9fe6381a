"""Every front-end file is vendored, pinned, licensed and served by the app: the README's
table and checksums match the files, and no page loads anything from another host."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flask import Flask

CONSOLE = Path(__file__).resolve().parent.parent / "bot" / "console"
VENDOR = CONSOLE / "static" / "vendor"
CHECKSUM = re.compile(r"^([0-9a-f]{64})  (\S+)$", re.MULTILINE)


def test_each_vendored_file_is_listed_with_its_checksum_and_licence() -> None:
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    listed = {path: digest for digest, path in CHECKSUM.findall(readme)}
    on_disk = {str(path.relative_to(VENDOR)) for path in VENDOR.rglob("*") if path.is_file()} - {
        "README.md"
    }
    assert set(listed) == on_disk
    for path, digest in listed.items():
        assert hashlib.sha256((VENDOR / path).read_bytes()).hexdigest() == digest, path
    for folder in {path.split("/")[0] for path in listed}:
        assert (VENDOR / folder / "LICENSE").exists(), folder


def test_pages_load_only_the_apps_own_files(console_app: Flask) -> None:
    for template in (CONSOLE / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["'](https?:)?//""", text), template.name
    client = console_app.test_client()
    page = client.get("/console/sign-in").get_data(as_text=True)
    assets = re.findall(r"""(?:src|href)="(/console/static/[^"]+)\"""", page)
    assert len(assets) >= 2, "the stylesheet and htmx"
    for asset in assets:
        response = client.get(asset)
        response.close()
        assert response.status_code == 200, asset
