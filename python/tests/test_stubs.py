"""The stub (modsynclog/__init__.pyi) must describe exactly what the module exports."""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

import modsynclog

STUB = Path(modsynclog.__file__).with_name("__init__.pyi")


def stub_api() -> tuple[set[str], dict[str, set[str]]]:
    tree = ast.parse(STUB.read_text())
    names: set[str] = set()
    classes: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            members = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            classes[node.name] = members
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    # private helpers of the stub (type aliases) are not API
    return {n for n in names if not n.startswith("_") or n == "__version__"}, classes


def module_api() -> set[str]:
    public = {n for n in dir(modsynclog) if not n.startswith("_")}
    public -= {"annotations"}
    return public | {"__version__"}


def test_module_names_match_stub() -> None:
    names, _ = stub_api()
    module = module_api()
    assert names == module, f"only in the stub: {names - module}; only in the module: {module - names}"
    assert set(modsynclog.__all__) | {"__version__"} == module


def inherited(cls: type) -> set[str]:
    out: set[str] = set()
    for base in cls.__mro__[1:]:
        if base.__module__ == "builtins":
            out |= set(dir(base))
    return out


def test_class_members_match_stub() -> None:
    _, classes = stub_api()
    for name, stub_members in classes.items():
        cls = getattr(modsynclog, name)
        own = {m for m in dir(cls) if not m.startswith("_")} - inherited(cls)
        if issubclass(cls, BaseException):
            # `code` is declared on Error and inherited by the subclasses
            own -= {"code"} if name != "Error" else set()
        public_stub = {m for m in stub_members if not m.startswith("_")}
        assert public_stub == own, f"{name}: only in the stub {public_stub - own}; only in the module {own - public_stub}"
        for dunder in (m for m in stub_members if m.startswith("__")):
            assert hasattr(cls, dunder), f"{name}.{dunder} is in the stub but not in the module"
        if name == "Error" or issubclass(cls, BaseException):
            continue
        # dunders the class defines itself must be in the stub
        defined = {m for m in vars(cls) if m.startswith("__") and m.endswith("__")} - {
            "__new__", "__doc__", "__module__", "__dict__", "__weakref__", "__init__", "__hash__",
            "__getattribute__", "__setattr__", "__delattr__",
        }
        missing = defined - stub_members
        assert not missing, f"{name}: {missing} not in the stub"


def test_exception_bases_match_stub() -> None:
    tree = ast.parse(STUB.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.bases:
            cls = getattr(modsynclog, node.name)
            want = [ast.unparse(b) for b in node.bases]
            got = [b.__name__ if b.__module__ != "builtins" or b is Exception else f"builtins.{b.__name__}" for b in cls.__bases__]
            assert got == want, f"{node.name}: stub bases {want}, module bases {got}"


def test_function_signatures_match_stub() -> None:
    tree = ast.parse(STUB.read_text())

    def params(fn: ast.FunctionDef) -> list[str]:
        a = fn.args
        out = [p.arg for p in a.posonlyargs + a.args]
        out += [p.arg for p in a.kwonlyargs]
        return [p for p in out if p != "self"]

    for node in tree.body:
        targets = []
        if isinstance(node, ast.FunctionDef):
            targets.append((getattr(modsynclog, node.name), node))
        elif isinstance(node, ast.ClassDef):
            cls = getattr(modsynclog, node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("__") or (
                    isinstance(item, ast.FunctionDef) and item.name == "__init__"
                ):
                    if any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list):
                        continue
                    obj = cls if item.name == "__init__" else getattr(cls, item.name)
                    targets.append((obj, item))
        for obj, fn in targets:
            try:
                sig = inspect.signature(obj)
            except (TypeError, ValueError):
                continue
            got = [p for p in sig.parameters if p not in ("self", "args", "kwargs")]
            assert got == params(fn), f"{fn.name}: module {got}, stub {params(fn)}"


def test_builtins_untouched() -> None:
    assert builtins.TimeoutError.__module__ == "builtins"


def test_exception_docs_match_stub() -> None:
    # The kinds' classes of the stub are generated from the core's list, with the
    # docstrings the module gives them (see python/src/error.rs).
    tree = ast.parse(STUB.read_text())
    kinds = 0
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name != "Error" and node.name.endswith("Error"):
            cls = getattr(modsynclog, node.name)
            assert cls.__doc__ == ast.get_docstring(node), f"{node.name}: module {cls.__doc__!r}"
            assert cls.__doc__.endswith(f" Code {cls.code}.")
            kinds += 1
    assert kinds == len([c for c in vars(modsynclog).values() if isinstance(c, type) and issubclass(c, modsynclog.Error)]) - 1
