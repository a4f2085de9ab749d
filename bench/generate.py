"""Deterministic registry repositories for benchmarks, written with dulwich only.

``A`` artifacts, each with ``V`` versions on their own commits, ``S`` stage
assignments per version, plus deregistrations, unassignments, deprecations,
unrelated non-GTO tags and an ``artifacts.yaml``.  Objects go into one pack and
refs into a ``fully-peeled`` packed-refs file, as after ``git gc``; ``loose=True``
instead writes loose objects and loose refs, as right after many pushes.

Usage: ``python bench/generate.py DEST TAGS [--loose]``
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tag, Tree
from dulwich.repo import Repo

IDENTITY = b"Bench Bot <bench@example.com>"
BASE_TIME = 1_700_000_000
STAGES = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Shape:
    artifacts: int
    versions: int
    stage_events: int

    @classmethod
    def for_tags(cls, tags: int) -> Shape:
        """About ``tags`` tags: 10 tags per version (1 registration, 8 stage events,
        ~1 other), versions per artifact growing with size."""
        versions = 20 if tags <= 4_000 else 50
        artifacts = max(1, tags // (versions * 10))
        return cls(artifacts, versions, 8)


def _tag(name: str, target: Commit, when: int, message: str) -> Tag:
    tag = Tag()
    tag.name = name.encode()
    tag.object = (Commit, target.id)
    tag.tagger = IDENTITY
    tag.tag_time = when
    tag.tag_timezone = 0
    tag.message = message.encode() + b"\n"
    return tag


def generate(dest: Path, tags: int, *, loose: bool = False) -> int:
    """Build the repository; returns the number of tag refs written."""
    shape = Shape.for_tags(tags)
    repo = Repo.init(str(dest), mkdir=True)
    objects: list[ShaFile] = []
    refs: dict[bytes, tuple[bytes, bytes | None]] = {}
    clock = BASE_TIME

    index_lines = []
    for a in range(shape.artifacts):
        name = f"team{a % 7}/model-{a}"
        index_lines.append(f"{name}:\n  type: model\n  path: models/{a}.pkl\n  virtual: false\n")
    index_blob = Blob.from_string("".join(index_lines).encode())
    objects.append(index_blob)

    parent: ObjectID | None = None
    commits: list[Commit] = []
    for number in range(shape.versions):
        blob = Blob.from_string(f"weights {number}\n".encode())
        tree = Tree()
        tree.add(b"artifacts.yaml", 0o100644, index_blob.id)
        tree.add(b"weights.bin", 0o100644, blob.id)
        commit = Commit()
        commit.tree = tree.id
        commit.parents = [parent] if parent else []
        commit.author = commit.committer = IDENTITY
        commit.author_time = commit.commit_time = BASE_TIME - 100_000 + number
        commit.author_timezone = commit.commit_timezone = 0
        commit.message = f"Train round {number}\n".encode()
        objects.extend([blob, tree, commit])
        commits.append(commit)
        parent = commit.id

    def add(name: str, target: Commit, message: str) -> None:
        nonlocal clock
        clock += 1
        tag = _tag(name, target, clock, message)
        objects.append(tag)
        refs[b"refs/tags/" + name.encode()] = (tag.id, target.id)

    for a in range(shape.artifacts):
        name = f"team{a % 7}/model-{a}"
        counter = 0
        for v in range(shape.versions):
            version = f"v{v // 10}.{v % 10}.0"
            add(f"{name}@{version}", commits[v], f"Registering {name} {version}")
            for s in range(shape.stage_events):
                counter += 1
                stage = STAGES[s % len(STAGES)]
                unassign = s == shape.stage_events - 1 and v % 4 == 0
                suffix = "!" if unassign else ""
                add(f"{name}#{stage}{suffix}#{counter}", commits[v], f"Stage {stage}")
            if v % 10 == 9:
                add(f"{name}@{version}!", commits[v], "Deregistering")
            else:
                # An unrelated release tag, as real repositories have.
                refs[f"refs/tags/release-{a}-{v}".encode()] = (commits[v].id, None)
        if a % 25 == 24:
            add(f"{name}@deprecated", commits[-1], "Deprecating")

    head = commits[-1].id
    if loose:
        for obj in objects:
            repo.object_store.add_object(obj)
        for ref, (sha, _peeled) in refs.items():
            path = Path(repo.controldir(), *ref.decode().split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(sha + b"\n")
        Path(repo.controldir(), "refs", "heads", "main").write_bytes(head + b"\n")
    else:
        repo.object_store.add_objects([(obj, None) for obj in objects])
        refs[b"refs/heads/main"] = (head, None)
        lines = [b"# pack-refs with: peeled fully-peeled sorted \n"]
        for ref in sorted(refs):
            sha, peeled = refs[ref]
            lines.append(sha + b" " + ref + b"\n")
            if peeled is not None:
                lines.append(b"^" + peeled + b"\n")
        Path(repo.controldir(), "packed-refs").write_bytes(b"".join(lines))
    Path(repo.controldir(), "HEAD").write_bytes(b"ref: refs/heads/main\n")
    with open(os.path.join(repo.controldir(), "config"), "a") as config:
        config.write("[user]\n\tname = Bench Bot\n\temail = bench@example.com\n")
    repo.close()
    return len(refs)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dest", type=Path)
    parser.add_argument("tags", type=int)
    parser.add_argument("--loose", action="store_true")
    args = parser.parse_args(argv)
    count = generate(args.dest, args.tags, loose=args.loose)
    print(f"{args.dest}: {count} tags")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
