"""Markdown files of a help-center folder, as pure text: paths, front matter, titles and image links.

Shared by the import (``lib/help_center_sync``) and the export (``lib/help_center_export``), so a
folder exported and imported again lands on the same collections and articles. Paths are always
relative, ``/``-separated, without ``.`` or ``..`` segments (a path that tries to climb out of the
folder is refused).
"""

import json
import re
from datetime import UTC, datetime

from .article_assets import ASSET_REFERENCE, REFERENCE_PREFIX
from .errors import INVALID_INPUT, fail

MARKDOWN_FILE = re.compile(r"\.md(?:own)?$", re.IGNORECASE)
IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|webp|avif)$", re.IGNORECASE)
UNCATEGORIZED = "uncategorized"
_UNCATEGORIZED_ALIASES = {UNCATEGORIZED, "uncategorised"}
_MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]+)\)")
_HTML_IMAGE = re.compile(r"""<img\b([^>]*?)\bsrc=(["'])([^"']+)\2([^>]*)>""", re.IGNORECASE)
_EXTERNAL = ("http://", "https://", "data:", "javascript:", "vbscript:", "//", "#")
_HEADING = re.compile(r"^\s*#\s+(.+)$", re.MULTILINE)


# --- paths ----------------------------------------------------------------------------------------
def normalize_path(path: str) -> str:
    """``path`` with ``\\`` as ``/`` and no empty, leading or trailing segments; INVALID_INPUT on ``.``/``..``."""
    segments = [segment for segment in path.replace("\\", "/").strip().split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        fail(INVALID_INPUT, f'Invalid relative path segment in "{path}"')
    return "/".join(segments)


def parent_path(path: str) -> str | None:
    """The folder holding ``path`` (None at the top)."""
    return path.rsplit("/", 1)[0] if "/" in path else None


def file_name(path: str) -> str:
    """The last segment of ``path``."""
    return path.rsplit("/", 1)[-1]


def depth(path: str) -> int:
    """How many segments ``path`` has."""
    return path.count("/") + 1


def with_parents(path: str) -> list[str]:
    """``a/b/c`` → ``[a/b/c, a/b, a]``."""
    paths = []
    cursor: str | None = path
    while cursor:
        paths.append(cursor)
        cursor = parent_path(cursor)
    return paths


def common_root_folder(paths: list[str]) -> str | None:
    """The one top folder every path is inside (a folder picked in the browser), else None."""
    if not paths or not all("/" in path for path in paths):
        return None
    tops = {path.split("/", 1)[0] for path in paths}
    return tops.pop() if len(tops) == 1 else None


def source_key(text: str) -> str:
    """A stable key for an import source: lower case, runs of other characters as one dash."""
    return re.sub(r"[^a-z0-9:_-]+", "-", text.strip().lower()).strip("-")


def sanitize_segment(name: str) -> str:
    """A collection or article name as a portable lower-case path segment."""
    cleaned = re.sub(r'[<>:"/\\|?*]+', "-", name.strip())
    cleaned = re.sub(r"[\x00-\x1f]", "-", cleaned)
    return re.sub(r"-+", "-", re.sub(r"\s+", "-", cleaned)).strip("-").lower()


def dedupe(path: str, used: set[str]) -> str:
    """``path``, or ``<stem>-2<ext>``, ``-3``, … whichever is not in ``used`` (which then holds it)."""
    stem, dot, extension = path.rpartition(".") if "." in file_name(path) else (path, "", "")
    candidate, attempt = path, 2
    while candidate in used:
        candidate, attempt = f"{stem}-{attempt}{dot}{extension}", attempt + 1
    used.add(candidate)
    return candidate


def relative_path(from_file: str, to_path: str) -> str:
    """The relative link from the file ``from_file`` to ``to_path``."""
    folder = parent_path(from_file)
    here = folder.split("/") if folder else []
    there = to_path.split("/")
    shared = 0
    while shared < min(len(here), len(there)) and here[shared] == there[shared]:
        shared += 1
    return "/".join([".."] * (len(here) - shared) + there[shared:]) or "."


# --- names and front matter ----------------------------------------------------------------------
def humanize(raw: str) -> str:
    """``getting-started_guide`` → ``Getting Started Guide``."""
    words = [word[0].upper() + word[1:] for word in re.split(r"[-_\s]+", raw) if word]
    return " ".join(words) or "Untitled"


def without_markdown_extension(name: str) -> str:
    """``guide.md`` → ``guide``."""
    return MARKDOWN_FILE.sub("", name)


def infer_title(path: str, body: str) -> str:
    """The first ``# heading`` of the body, else the humanized file name."""
    heading = _HEADING.search(body)
    return heading.group(1).strip() if heading else humanize(without_markdown_extension(file_name(path)))


def _front_matter_value(raw: str) -> str:
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
            return decoded if isinstance(decoded, str) else value[1:-1]
        except ValueError:
            return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def parse_markdown(content: str) -> dict:
    """``{body, title?, slug?, collectionPath?}`` from a file with optional ``---`` front matter.

    ``collectionPath`` is absent when the front matter does not name one, and None when it names
    no collection (empty or "uncategorized").
    """
    text = content.removeprefix("\ufeff")
    lines = re.split(r"\r?\n", text)
    end = next((index for index in range(1, len(lines)) if lines[index].strip() == "---"), None)
    if len(lines) < 3 or lines[0].strip() != "---" or end is None:
        return {"body": text}
    entries: dict[str, str] = {}
    for line in lines[1:end]:
        key, separator, value = line.strip().partition(":")
        if separator and key and not line.strip().startswith("#"):
            entries[key.strip().lower()] = _front_matter_value(value)
    parsed: dict = {"body": re.sub(r"^\s*\n", "", "\n".join(lines[end + 1 :]), count=1)}
    if title := entries.get("title", "").strip():
        parsed["title"] = title
    if slug := source_key(entries.get("slug", "")):
        parsed["slug"] = slug
    if "collectionpath" in entries:
        named = normalize_path(entries["collectionpath"])
        parsed["collectionPath"] = None if not named or named.lower() in _UNCATEGORIZED_ALIASES else named
    return parsed


def collection_path_of(path: str, parsed: dict) -> str | None:
    """Where a file's article belongs: the front matter's collection path, else the file's folder."""
    return parsed["collectionPath"] if "collectionPath" in parsed else parent_path(path)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def front_matter(
    title: str,
    slug: str,
    status: str,
    updated_at: float,
    collection_path: str | None,
    source_name: str | None,
    body: str,
) -> str:
    """An exported article: YAML front matter the import reads back, then the body."""
    stamp = datetime.fromtimestamp(updated_at / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    lines = [
        "---",
        f"title: {_quoted(title)}",
        f"slug: {_quoted(slug)}",
        f"status: {status}",
        f"updatedAt: {_quoted(stamp)}",
    ]
    if collection_path:
        lines.append(f"collectionPath: {_quoted(collection_path)}")
    if source_name:
        lines.append(f"source: {_quoted(source_name)}")
    return "\n".join([*lines, "---", "", body])


# --- image links -------------------------------------------------------------------------------
def _resolve(markdown_path: str, link: str) -> str | None:
    """The folder path an image link points at, or None (external, or climbing out of the folder)."""
    target = link.strip().replace("\\", "/").removeprefix("<").removesuffix(">")
    if not target or target.lower().startswith(_EXTERNAL):
        return None
    target = target.split("#")[0].split("?")[0]
    folder = parent_path(markdown_path)
    resolved = folder.split("/") if folder else []
    for segment in (segment for segment in target.split("/") if segment and segment != "."):
        if segment == "..":
            if not resolved:
                return None
            resolved.pop()
        else:
            resolved.append(segment)
    return "/".join(resolved) or None


def link_images(body: str, markdown_path: str, reference_by_path: dict[str, str]) -> tuple[str, list[str]]:
    """The body with local image links (Markdown and ``<img>``) replaced by asset references.

    Returns the new body and ``"<file>: <link>"`` for each local image link without an uploaded image.
    """
    unresolved: set[str] = set()

    def swap(link: str) -> str | None:
        if link.startswith(REFERENCE_PREFIX) or link.strip().lower().startswith(_EXTERNAL):
            return None
        reference = reference_by_path.get(_resolve(markdown_path, link) or "")
        if reference is None:
            unresolved.add(f"{markdown_path}: {link}")
        return reference

    def markdown_image(match: re.Match) -> str:
        target = match.group(2).strip()
        angled = target.startswith("<") and ">" in target[1:]
        link, rest = (
            (target[1 : target.index(">")], target[target.index(">") + 1 :].strip())
            if angled
            else (target.split()[0], " ".join(target.split()[1:]))
        )
        reference = swap(link) if link else None
        if reference is None:
            return match.group(0)
        new_target = (f"<{reference}>" if angled else reference) + (f" {rest}" if rest else "")
        return f"![{match.group(1)}]({new_target})"

    def html_image(match: re.Match) -> str:
        reference = swap(match.group(3))
        if reference is None:
            return match.group(0)
        return f"<img{match.group(1)}src={match.group(2)}{reference}{match.group(2)}{match.group(4)}>"

    linked = _HTML_IMAGE.sub(html_image, _MARKDOWN_IMAGE.sub(markdown_image, body))
    return linked, sorted(unresolved)


def portable_links(body: str, markdown_path: str, path_by_asset: dict[str, str]) -> str:
    """The body with asset references replaced by relative links to the exported image files."""
    return ASSET_REFERENCE.sub(
        lambda match: (
            relative_path(markdown_path, path_by_asset[match.group(1)])
            if match.group(1) in path_by_asset
            else match.group(0)
        ),
        body,
    )
