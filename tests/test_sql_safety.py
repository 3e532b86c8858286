"""No user string reaches SQL text: every SQL a store executes is built from constants.

This reads the source of every otelite package and checks the first argument of each
execute/executemany/executescript/query call: a string literal, a module-level
constant (UPPER_CASE) or a local variable that is itself built only from literals and
constants, an f-string / concatenation of those, or `A if cond else B` of those (the
condition picks between constant texts, it never reaches the SQL). Values go in as `?` parameters. A line that must
build SQL from something else says why on the line with `# sql-safe: <reason>`; the
reasons are listed in docs/security.md.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL_CALLS = {"execute", "executemany", "executescript", "query", "execute_returning_dicts"}
MARK = "# sql-safe:"


# Each part of the one import name and its folder (pyproject.toml's package-dir).
FOLDERS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def package_files() -> list[Path]:
    """Every module of the packages pyproject.toml ships (each folder it maps, with its subpackages)."""
    return sorted(p for folder in FOLDERS.values() for p in (ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    """The import name of a module file: `store/sqlite.py` is `otelite.store.sqlite`."""
    folder = path.relative_to(ROOT).parts[0]
    package = next(name for name, mapped in FOLDERS.items() if mapped == folder)
    rest = path.relative_to(ROOT / folder).with_suffix("").parts
    return ".".join([package, *rest]).removesuffix(".__init__")


def all_constants(files: list[Path]) -> dict[Path, set[str]]:
    """Per file: the names it may use as constant SQL, its own and those it imports
    (`from m import NAME`, or `from pkg import m as alias` giving `alias.NAME`)."""
    trees = {path: ast.parse(path.read_text()) for path in files}
    by_module = {module_name(path): set() for path in files}
    constants: dict[Path, set[str]] = {path: set() for path in files}
    changed = True
    while changed:
        changed = False
        for path, tree in trees.items():
            found = module_constants(tree, imported_constants(tree, by_module))
            if found != constants[path]:
                constants[path] = found
                by_module[module_name(path)] = {n for n in found if "." not in n}
                changed = True
    return constants


def imported_constants(tree: ast.Module, by_module: dict[str, set[str]]) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                local = alias.asname or alias.name
                if alias.name in by_module.get(node.module, set()):
                    names.add(local)
                for constant in by_module.get(f"{node.module}.{alias.name}", set()):
                    names.add(f"{local}.{constant}")
    return names


def module_constants(tree: ast.Module, imported: set[str] = frozenset()) -> set[str]:  # type: ignore[assignment]
    """UPPER_CASE module-level names whose value is built only from constants."""
    constants: set[str] = set(imported)
    changed = True
    while changed:
        changed = False
        for node in tree.body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            value = getattr(node, "value", None)
            for target in targets:
                if (
                    isinstance(target, ast.Name)
                    and target.id.isupper()
                    and target.id not in constants
                    and value is not None
                    and is_constant(value, constants)
                ):
                    constants.add(target.id)
                    changed = True
    return constants


def is_constant(node: ast.AST, constants: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, int))
    if isinstance(node, ast.Name):
        return node.id in constants
    if isinstance(node, ast.JoinedStr):
        return all(
            is_constant(part.value if isinstance(part, ast.FormattedValue) else part, constants) for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return is_constant(node.left, constants) and is_constant(node.right, constants)
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(is_constant(e, constants) for e in node.elts)
    if isinstance(node, ast.IfExp):
        return is_constant(node.body, constants) and is_constant(node.orelse, constants)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}" in constants
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
        # "...{x}...".format(<constants>) and "sep".join(<constant list>)
        return is_constant(node.func.value, constants) and all(
            is_constant(arg, constants) for arg in [*node.args, *(k.value for k in node.keywords)]
        )
    return False


def local_constants(function: ast.AST, constants: set[str]) -> set[str]:
    """Names usable as constant SQL inside `function`: module constants it does not
    shadow, plus locals every assignment of which is a constant expression."""
    assigned: dict[str, list[ast.AST | None]] = {}  # None: a value we cannot judge

    def unknown(target: ast.AST) -> None:
        for name in ast.walk(target):
            if isinstance(name, ast.Name):
                assigned.setdefault(name.id, []).append(None)

    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
                else:
                    unknown(target)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name):
            assigned.setdefault(node.target.id, []).append(node.value)
        elif isinstance(node, (ast.For, ast.AsyncFor)) and isinstance(node.target, ast.Name):
            # `for statement in CONSTANT_LIST`: each element of a constant is constant.
            assigned.setdefault(node.target.id, []).append(node.iter)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.attr in ("append", "extend")
        ):
            # A list built up piece by piece: constant while every piece is.
            for arg in node.args:
                assigned.setdefault(node.func.value.id, []).append(arg)
        elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor, ast.comprehension)):
            unknown(node.target)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            unknown(node.optional_vars)
        elif isinstance(node, ast.arg):
            assigned.setdefault(node.arg, []).append(None)
    local = set(constants) - set(assigned)
    changed = True
    while changed:
        changed = False
        for name, values in assigned.items():
            if name not in local and all(v is not None and is_constant(v, local) for v in values):
                local.add(name)
                changed = True
    return local


def dynamic_sql_calls(path: Path, constants: set[str] | None = None) -> list[str]:
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    constants = module_constants(tree) if constants is None else constants
    scope_of: dict[ast.AST, set[str]] = {}
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local = local_constants(function, constants)
            for node in ast.walk(function):
                scope_of[node] = local  # walk is outer-first: the innermost function wins
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS):
            continue
        if not node.args or is_constant(node.args[0], scope_of.get(node, constants)):
            continue
        call_lines = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
        marked = [line.split(MARK, 1)[1].strip() for line in call_lines if MARK in line]
        if marked and marked[0]:
            continue
        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def test_every_sql_statement_is_constant_text_with_parameters():
    files = package_files()
    assert any(p.name == "sqlite.py" for p in files)
    constants = all_constants(files)
    offenders = [hit for path in files for hit in dynamic_sql_calls(path, constants[path])]
    assert offenders == [], "SQL built from non-constant values (use ? parameters or explain with # sql-safe:)"


def test_the_checker_catches_formatted_sql(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'TABLE = "spans"\n'
        'SAFE = f"SELECT * FROM {TABLE} WHERE project_id = ?"\n'
        "def f(conn, project, name):\n"
        "    conn.execute(SAFE, (project,))\n"
        "    conn.execute(f\"SELECT * FROM spans WHERE project_id = '{project}'\")\n"
        "    conn.execute(\"SELECT * FROM spans WHERE name = '%s'\" % name)\n"
        '    conn.execute("SELECT * FROM {}".format(name))\n'
        '    conn.execute("SELECT " + name)\n'
        '    conn.execute(f"PRAGMA x = {name}")  # sql-safe: checked above\n'
        "    sql = f\"SELECT 1 {'WHERE a = ?' if project else ''}\"\n"
        "    conn.execute(sql, (project,))\n"
        '    other = "SELECT 1"\n'
        "    other = name\n"
        "    conn.execute(other)\n"
        "    conn.execute(project)\n"
        '    where = ["a = ?"]\n'
        "    where.append(name)\n"
        '    conn.execute(" AND ".join(where))\n'
        '    for statement in (SAFE, "SELECT 2"):\n'
        "        conn.execute(statement)\n"
        '    conn.execute("SELECT * FROM {}".format(TABLE))\n'
    )
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        hits = dynamic_sql_calls(sample)
    finally:
        ROOT = old
    assert [h.split(":")[1] for h in hits] == ["5", "6", "7", "8", "14", "15", "18"]
