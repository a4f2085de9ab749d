"""DVC projects: a registry whose artifacts are declared in 200 ``dvc.yaml`` files.

Two registries with the same 25,000 tags (50 tagged artifacts x 50 versions x
10 tags, as ``generate.py`` shapes them) and the same 200 declared artifacts:

* ``dvc``: each artifact declared in ``projects/pNNN/dvc.yaml`` (named
  ``projects/pNNN:model``) next to a ``dvc.lock``, a ``.dvc/config`` at the root,
  plus 50 unrelated source folders, so the reader has a real tree to walk;
* ``yaml``: the same names in one ``artifacts.yaml`` at the root, no DVC files.

Each row is a whole process: ``cold`` removes every ``gto_dulwich-*.json``
cache from the git directory before each run (tags, annotations, walked trees,
state); ``warm`` keeps what the warm-up run stored.

Usage: ``python bench/dvc.py [--runs 5] [--tags 25000]``; writes
``bench/RESULTS-dvc.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree
from dulwich.repo import Repo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import BASE_TIME, IDENTITY, STAGES, Shape, _tag
from run import REPOS, gto_command, measure

ROOT = Path(__file__).resolve().parent
PROJECTS = 200
SOURCE_DIRS = 50
NAME = "projects/p007:model"


def _tree(files: dict[str, bytes], objects: list[ShaFile]) -> ObjectID:
    """A tree (and its subtrees and blobs) for ``{path: content}``."""
    nested: dict[str, object] = {}
    for path, content in files.items():
        node = nested
        *dirs, leaf = path.split("/")
        for part in dirs:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[leaf] = content

    def build(node: dict[str, object]) -> ObjectID:
        tree = Tree()
        for name, value in node.items():
            if isinstance(value, dict):
                tree.add(name.encode(), 0o040000, build(value))
            else:
                assert isinstance(value, bytes)
                blob = Blob.from_string(value)
                objects.append(blob)
                tree.add(name.encode(), 0o100644, blob.id)
        objects.append(tree)
        return tree.id

    return build(nested)


def generate(dest: Path, tags: int, *, dvc: bool) -> None:
    shape = Shape.for_tags(tags)
    repo = Repo.init(str(dest), mkdir=True)
    objects: list[ShaFile] = []
    refs: dict[bytes, tuple[bytes, bytes | None]] = {}
    base: dict[str, bytes] = {}
    for d in range(SOURCE_DIRS):
        for f in range(5):
            base[f"src/pkg{d}/mod{f}.py"] = f"# module {d}.{f}\n".encode()
    names = [f"projects/p{p:03}:model" for p in range(PROJECTS)]
    if dvc:
        base[".dvc/config"] = b"[core]\n    remote = storage\n['remote \"storage\"']\n"
        base[".dvc/config"] += b"    url = s3://bench-bucket/dvc\n"
        base[".dvcignore"] = b"# nothing ignored\n"
        for p in range(PROJECTS):
            folder = f"projects/p{p:03}"
            base[f"{folder}/dvc.yaml"] = (
                "stages:\n  train:\n    cmd: python train.py\n    outs:\n    - model.pkl\n"
                "artifacts:\n  model:\n    path: model.pkl\n    type: model\n"
                f"    desc: Model {p}\n    labels: [bench]\n"
            ).encode()
            base[f"{folder}/dvc.lock"] = (
                "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    outs:\n"
                f"    - path: model.pkl\n      hash: md5\n      md5: {p:032x}\n      size: 1\n"
            ).encode()
            base[f"{folder}/train.py"] = b"print('train')\n"
    else:
        base["artifacts.yaml"] = "".join(
            f"{name}:\n  type: model\n  path: projects/p{p:03}/model.pkl\n"
            f"  description: Model {p}\n  labels: [bench]\n"
            for p, name in enumerate(names)
        ).encode()
        for p in range(PROJECTS):
            base[f"projects/p{p:03}/train.py"] = b"print('train')\n"

    parent: ObjectID | None = None
    commits: list[Commit] = []
    for number in range(shape.versions):
        tree = _tree({**base, "weights.bin": f"weights {number}\n".encode()}, objects)
        commit = Commit()
        commit.tree = tree
        commit.parents = [parent] if parent else []
        commit.author = commit.committer = IDENTITY
        commit.author_time = commit.commit_time = BASE_TIME - 100_000 + number
        commit.author_timezone = commit.commit_timezone = 0
        commit.message = f"Train round {number}\n".encode()
        objects.append(commit)
        commits.append(commit)
        parent = commit.id

    clock = BASE_TIME
    for a in range(shape.artifacts):
        tag_name = names[a].replace(":", "=")
        counter = 0
        for v in range(shape.versions):
            version = f"v{v // 10}.{v % 10}.0"
            items = [(f"{tag_name}@{version}", "Registering")]
            for s in range(shape.stage_events):
                counter += 1
                stage = STAGES[s % len(STAGES)]
                items.append((f"{tag_name}#{stage}#{counter}", f"Stage {stage}"))
            for name, message in items:
                clock += 1
                tag = _tag(name, commits[v], clock, message)
                objects.append(tag)
                refs[b"refs/tags/" + name.encode()] = (tag.id, commits[v].id)
    unique = {obj.id: obj for obj in objects}
    repo.object_store.add_objects([(obj, None) for obj in unique.values()])
    refs[b"refs/heads/main"] = (commits[-1].id, None)
    lines = [b"# pack-refs with: peeled fully-peeled sorted \n"]
    for ref in sorted(refs):
        sha, peeled = refs[ref]
        lines.append(sha + b" " + ref + b"\n")
        if peeled is not None:
            lines.append(b"^" + peeled + b"\n")
    Path(repo.controldir(), "packed-refs").write_bytes(b"".join(lines))
    Path(repo.controldir(), "HEAD").write_bytes(b"ref: refs/heads/main\n")
    repo.close()


def _clear(repo: Path) -> None:
    for path in (repo / ".git").glob("gto_dulwich-*.json"):
        path.unlink()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tags", type=int, default=25_000)
    args = parser.parse_args(argv)
    env = {"GTO_EMOJIS": "false"}
    rows = [
        "| command | cache | artifacts.yaml | 200 dvc.yaml | dvc/yaml |",
        "|---|---|---|---|---|",
    ]
    repos = {}
    for variant in ("yaml", "dvc"):
        path = REPOS / f"dvc-bench-{variant}-{args.tags}"
        if not path.exists():
            REPOS.mkdir(exist_ok=True)
            generate(path, args.tags, dvc=variant == "dvc")
        repos[variant] = path
    commands = {
        "show --json": ["show", "--json"],
        f"show {NAME} --json": ["show", NAME, "--json"],
        f"describe {NAME}": ["describe", NAME],
        f"describe {NAME}@v4.9.0": ["describe", f"{NAME}@v4.9.0"],
    }
    for label, command in commands.items():
        for cache in ("cold", "warm"):
            cells = {}
            for variant, repo in repos.items():
                _clear(repo)
                before = (lambda _i, r=repo: _clear(r)) if cache == "cold" else None
                cells[variant] = measure(
                    [*gto_command(), *command], repo, args.runs, env, before=before
                )
            ratio = cells["dvc"].median / cells["yaml"].median
            rows.append(
                f"| `{label}` | {cache} | {cells['yaml'].cell()} | {cells['dvc'].cell()} "
                f"| {ratio:.2f} |"
            )
            print(rows[-1], flush=True)
    text = (
        f"# DVC projects: {args.tags:,} tags, 200 declared artifacts\n\n"
        "Generated by `python bench/dvc.py` (see its docstring for the two registries). "
        f"Median of {args.runs} fresh processes (min–max), peak RSS; `cold`: every "
        "gto_dulwich cache file removed before each run; `warm`: caches kept.\n\n"
        + "\n".join(rows)
        + "\n"
    )
    (ROOT / "RESULTS-dvc.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
