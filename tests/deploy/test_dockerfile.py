"""read_final_stage: the copies and CMD of a Dockerfile's last stage, as Docker reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.localcloud.deploy.dockerfile import DockerfileError, read_final_stage

MULTI_STAGE = """\
# comment
ARG FUNCTION=ingest
ARG BASE=public.ecr.aws/lambda/python:3.12

FROM ${BASE} AS build
ARG FUNCTION
COPY functions/${FUNCTION}/requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt \\
    --target /opt/dependencies

FROM --platform=linux/amd64 ${BASE}
ARG FUNCTION
ENV PACKAGE_DIR=lib HOME=/tmp
COPY --from=build /opt/dependencies ${LAMBDA_TASK_ROOT}/
COPY --chown=10001:10001 ${PACKAGE_DIR}/mhpe $LAMBDA_TASK_ROOT/mhpe
COPY functions/${FUNCTION}/app.py \\
     functions/${FUNCTION}/helpers.py \\
     ${LAMBDA_TASK_ROOT}/
USER 10001:10001
CMD ["app.lambda_handler"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    return path


def test_final_stage_copies_and_command(tmp_path: Path) -> None:
    stage = read_final_stage(write(tmp_path, MULTI_STAGE))

    assert stage.base_image == "public.ecr.aws/lambda/python:3.12"
    assert [(copy.sources, copy.destination) for copy in stage.copies] == [
        (("lib/mhpe",), "/var/task/mhpe"),
        (("functions/ingest/app.py", "functions/ingest/helpers.py"), "/var/task/"),
    ]
    assert stage.copies[1].line_number == 16
    assert stage.command == ("app.lambda_handler",)


def test_build_argument_overrides_default(tmp_path: Path) -> None:
    stage = read_final_stage(write(tmp_path, MULTI_STAGE), {"FUNCTION": "validate"})

    assert stage.copies[1].sources == (
        "functions/validate/app.py",
        "functions/validate/helpers.py",
    )


def test_stage_argument_without_redeclaration_is_empty(tmp_path: Path) -> None:
    # Docker passes an ARG declared before FROM into a stage only when the stage declares it.
    text = "ARG FUNCTION=ingest\nFROM base\nCOPY functions/${FUNCTION}/app.py /var/task/\n"

    stage = read_final_stage(write(tmp_path, text))

    assert stage.copies[0].sources == ("functions//app.py",)


def test_relative_destination_follows_workdir(tmp_path: Path) -> None:
    text = (
        "FROM base\n"
        "WORKDIR /var/task\n"
        "WORKDIR lib\n"
        'COPY ["src/pkg", "pkg"]\n'
        "COPY app.py ./\n"
        "ADD https://example.invalid/archive.tar.gz /tmp/\n"
    )

    stage = read_final_stage(write(tmp_path, text))

    assert [(copy.sources, copy.destination) for copy in stage.copies] == [
        (("src/pkg",), "/var/task/lib/pkg"),
        (("app.py",), "/var/task/lib/"),
    ]


def test_variable_defaults_substituted(tmp_path: Path) -> None:
    text = (
        "FROM base\n"
        "ARG FOLDER\n"
        "COPY ${FOLDER:-functions/train}/app.py ${MISSING:+/nowhere}/var/task/\n"
        "CMD python app.py\n"
    )

    stage = read_final_stage(write(tmp_path, text))

    assert stage.copies[0].sources == ("functions/train/app.py",)
    assert stage.copies[0].destination == "/var/task/"
    assert stage.command is None


def test_missing_dockerfile_raises(tmp_path: Path) -> None:
    with pytest.raises(DockerfileError, match="not found"):
        read_final_stage(tmp_path / "Dockerfile")


def test_dockerfile_without_from_raises(tmp_path: Path) -> None:
    with pytest.raises(DockerfileError, match="has no FROM instruction"):
        read_final_stage(write(tmp_path, "COPY app.py /var/task/\n"))


def test_copy_without_destination_raises(tmp_path: Path) -> None:
    with pytest.raises(DockerfileError, match="line 2: COPY needs at least one source"):
        read_final_stage(write(tmp_path, "FROM base\nCOPY app.py\n"))
