"""The optional peers of benchmarks/run.py: other ways to turn the same run dict into an object.

Every peer is optional. ``load()`` imports what is installed and returns a ``Peers`` object
whose attributes are None for what is missing; nothing here ever raises ImportError.

The models mirror ThreadRun's 19 known fields with the same types (``Optional[Any]`` where
ThreadRun holds any JSON value): they are built from ``_common.model_fields()``, which reads
them from threadrun itself. Two honest differences from ThreadRun, which no peer offers
out of the box:

- unknown keys: ThreadRun keeps them in ``extra`` (27-key payload -> 19 fields + 8 extra);
  msgspec Structs, mashumaro, cattrs and dacite *drop* them silently by default (msgspec:
  ``forbid_unknown_fields=False``; dacite: ``Config(strict=False)``), so they do less work
  and keep less memory. The openai SDK's ``Run`` (pydantic, ``extra="allow"``) keeps them,
  and validates the nested objects (tools, usage, truncation_strategy...) into models of
  their own, which ThreadRun keeps as plain JSON values.
- checks: msgspec (strict) and dacite reject a wrong type as ThreadRun does; pydantic's
  default lax mode coerces ("7" -> 7); cattrs and mashumaro convert instead of checking
  (``str(5)`` -> "5", ``int("7")`` -> 7).

The payload (``run_payload()``) is _common.payload() with ``instructions`` set to "" instead
of null: the SDK's ``Run`` declares ``instructions: str`` and rejects null (the real API sends
the assistant's instructions, a string). Every candidate parses this same payload.

ThreadRun is immutable; these models are not, as most users write them. For reference, the
from_dict table also has mashumaro on a frozen dataclass (``RunFrozenDC``), whose generated
``__init__`` sets each field through ``object.__setattr__``: what immutability costs there.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, Dict, List, Optional, Tuple

from _common import model_fields, payload

NAMES = ("openai", "pydantic", "msgspec", "mashumaro", "cattrs", "dacite")


def run_payload() -> Dict[str, Any]:
    """The 27-key completed run of _common.payload(), instructions "" (see above)."""
    data = payload()
    data["instructions"] = ""
    return data


def version(dist: str) -> Optional[str]:
    """The installed version of a distribution, or None."""
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as _version
    except ImportError:  # Python 3.7
        try:
            module = __import__(dist)
        except ImportError:
            return None
        return getattr(module, "__version__", "?")
    try:
        return _version(dist)
    except PackageNotFoundError:
        return None


def _dataclass_fields() -> List[Tuple[str, Any, Any]]:
    fields = []
    for name, kind, default in model_fields():
        if isinstance(default, (list, dict)):
            field = dataclasses.field(default_factory=type(default))
        else:
            field = dataclasses.field(default=default)
        fields.append((name, kind, field))
    return fields


# ThreadRun's 19 fields as a plain dataclass (for dacite and cattrs), and frozen (the reference
# row of mashumaro).
RunDC = dataclasses.make_dataclass("RunDC", _dataclass_fields(), namespace={"__module__": __name__})
RunFrozenDC = dataclasses.make_dataclass(
    "RunFrozenDC", _dataclass_fields(), namespace={"__module__": __name__}, frozen=True
)


class Peers:
    """What is installed: each attribute is None when its package is missing."""

    def __init__(self) -> None:
        self.versions: Dict[str, Optional[str]] = {name: version(name) for name in NAMES}
        self.errors: Dict[str, str] = {}
        self.OpenAIRun: Any = None  # openai.types.beta.threads.Run (pydantic v2)
        self.openai: Any = None
        self.pydantic: Any = None
        self.FlatModel: Any = None  # a flat pydantic model with the same 19 fields
        self.msgspec: Any = None
        self.RunStruct: Any = None
        self.struct_decoder: Any = None
        self.mashumaro: Any = None
        self.RunMashumaro: Any = None
        self.RunMashumaroFrozen: Any = None
        self.cattrs: Any = None
        self.cattrs_converter: Any = None
        self.dacite: Any = None

    def missing(self, name: str) -> bool:
        return getattr(self, name) is None


def _try(peers: Peers, name: str, func: Any) -> None:
    try:
        func(peers)
    except ImportError:
        pass  # not installed: the attribute stays None
    except Exception as exc:  # installed but broken: report, never fail the run
        peers.errors[name] = "%s: %s" % (type(exc).__name__, exc)


def _load_openai(peers: Peers) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import openai
        from openai.types.beta.threads import Run
    peers.openai = openai
    peers.OpenAIRun = Run


def _load_pydantic(peers: Peers) -> None:
    import pydantic

    if not pydantic.VERSION.startswith("2"):
        raise ImportError("pydantic v2 needed")

    # ThreadRun's 19 fields, nested values as Any, unknown keys kept (extra="allow").
    FlatModel = pydantic.create_model(
        "FlatModel",
        __config__=pydantic.ConfigDict(extra="allow"),
        **{
            name: (kind, ... if default is dataclasses.MISSING else default)
            for name, kind, default in model_fields()
        },
    )

    peers.pydantic = pydantic
    peers.FlatModel = FlatModel


def _load_msgspec(peers: Peers) -> None:
    import msgspec

    # ThreadRun's 19 fields; unknown keys are ignored (msgspec's default).
    RunStruct = msgspec.defstruct(
        "RunStruct",
        [
            (name, kind) if default is dataclasses.MISSING else (name, kind, default)
            for name, kind, default in model_fields()
        ],
    )

    peers.msgspec = msgspec
    peers.RunStruct = RunStruct
    peers.struct_decoder = msgspec.json.Decoder(RunStruct)


def _load_mashumaro(peers: Peers) -> None:
    import mashumaro
    from mashumaro import DataClassDictMixin

    @dataclasses.dataclass
    class RunMashumaro(RunDC, DataClassDictMixin):
        """RunDC with mashumaro's generated from_dict/to_dict."""

    @dataclasses.dataclass(frozen=True)
    class RunMashumaroFrozen(RunFrozenDC, DataClassDictMixin):
        """RunFrozenDC with mashumaro's generated from_dict/to_dict."""

    peers.mashumaro = mashumaro
    peers.RunMashumaro = RunMashumaro
    peers.RunMashumaroFrozen = RunMashumaroFrozen


def _load_cattrs(peers: Peers) -> None:
    import cattrs

    peers.cattrs = cattrs
    peers.cattrs_converter = cattrs.Converter()


def _load_dacite(peers: Peers) -> None:
    import dacite

    peers.dacite = dacite


def load() -> Peers:
    """Import every installed peer; a missing one leaves None behind."""
    peers = Peers()
    for name, func in (
        ("openai", _load_openai),
        ("pydantic", _load_pydantic),
        ("msgspec", _load_msgspec),
        ("mashumaro", _load_mashumaro),
        ("cattrs", _load_cattrs),
        ("dacite", _load_dacite),
    ):
        _try(peers, name, func)
    return peers


if __name__ == "__main__":
    loaded = load()
    print("Python", sys.version.split()[0])
    for name in NAMES:
        print("  %-10s %s" % (name, loaded.versions[name] or "not installed"))
    for name, error in loaded.errors.items():
        print("  %-10s broken: %s" % (name, error))
