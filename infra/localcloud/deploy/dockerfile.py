"""Read what a Dockerfile's final stage copies from the build context, and its CMD.

This is not a Dockerfile interpreter: it reads only FROM, ARG, ENV, WORKDIR, COPY, ADD and
CMD, which is enough to find where a Lambda image's Python code comes from. RUN steps are
skipped, so files they create are unknown.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Variables that the AWS Lambda base images (public.ecr.aws/lambda/...) set with ENV. Their
# WORKDIR is LAMBDA_TASK_ROOT.
LAMBDA_TASK_ROOT = "/var/task"
LAMBDA_BASE_ENVIRONMENT = {
    "LAMBDA_TASK_ROOT": LAMBDA_TASK_ROOT,
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
}
COPY_INSTRUCTIONS = ("COPY", "ADD")
# ${NAME}, ${NAME:-word}, ${NAME:+word} and $NAME, as Docker substitutes them.
VARIABLE_PATTERN = re.compile(
    r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:[-+])(?P<word>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
ADD_REMOTE_PREFIXES = ("http://", "https://", "git@")


class DockerfileError(ValueError):
    """The Dockerfile is missing or has an instruction that cannot be read."""


@dataclass(frozen=True)
class CopyStep:
    """One COPY or ADD of files from the build context into the image."""

    # Paths relative to the build context, variables substituted, as written (may hold *).
    sources: tuple[str, ...]
    # Absolute path in the image. A trailing "/" means a folder, as Docker reads it.
    destination: str
    line_number: int


@dataclass(frozen=True)
class FinalStage:
    """The last stage of a Dockerfile: the image that Lambda runs."""

    base_image: str
    copies: tuple[CopyStep, ...]
    # CMD in exec form (a JSON list); None when the Dockerfile has no CMD or the shell form.
    command: tuple[str, ...] | None


def read_final_stage(path: Path, build_args: Mapping[str, str] = {}) -> FinalStage:
    """Return the base image, the copies from the build context and the CMD of the last stage.

    build_args are the values of ARG instructions, as `docker build --build-arg` passes
    them. Copies from another stage (COPY --from) and ADD of a URL are left out, because
    their files do not come from the build context. Raises DockerfileError naming the line.
    """
    if not path.is_file():
        raise DockerfileError(f"Dockerfile {path} not found")
    global_args: dict[str, str] = {}
    stage: _Stage | None = None
    for line_number, instruction, arguments in _instructions(path.read_text()):
        if instruction == "FROM":
            # FROM [--platform=...] IMAGE [AS NAME]
            words = [word for word in arguments.split() if not word.startswith("--")]
            if not words:
                raise DockerfileError(f"{path}, line {line_number}: FROM names no image")
            stage = _Stage(base_image=_substitute(words[0], global_args))
        elif instruction == "ARG":
            name, default = _split_assignment(arguments)
            if stage is None:
                global_args[name] = build_args.get(name, default or "")
            else:
                inherited = default if default is not None else global_args.get(name, "")
                stage.variables[name] = build_args.get(name, inherited)
        elif stage is None:
            continue
        elif instruction == "ENV":
            for name, value in _env_assignments(arguments, path, line_number):
                stage.variables[name] = _substitute(value, stage.variables)
        elif instruction == "WORKDIR":
            stage.workdir = posixpath.join(stage.workdir, _substitute(arguments, stage.variables))
        elif instruction in COPY_INSTRUCTIONS:
            step = _copy_step(path, line_number, instruction, arguments, stage)
            if step is not None:
                stage.copies.append(step)
        elif instruction == "CMD":
            stage.command = _exec_form(arguments)
    if stage is None:
        raise DockerfileError(f"Dockerfile {path} has no FROM instruction")
    return FinalStage(stage.base_image, tuple(stage.copies), stage.command)


class _Stage:
    def __init__(self, base_image: str) -> None:
        self.base_image = base_image
        self.variables: dict[str, str] = dict(LAMBDA_BASE_ENVIRONMENT)
        self.workdir = LAMBDA_TASK_ROOT
        self.copies: list[CopyStep] = []
        self.command: tuple[str, ...] | None = None


def _instructions(text: str) -> list[tuple[int, str, str]]:
    """Split the text into (line number, INSTRUCTION, arguments), joining continued lines."""
    instructions = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not pending:
            start = number
        continued = line.endswith("\\")
        pending.append(line[:-1].strip() if continued else line)
        if continued:
            continue
        joined = " ".join(part for part in pending if part)
        pending = []
        instruction, _, arguments = joined.partition(" ")
        instructions.append((start, instruction.upper(), arguments.strip()))
    return instructions


def _substitute(text: str, variables: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        value = variables.get(name, "")
        operator = match.group("operator")
        if operator == ":-":
            return value or match.group("word")
        if operator == ":+":
            return match.group("word") if value else ""
        return value

    return VARIABLE_PATTERN.sub(replace, text)


def _split_assignment(text: str) -> tuple[str, str | None]:
    name, separator, value = text.partition("=")
    return name.strip(), _unquote(value.strip()) if separator else None


def _env_assignments(text: str, path: Path, line_number: int) -> list[tuple[str, str]]:
    if "=" not in text.split(maxsplit=1)[0]:
        # The legacy form: ENV NAME value with spaces.
        name, _, value = text.partition(" ")
        return [(name, value.strip())]
    assignments = []
    for token in re.findall(r'(?:[^\s"\']+|"[^"]*"|\'[^\']*\')+', text):
        name, separator, value = token.partition("=")
        if not separator:
            raise DockerfileError(f"{path}, line {line_number}: ENV {token!r} has no '='")
        assignments.append((name, _unquote(value)))
    return assignments


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _copy_step(
    path: Path, line_number: int, instruction: str, arguments: str, stage: _Stage
) -> CopyStep | None:
    words = arguments.split()
    flags = [word for word in words if word.startswith("--")]
    if any(flag.startswith("--from=") for flag in flags):
        return None
    rest = arguments
    for flag in flags:
        rest = rest.replace(flag, "", 1)
    rest = rest.strip()
    parts = _exec_form(rest) if rest.startswith("[") else tuple(rest.split())
    if parts is None or len(parts) < 2:
        raise DockerfileError(
            f"{path}, line {line_number}: {instruction} needs at least one source and a "
            f"destination, got {arguments!r}"
        )
    sources = tuple(_substitute(source, stage.variables) for source in parts[:-1])
    if instruction == "ADD" and any(source.startswith(ADD_REMOTE_PREFIXES) for source in sources):
        return None
    destination = _substitute(parts[-1], stage.variables)
    # "dir/", "." and "dir/." name a folder, into which Docker copies a file by its name.
    is_folder = destination.endswith(("/", "/.")) or destination in (".", "..")
    destination = posixpath.normpath(posixpath.join(stage.workdir, destination))
    if is_folder and destination != "/":
        destination += "/"
    return CopyStep(sources, destination, line_number)


def _exec_form(text: str) -> tuple[str, ...] | None:
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None
    return tuple(value)
