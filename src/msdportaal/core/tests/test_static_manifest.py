"""Production's collectstatic (its manifest storage; the compression left out for speed)
accepts every static file we ship.

The manifest storage follows every url() and sourceMappingURL in CSS and JavaScript and
refuses a file that names one that is missing (a vendored script without its map did).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command


def test_collectstatic_with_the_production_storage(settings, tmp_path: Path):
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    manifest = (tmp_path / "static" / "staticfiles.json").read_text()
    for name in ("vendor/tus-js-client/tus.min.js", "js/upload.js", "css/portal.css"):
        assert f'"{name}"' in manifest
