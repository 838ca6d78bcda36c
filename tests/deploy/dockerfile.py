"""A small reader of the project's Dockerfile and .dockerignore: build stages with their instructions (line
continuations joined, comments and parser directives dropped), and the build context the allowlist keeps."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.stack import PROJECT_DIR


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form ENTRYPOINT, CMD or HEALTHCHECK CMD."""
        text = self.args.split("CMD", 1)[1] if self.keyword == "HEALTHCHECK" else self.args
        return list(json.loads(text))


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        """ENV values in order, each ``KEY=value`` pair with quotes removed (values stay unexpanded)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', instruction.args):
                values[key] = value.strip('"')
        return values


def instructions(path: Path = PROJECT_DIR / "Dockerfile") -> list[Instruction]:
    joined: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        joined.append(pending + line.strip())
        pending = ""
    return [Instruction(*(text.split(None, 1) + [""])[:2]) for text in joined]


def stages(path: Path = PROJECT_DIR / "Dockerfile") -> list[Stage]:
    found: list[Stage] = []
    for instruction in instructions(path):
        if instruction.keyword.upper() == "FROM":
            words = instruction.args.split()
            found.append(Stage(words[0], words[2] if len(words) > 2 and words[1].upper() == "AS" else None))
        else:
            found[-1].instructions.append(Instruction(instruction.keyword.upper(), instruction.args))
    return found


def dockerignore(path: Path = PROJECT_DIR / ".dockerignore") -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def copy_build_context(target: Path) -> None:
    """Copy what the allowlist .dockerignore (``*``, then ``!path`` lines, then exclusions) lets into the build."""
    patterns = dockerignore()
    assert patterns[0] == "*", "the .dockerignore is an allowlist: everything out, then what the image needs"
    kept = [p[1:] for p in patterns[1:] if p.startswith("!")]
    dropped = [p.removeprefix("**/") for p in patterns[1:] if not p.startswith("!")]
    for relative in kept:
        source, destination = PROJECT_DIR / relative, target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=shutil.ignore_patterns(*dropped))
        else:
            shutil.copy2(source, destination)
