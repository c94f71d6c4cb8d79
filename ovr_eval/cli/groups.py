"""Option groups: options that several commands take, declared once.

A group is a dataclass whose fields are typer options: each field's annotation carries its
``typer.Option(...)`` (``Annotated[type, typer.Option(...)]``) and its default is the option's
default. A command names a group as one parameter (``judging: JudgeArgs``) and
:func:`option_groups` flattens the group's fields into the signature typer reads, one option
each, then rebuilds the group from the parsed values before the command's body runs. Called
from Python, the decorated command takes the flat keyword arguments too (``ovr sweep`` calls
``eval_command(model=..., tasks=...)``); a field left out takes its default.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any

Command = Callable[..., None]


def is_group(hint: Any) -> bool:
    """A parameter annotated with a dataclass is an option group."""
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def group_parameters(group: type) -> list[inspect.Parameter]:
    """The group's fields as keyword parameters: their resolved annotations (typer's option
    metadata kept) and defaults."""
    hints = typing.get_type_hints(group, include_extras=True)
    parameters = []
    for field in dataclasses.fields(group):
        if field.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{group.__name__}.{field.name}: an option's default is a value")
        default = inspect.Parameter.empty if field.default is dataclasses.MISSING \
            else field.default
        parameters.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY,
                                            default=default, annotation=hints[field.name]))
    return parameters


def option_groups(order: Sequence[str] = ()) -> Callable[[Command], Command]:
    """Flatten the command's option groups into the signature typer reads (typer takes
    ``inspect.signature`` and ``typing.get_type_hints`` of the command: both are set on the
    wrapper). ``order``: every option's parameter name, in the order ``--help`` lists them
    (default: each group's fields where the group's parameter stands)."""

    def decorate(command: Command) -> Command:
        hints = typing.get_type_hints(command, include_extras=True)
        flat: list[inspect.Parameter] = []
        groups: dict[str, tuple[type, list[str]]] = {}
        for param in inspect.signature(command).parameters.values():
            hint = hints[param.name]
            if is_group(hint):
                fields = group_parameters(hint)
                groups[param.name] = (hint, [f.name for f in fields])
                flat += fields
            else:
                flat.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hint))
        names = [p.name for p in flat]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise TypeError(f"{command.__name__}: two options are named {twice}")
        if order:
            if sorted(order) != sorted(names):
                raise TypeError(f"{command.__name__}: the order misses or adds "
                                f"{sorted(set(order) ^ set(names))}")
            flat.sort(key=lambda p: list(order).index(p.name))
        signature = inspect.Signature(flat, return_annotation=hints.get("return"))

        @functools.wraps(command)
        def wrapper(**values: Any) -> None:
            bound = signature.bind(**values)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            for name, (group, fields) in groups.items():
                arguments[name] = group(**{f: arguments.pop(f) for f in fields})
            command(**arguments)

        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        wrapper.__annotations__ = {**{p.name: p.annotation for p in flat},
                                   "return": signature.return_annotation}
        return wrapper

    return decorate
