"""Built size of the serve function: `sam build ServeFunction`, unzipped, with its layer.

Runs the SAM CLI of .venv-sam into a temporary build folder, with python3.12 from the same
folder on PATH because the template's runtime needs it. Then it adds up the files of the
function and of the shared layer, which Lambda counts together against its 250 MB
unzipped limit.

Usage: .venv/bin/python benchmarks/serve_build_size.py
Writes the section serve_build_size of benchmarks/results/serve.md.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from datetime import date
from pathlib import Path

from serve_common import REPOSITORY, machine_description, table, write_section

SAM_VENV = REPOSITORY / ".venv-sam"
AIM_MB = 150.0
LAMBDA_LIMIT_MB = 250.0
TOP_PACKAGES = 8
MB = 1_000_000


def folder_size(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def package_sizes(root: Path) -> list[tuple[str, int]]:
    sizes = [(entry.name, folder_size(entry)) for entry in root.iterdir() if entry.is_dir()]
    return sorted(sizes, key=lambda item: item[1], reverse=True)


def main() -> None:
    sam = SAM_VENV / "bin" / "sam"
    if not sam.exists():
        raise SystemExit(f"{sam} not found; run `make setup-sam` first")
    machine = machine_description()
    environment = {
        **os.environ,
        "PATH": f"{SAM_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
    }
    version = subprocess.run(
        [str(sam), "--version"], capture_output=True, text=True, env=environment, check=True
    ).stdout.strip()

    with tempfile.TemporaryDirectory(prefix="serve-build-") as directory:
        build_dir = Path(directory) / "build"
        completed = subprocess.run(
            [
                str(sam),
                "build",
                "ServeFunction",
                "--template-file",
                str(REPOSITORY / "template.yaml"),
                "--build-dir",
                str(build_dir),
            ],
            cwd=REPOSITORY,
            env=environment,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if completed.returncode != 0:
            raise SystemExit(f"sam build failed:\n{completed.stdout}\n{completed.stderr}")
        function_dir = build_dir / "ServeFunction"
        layer_dir = build_dir / "SharedLayer"
        function_bytes = folder_size(function_dir)
        layer_bytes = folder_size(layer_dir) if layer_dir.exists() else 0
        packages = package_sizes(function_dir)[:TOP_PACKAGES]
        layer_python = layer_dir / "python"
        layer_packages = package_sizes(layer_python)[:3] if layer_python.exists() else []

    total_mb = (function_bytes + layer_bytes) / MB
    verdict = "reached" if total_mb < AIM_MB else "missed"
    rows = [
        ["ServeFunction", f"{function_bytes / MB:.1f}"],
        ["SharedLayer", f"{layer_bytes / MB:.1f}"],
        ["total, as Lambda counts it", f"{total_mb:.1f}"],
    ]
    package_rows = [[name, f"{size / MB:.1f}"] for name, size in packages]
    package_rows += [[f"{name} (layer)", f"{size / MB:.1f}"] for name, size in layer_packages]
    markdown = f"""
## Built size

Measured {date.today()} with `benchmarks/serve_build_size.py` ({version}, `sam build
ServeFunction` without a container) on {machine}. Sizes are unzipped, in MB (10^6 bytes).

{table(["part", "MB"], rows)}

Largest folders:

{table(["folder", "MB"], package_rows)}

Aim: under {AIM_MB:.0f} MB unzipped: {total_mb:.1f} MB, {verdict}. Lambda's limit for a zip
function and its layers is {LAMBDA_LIMIT_MB:.0f} MB.
"""
    write_section("serve_build_size", markdown)


if __name__ == "__main__":
    main()
